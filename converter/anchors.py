"""Anchors: the parts of a text a translation must keep — numbers, URLs, code, placeholders.

Computed once per record; cheap first (a text without digits, ``://``, braces, ``%``, ``[`` or
backticks has no anchors and costs one regex scan). ``\\d`` and ``\\w`` match CJK and
full-width characters in Python, so every class here is spelled out.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: Full-width digits and separators, written as ASCII before numbers are compared.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，％", "0123456789.,%")
_MAYBE = re.compile(r"[0-9０-９%\[{`]|://")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])[0-9]+(?:[.,][0-9]+)*")
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+")
_PLACEHOLDER = re.compile(r"\[_+\]|\{[A-Za-z0-9_]*\}|%[sdif]|\$\{[A-Za-z0-9_]+\}")
_FENCE = "```"


class Anchors(NamedTuple):
    """What a text holds that its translation must hold too."""

    numbers: frozenset[str] = frozenset()
    urls: frozenset[str] = frozenset()
    placeholders: frozenset[str] = frozenset()
    fences: int = 0

    def __bool__(self) -> bool:
        return bool(self.numbers or self.urls or self.placeholders or self.fences)


NONE = Anchors()


def find_anchors(text: str) -> Anchors:
    """The anchors of ``text``: numbers of two or more characters (single digits are list
    markers and counters as often as quantities) without thousands separators, URLs without
    trailing punctuation, placeholders such as ``[__]``, ``{x}``, ``%s``, and code fences."""
    if not _MAYBE.search(text):
        return NONE
    text = text.translate(_FULL_WIDTH)
    urls = frozenset(u.rstrip(".,;:!?)]'") for u in _URL.findall(text))
    bare = _URL.sub(" ", text) if urls else text
    numbers = frozenset(
        n for n in (m.replace(",", "") for m in _NUMBER.findall(bare)) if len(n) > 1
    )
    return Anchors(numbers, urls, frozenset(_PLACEHOLDER.findall(bare)), text.count(_FENCE) // 2)


def missing(source: Anchors, target: Anchors) -> list[str]:
    """Anchors of ``source`` that ``target`` lacks, as short descriptions.

    Numbers count as lost only when more are missing than the target has numbers of its own:
    a translation often writes "1.7 billion" as "17億", a different number, not a lost one.
    """
    if not source:
        return []
    found = []
    lost = source.numbers - target.numbers
    if len(lost) > len(target.numbers - source.numbers):  # else likely re-expressed
        found += [f"number {n}" for n in sorted(lost)]
    for kind, have, want in (
        ("URL", target.urls, source.urls),
        ("placeholder", target.placeholders, source.placeholders),
    ):
        found += [f"{kind} {item}" for item in sorted(want - have)]
    if target.fences < source.fences:
        found.append(f"code block ({source.fences} in the source, {target.fences} here)")
    return found
