"""Built-in languages: English and Japanese, the seed workflow's pair."""

from __future__ import annotations

from collections.abc import Callable

from converter import hookimpl
from converter.model import Language

ENGLISH = Language(
    code="en",
    name="English",
    suffix="EN",
    reasoning="AI assistant should reply in English language.",
    scripts=frozenset({"latin"}),
)
JAPANESE = Language(
    code="ja",
    name="Japanese",
    suffix="JA",
    reasoning="AI assistant should reply in Japanese language.",
    scripts=frozenset({"ja"}),
)


@hookimpl
def register_languages(register: Callable[[Language], None]) -> None:
    """Register English (``en``, ``EN``) and Japanese (``ja``, ``JA``)."""
    register(ENGLISH)
    register(JAPANESE)
