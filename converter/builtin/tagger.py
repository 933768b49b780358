"""Built-in tagger: ``seq`` (index + language suffix) and the language's ``reasoning`` sentence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from converter import hookimpl
from converter.model import Language, Record


@hookimpl(tryfirst=True)
def make_tagger(languages: Sequence[Language], options: dict[str, Any]) -> Callable[[Record], None]:
    """Tag each record with ``seq`` = ``<prefix><index><SUFFIX>`` and the reasoning sentence."""
    prefix = options.get("seq_prefix", "")
    by_code = {lang.code: (lang.suffix, lang.reasoning) for lang in languages}

    def tag(record: Record) -> None:
        suffix, reasoning = by_code[record.lang]
        record.seq = f"{prefix}{record.index}{suffix}"
        record.reasoning = reasoning

    return tag
