"""Anchors: the parts of a text a translation must keep — numbers, URLs, code, placeholders.

Computed once per record, with C-speed passes only: numbers come from the UTF-8 bytes with
every byte but digits and separators blanked by one ``bytes.translate``, then split (a regex
scan costs several times more); URLs, placeholders and code fences are looked for only when
a substring test says they may be there. ``\\d`` would match CJK and full-width digits in
Python; nothing here relies on it.
"""

from __future__ import annotations

import re
from operator import methodcaller
from typing import NamedTuple

from converter.model import Record

#: Full-width digits and separators, written as ASCII before numbers are compared.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，％", "0123456789.,%")
_FULL_WIDTH_CHARS = re.compile("[０-９]")
#: Keeps ASCII digits, "." and ","; every other byte (letters, UTF-8 of CJK) becomes a space.
_DIGITS_ONLY = bytes(c if chr(c) in "0123456789.," else 32 for c in range(256))
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
_NO_STRINGS: frozenset[str] = frozenset()


def find_anchors(text: str) -> Anchors:
    """The anchors of ``text``: numbers of two or more digits (single digits are list markers
    and counters as often as quantities) without thousands separators, URLs without trailing
    punctuation, placeholders such as ``[__]``, ``{x}``, ``%s``, and code fences."""
    data = text.encode("utf-8", "surrogatepass")
    if b"\xef\xbc" in data and _FULL_WIDTH_CHARS.search(text):  # U+FF00 block
        text = text.translate(_FULL_WIDTH)
        data = text.encode("utf-8", "surrogatepass")
    numbers, urls = _numbers(data), _NO_STRINGS
    if b"://" in data:
        urls = frozenset(u.rstrip(".,;:!?)]'") for u in _URL.findall(text))
        if numbers:  # digits inside a URL are part of the URL, not numbers of their own
            numbers -= _numbers(" ".join(urls).encode("utf-8", "surrogatepass"))
    placeholders = _NO_STRINGS
    if "{" in text or "%" in text or "[_" in text:
        placeholders = frozenset(_PLACEHOLDER.findall(text))
    fences = text.count(_FENCE) // 2 if "`" in text else 0
    if not (numbers or urls or placeholders or fences):
        return NONE
    return Anchors(numbers, urls, placeholders, fences)


def _numbers(data: bytes) -> frozenset[str]:
    tokens = filter(None, map(_strip_separators, data.translate(_DIGITS_ONLY).split()))
    found = {
        number.decode() for number in (t.replace(b",", b"") for t in tokens) if len(number) > 1
    }
    return frozenset(found) if found else _NO_STRINGS


_strip_separators = methodcaller("strip", b".,")


def record_anchors(record: Record) -> Anchors:
    """The anchors of a record's three fields, computed once and kept in its features."""
    if record.features is None:
        record.features = {}
    found = record.features.get("anchors")
    if found is None:
        found = find_anchors(f"{record.instruction}\n{record.input}\n{record.output}")
        record.features["anchors"] = found
    return found


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
