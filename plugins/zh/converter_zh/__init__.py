"""Chinese for converter: the ``zh`` language and a Simplified/Traditional tag on its records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from converter import Language, Record, hookimpl
from converter.langid import classify

__version__ = "0.1.0"

CHINESE = Language(
    code="zh",
    name="Chinese",
    suffix="ZH",
    reasoning="AI assistant should reply in Chinese language.",
    scripts=frozenset({"zh"}),
)


def zh_script(text: str) -> str:
    """``Hans`` (more Simplified-only characters), ``Hant`` (more Traditional-only ones) or
    ``either`` (no character tells them apart, e.g. ``你好``)."""
    return classify(text).variant or "either"


def tag_script(record: Record) -> None:
    """Set ``tags["zh_script"]`` on a Chinese record, judged on its instruction and output."""
    if record.lang == CHINESE.code:
        record.tags["zh_script"] = zh_script(f"{record.instruction}\n{record.output}")


@hookimpl
def register_languages(register: Callable[[Language], None]) -> None:
    """Register Chinese (``zh``, seq suffix ``ZH``)."""
    register(CHINESE)


@hookimpl
def make_tagger(
    languages: Sequence[Language], options: dict[str, Any]
) -> Callable[[Record], None] | None:
    """Tag Chinese records with ``zh_script``; stay out of runs without Chinese or that use no
    tags (neither ``--keep-tags`` nor a ``--where`` on a tag: classifying would be wasted)."""
    used = options.get("tags_used", options.get("keep_tags"))  # (keep_tags: older converters)
    if all(lang.code != CHINESE.code for lang in languages) or not used:
        return None
    return tag_script
