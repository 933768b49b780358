"""Built-in interleaver: each group in the order the sources were given (EN then JA ...)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from converter import hookimpl
from converter.model import Language, Record


def _source_order(group: list[Record]) -> list[Record]:
    return group


@hookimpl(trylast=True)
def make_interleaver(languages: Sequence[Language]) -> Callable[[list[Record]], list[Record]]:
    """Keep each group in source order; any plugin returning an interleaver overrides this."""
    return _source_order
