"""Anchors: the parts of a text a translation must keep — numbers, URLs, code, placeholders.

Only the source of a pair has its anchors found (one regex scan for numbers; URLs, placeholders
and code fences are looked for only when a substring test says they may be there). A translation
is first checked by plain substring tests, which pass for almost every good pair; only when one
fails are the translation's own anchors found and compared. ``\\d`` would match CJK and
full-width digits in Python; nothing here relies on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from converter.kernels import NATIVE
from converter.model import Record

#: Full-width digits and separators, written as ASCII before numbers are compared.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，％", "0123456789.,%")
_FULL_WIDTH_CHARS = re.compile("[０-９]")
#: Numbers of two or more characters: ASCII digits with "." inside, not at the ends, and ","
#: where it separates thousands: after one to three digits or a group of three, before three
#: digits and no fourth, never after a "." ("10,1981" and "2019,500" are two numbers each).
_NUMBER = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9.]*[0-9])?|[0-9][0-9.]*[0-9]")
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+")
_PLACEHOLDER = re.compile(r"\[_+\]|\{[A-Za-z0-9_]*\}|%[sdif]|\$\{[A-Za-z0-9_]+\}")
#: The one placeholder without "{" or "[_" (a "%" alone is mostly a percentage).
_PRINTF = re.compile("%[sdif]")
_FENCE = "```"
#: A source's anchors looked for one by one in a translation's text, as written, at most: one
#: with more (a table, a log: thousands of numbers) has them compared with the translation's
#: own anchors as sets, in time linear in the texts (each search reads the whole text).
MAX_SEARCHED = 64
#: Digits and separators as a number may be written around another (full-width ones too: they
#: are read as ASCII when numbers are compared).
_DIGITS = "0123456789０１２３４５６７８９"
_SEPARATORS = ".,．，"


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
    if NATIVE is not None:
        found = NATIVE.anchor_parts(text)
        return NONE if found is None else Anchors(*found)
    if not text.isascii() and _FULL_WIDTH_CHARS.search(text):
        text = text.translate(_FULL_WIDTH)
    numbers, urls = numbers_in(text), _NO_STRINGS
    if "://" in text:
        urls = frozenset(u.rstrip(".,;:!?)]'") for u in _URL.findall(text))
        if numbers:  # digits inside a URL are part of the URL, not numbers of their own
            numbers -= numbers_in(" ".join(urls))
    placeholders = _NO_STRINGS
    if "{" in text or "[_" in text or ("%" in text and _PRINTF.search(text)):
        placeholders = frozenset(_PLACEHOLDER.findall(text))
    fences = text.count(_FENCE) // 2 if "`" in text else 0
    if not (numbers or urls or placeholders or fences):
        return NONE
    return Anchors(numbers, urls, placeholders, fences)


def numbers_in(text: str) -> frozenset[str]:
    """The numbers of ``text`` (see :func:`find_anchors`), full-width forms not read as ASCII."""
    found = _NUMBER.findall(text)
    if not found:
        return _NO_STRINGS
    return frozenset(n.replace(",", "") if "," in n else n for n in found)


def record_text(record: Record) -> str:
    """The record's three fields as one text, a newline between them (no anchor spans one)."""
    return f"{record.instruction}\n{record.input}\n{record.output}"


def record_anchors(record: Record) -> Anchors:
    """The anchors of a record's three fields, computed once and kept in its features."""
    if record.features is None:
        record.features = {}
    found = record.features.get("anchors")
    if found is None:
        found = find_anchors(record_text(record))
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


def searched(anchors: Anchors) -> int:
    """How many of ``anchors`` would be looked for in a translation's text one by one."""
    return len(anchors.numbers) + len(anchors.urls) + len(anchors.placeholders)


def whole_number_in(text: str, number: str) -> bool:
    """Whether ``text`` holds ``number`` as a whole number, not as part of a longer one ("12"
    is not in "2012" nor in "12.5")."""
    at = text.find(number)
    while at >= 0:
        if not (_joins(text, at - 1, -1) or _joins(text, at + len(number), 1)):
            return True
        at = text.find(number, at + 1)
    return False


def _joins(text: str, at: int, step: int) -> bool:
    """Whether the character at ``at`` continues a number: a digit, or a separator before one."""
    if not 0 <= at < len(text):
        return False
    char = text[at]
    if char in _DIGITS:
        return True
    beyond = at + step
    return char in _SEPARATORS and 0 <= beyond < len(text) and text[beyond] in _DIGITS


if NATIVE is not None:
    NATIVE.anchor_rules(MAX_SEARCHED)
#: The compiled twin where built (the same results).
holds_number: Callable[[str, str], bool] = NATIVE.holds_number if NATIVE else whole_number_in


def lost_in(source: Anchors, target: Record) -> list[str]:
    """Anchors of ``source`` that the translation ``target`` lost (see ``missing``).

    Substring tests first: when every anchor of the source appears in the target as written,
    nothing was lost. Only otherwise are the target's own anchors found and compared.
    """
    if not source:
        return []
    text = record_text(target)
    if searched(source) > MAX_SEARCHED:
        return missing(source, find_anchors(text))
    kept = all(holds_number(text, n) for n in source.numbers) and all(
        token in text for token in (*source.urls, *source.placeholders)
    )
    if kept and source.fences:
        kept = text.count(_FENCE) // 2 >= source.fences
    return [] if kept else missing(source, find_anchors(text))
