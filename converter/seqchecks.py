"""Checks on converter output that a per-record schema cannot express, in bounded memory.

* ``seq`` is unique in the file: one bit per index for each stage prefix and language suffix
  (a million indexes cost 125 KB), and past :data:`BITMAP_BUDGET` an exact on-disk set;
* within each stage prefix every index has the same languages in the same order: the records
  of one index are consecutive, and each index's suffixes are compared with a reference index's:
  the first (with every required language) whose languages a later index repeats, so that a
  broken first index is the one flagged, not every other;
* ``reasoning`` is the sentence of the language named by the ``seq`` suffix;
* every language asked for (``--languages en,ja``) is present at every index.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice, repeat
from operator import itemgetter, lt
from typing import Any, NamedTuple

from converter.errors import UsageError
from converter.model import Language
from converter.plugins import build_manager, build_registry
from converter.seen import SeenSet, key_of
from converter.validation import cut, schema_path

#: Bundled schemas of converter output: these checks apply to them.
OUTPUT_SCHEMAS = frozenset({"record", "record-tags"})
#: ``[<stage>/]<index><SUFFIX>``: the output schema's ``seq`` pattern (use ``fullmatch``).
SEQ = re.compile(json.loads(schema_path("record").read_bytes())["properties"]["seq"]["pattern"])
#: Index groups, each with languages of its own, that may wait for a reference group.
UNCONFIRMED = 8
#: Bits of index bitmaps kept in memory across all prefixes and suffixes (32 MiB).
BITMAP_BUDGET = 1 << 28

#: A finding: record index, JSONL line, kind, JSON pointer, message.
Issue = tuple[int, "int | None", str, str, str]
NONE: tuple[Issue, ...] = ()
DIGITS = "0123456789"
_SEQ, _REASONING = itemgetter("seq"), itemgetter("reasoning")


def checks_for(
    schema: str, languages: Sequence[str] = (), plugins: Sequence[str] = ()
) -> Callable[[], SeqChecks] | None:
    """A factory of per-file checks for ``schema``, or None when it is not converter output.

    The languages (suffixes and reasoning sentences) come from the plugins, built-in and
    ``plugins``; ``languages`` (codes) must be present at every index. UsageError if unknown.
    """
    if schema not in OUTPUT_SCHEMAS:
        if languages:
            raise UsageError("--languages checks converter output (--schema record or record-tags)")
        return None
    registry = build_registry(build_manager(plugins))
    unknown = [code for code in languages if code not in registry.languages]
    if unknown:
        known = ", ".join(sorted(registry.languages))
        raise UsageError(f"unknown language {unknown[0]!r} in --languages; known: {known}")
    required = [registry.languages[code] for code in languages]
    return lambda: SeqChecks(registry.languages.values(), required)


class SeqChecks:
    """Feed every record in file order to :meth:`check` (records that passed the schema) or
    :meth:`check_any` (the others), or a run of valid ones to :meth:`check_batch`, then call
    :meth:`finish` and :meth:`close`.

    Per record the work is a split of ``seq``, a comparison and a bit; the rest is per group.
    A regular batch is checked with list operations that run in C, its bits set a byte at a time.
    """

    def __init__(self, languages: Iterable[Language], required: Iterable[Language] = ()) -> None:
        self.by_suffix: Mapping[str, Language] = {lang.suffix: lang for lang in languages}
        self.reasoning = {suffix: lang.reasoning for suffix, lang in self.by_suffix.items()}
        self.required = tuple(lang.suffix for lang in required)
        self.seen = _SeenSeqs()
        #: stage prefix -> its reference index group
        self.references: dict[str, _Reference] = {}
        #: the prefixes whose groups wait for a reference (their findings may come late)
        self.waiting: set[str] = set()
        self.tops: dict[str, int] = {}  # stage prefix -> its highest index so far
        self.key: str | None = None  # the current group's seq without its suffix
        self.prefix, self.number = "", 0
        self.start: tuple[int, int | None] = (0, None)
        self.suffixes: list[str] = []
        self.reference: list[str] | None = None  # the current prefix's reference, once confirmed
        self.bits = self.seen.bitmaps_of("")
        self.byte, self.mask = 0, 1

    def check(self, index: int, line: int | None, obj: Any) -> tuple[Issue, ...]:
        """Findings for record ``index``, whose ``seq`` matches the schema's pattern (and for
        the index group it closes, if any)."""
        seq = obj["seq"]
        slash = seq.rfind("/")
        suffix = seq[slash + 1 :].lstrip(DIGITS)
        key = seq[: len(seq) - len(suffix)]
        issues = NONE
        if key != self.key:
            issues = self._next_group(key, slash, index, line)
        self.suffixes.append(suffix)
        if self.reasoning.get(suffix) != obj.get("reasoning"):
            issues += self._language_issue(index, line, suffix, obj)
        bits = self.bits.get(suffix)  # _SeenSeqs.add inlined: this runs for every record
        if bits is None or self.byte >= len(bits):
            new = self.seen.add(self.prefix, suffix, self.number, seq)
        elif bits[self.byte] & self.mask:
            new = False
        else:
            bits[self.byte] |= self.mask
            new = True
        if not new:
            issues += ((index, line, "duplicate-seq", "/seq", f"{seq!r} occurs earlier"),)
        return issues

    def check_batch(self, index: int, line: int | None, values: list[Any]) -> bool:
        """:meth:`check` for records ``index``, ``index + 1``, ... (JSON Lines from ``line``)
        that passed the schema, all at once when they go on as the stage's first index group
        set out: its languages in its order, the right reasoning sentences, every new index
        above all earlier ones. True then (nothing to report, and the state is as if
        :meth:`check` had seen each); False, with nothing done, to leave them to :meth:`check`.
        """
        reference, done = self.reference, len(self.suffixes)
        if reference is None or not done or self.suffixes != reference[:done]:
            return False
        k, n = len(reference), len(values)
        if len(set(reference)) != k:
            return False
        reasons = [self.reasoning.get(suffix) for suffix in reference]
        offset = done % k  # the place in a group of values[0]
        head = (k - offset) % k  # records that end the current group
        times = (offset + n) // k + 1
        try:
            if list(map(_REASONING, values)) != (reasons * times)[offset : offset + n]:
                return False
            keys = list(map(str.removesuffix, map(_SEQ, values), (reference * times)[offset:]))
        except KeyError:
            return False
        starts = keys[head::k]  # the key of each new group
        if keys[:head] != [self.key] * min(head, n) or any(
            keys[head + r :: k] != starts[: len(range(head + r, n, k))] for r in range(1, k)
        ):
            return False
        numbers = self._numbers(starts)
        if numbers is None or (numbers and numbers[0] <= self.tops[self.prefix]):
            return False  # not rising above every index so far: uniqueness needs the bits
        top = numbers[-1] if numbers else self.number
        ending = reference[done : done + min(head, n)]  # the current group's other languages
        for suffix in reference:
            bits = self.bits.get(suffix)
            if bits is None or len(bits) <= top >> 3:
                return False  # not in the bitmaps (yet)
            if suffix in ending and bits[self.byte] & self.mask:
                return False
        for r, suffix in enumerate(reference):  # all new: set their bits
            bits = self.bits[suffix]
            if suffix in ending:
                bits[self.byte] |= self.mask
            _set_bits(bits, numbers[: len(range(head + r, n, k))])
        if not starts:
            self.suffixes.extend(reference[done : done + n])
            return True
        last = head + (len(starts) - 1) * k
        self.key, self.suffixes = starts[-1], reference[: n - last]
        self.start = (index + last, None if line is None else line + last)
        self.number = self.tops[self.prefix] = top
        self.byte, self.mask = top >> 3, 1 << (top & 7)
        return True

    def _numbers(self, keys: list[str]) -> list[int] | None:
        """The index of each key (``[<stage>/]<index>`` in the current stage), rising; else None."""
        if self.prefix:
            stage = self.prefix + "/"
            if not all(map(str.startswith, keys, repeat(stage))):
                return None
            keys = list(map(itemgetter(slice(len(stage), None)), keys))
        digits = "".join(keys)
        if "" in keys or (keys and not (digits.isascii() and digits.isdigit())):
            return None
        numbers = list(map(int, keys))
        return numbers if all(map(lt, numbers, islice(numbers, 1, None))) else None

    def check_any(self, index: int, line: int | None, obj: Any) -> tuple[Issue, ...]:
        """:meth:`check` for a record that failed the schema: skipped unless its seq is fine."""
        seq = obj.get("seq") if type(obj) is dict else None
        if type(seq) is not str or SEQ.fullmatch(seq) is None:
            return NONE  # the schema reports it
        return self.check(index, line, obj)

    def unsettled(self) -> int:
        """The first record that may still get a group finding: 0 while a stage's groups wait
        for their reference, else the open group's first record (none open: past them all)."""
        if self.waiting:
            return 0
        return self.start[0] if self.key is not None else sys.maxsize

    def finish(self) -> tuple[Issue, ...]:
        """Findings for the last index group, and for groups still waiting for a reference
        (the first of them is taken)."""
        issues = self._close_group() if self.key is not None else NONE
        self.key = None
        for prefix, reference in self.references.items():
            if reference.group is None and reference.pending:
                issues += self._confirm(prefix, reference, reference.pending[0])
        return issues

    def close(self) -> None:
        """Release the on-disk set, if one was made."""
        self.seen.close()

    def _next_group(self, key: str, slash: int, index: int, line: int | None) -> tuple[Issue, ...]:
        issues = NONE
        if self.key is not None and (self.suffixes != self.reference or not self.reference):
            issues = self._close_group()
        prefix = key[:slash] if slash >= 0 else ""
        if prefix != self.prefix:
            self.prefix, self.bits = prefix, self.seen.bitmaps_of(prefix)
            reference = self.references.get(prefix)
            self.reference = reference.group.suffixes if reference and reference.group else None
        self.key, self.start, self.suffixes = key, (index, line), []
        self.number = number = int(key[slash + 1 :])
        if number > self.tops.get(prefix, -1):
            self.tops[prefix] = number
        self.byte, self.mask = number >> 3, 1 << (number & 7)
        return issues

    def _close_group(self) -> tuple[Issue, ...]:
        """Judge the group just read: the required languages, then its prefix's reference."""
        found, prefix = self.suffixes, self.prefix
        missing = [suffix for suffix in self.required if suffix not in found]
        if missing:
            message = f"index {self.number} lacks {_names(missing)} (has {_names(found)})"
            return (_issue(prefix, self.start, "missing-language", message),)
        group = _Group(self.number, found, self.start)
        reference = self.references.setdefault(prefix, _Reference())
        if reference.group is not None:
            same = found == reference.group.suffixes
            return NONE if same else (_differs(prefix, group, reference.group),)
        for earlier in reference.pending:
            if earlier.suffixes == found:
                return self._confirm(prefix, reference, earlier)
        reference.pending.append(group)
        self.waiting.add(prefix)
        if len(reference.pending) > UNCONFIRMED:
            return self._confirm(prefix, reference, reference.pending[0])
        return NONE

    def _confirm(self, prefix: str, reference: _Reference, chosen: _Group) -> tuple[Issue, ...]:
        """Take ``chosen`` as the prefix's reference group; the findings of the groups that
        waited for one and differ from it."""
        reference.group, waited, reference.pending = chosen, reference.pending, []
        self.waiting.discard(prefix)
        if prefix == self.prefix:
            self.reference = chosen.suffixes
        return tuple(_differs(prefix, group, chosen) for group in waited if group is not chosen)

    def _language_issue(
        self, index: int, line: int | None, suffix: str, obj: Any
    ) -> tuple[Issue, ...]:
        """An unknown suffix, or a reasoning sentence of another language (a reasoning that
        is missing or not a string is the schema's to report)."""
        lang = self.by_suffix.get(suffix)
        if lang is None:
            known = ", ".join(self.by_suffix)
            message = f"suffix {suffix!r} is no registered language (known: {known})"
            return ((index, line, "unknown-language", "/seq", message),)
        reasoning = obj.get("reasoning")
        if type(reasoning) is not str:
            return NONE
        message = (
            f"{cut(repr(reasoning), 80)} does not fit {lang.name} ({obj['seq']}); "
            f"expected {lang.reasoning!r}"
        )
        return ((index, line, "reasoning", "/reasoning", message),)


def _set_bits(bits: bytearray, numbers: list[int]) -> None:
    """Set the bits of ``numbers`` (rising); a run without gaps a byte at a time."""
    if not numbers:
        return
    low, high = numbers[0], numbers[-1] + 1
    if high - low != len(numbers):
        for number in numbers:
            bits[number >> 3] |= 1 << (number & 7)
        return
    while low < high and low & 7:
        bits[low >> 3] |= 1 << (low & 7)
        low += 1
    whole = high & ~7
    if low < whole:
        bits[low >> 3 : whole >> 3] = b"\xff" * ((whole - low) >> 3)
        low = whole
    while low < high:
        bits[low >> 3] |= 1 << (low & 7)
        low += 1


class _Group(NamedTuple):
    """An index group: its index, its languages' suffixes in order, its first record."""

    number: int
    suffixes: list[str]
    start: tuple[int, int | None]


@dataclass
class _Reference:
    """A stage prefix's reference group, once one is taken: the first group whose languages a
    later group repeats. Until then the groups read wait in ``pending`` (each with languages of
    its own; at most UNCONFIRMED, then the first is taken)."""

    group: _Group | None = None
    pending: list[_Group] = field(default_factory=list)


def _differs(prefix: str, group: _Group, reference: _Group) -> Issue:
    """The finding of ``group``, whose languages differ from the reference group's."""
    message = (
        f"index {group.number} has {_names(group.suffixes)}; "
        f"index {reference.number} has {_names(reference.suffixes)}"
    )
    return _issue(prefix, group.start, "languages", message)


def _issue(prefix: str, start: tuple[int, int | None], kind: str, message: str) -> Issue:
    """A group finding at the group's first record; the stage named when it has one."""
    stage = f"stage {prefix!r}, " if prefix else ""
    return (*start, kind, "/seq", stage + message)


def _names(suffixes: Iterable[str]) -> str:
    return ", ".join(suffixes) or "none"


class _SeenSeqs:
    """Which ``seq`` values occurred: index bitmaps per (prefix, suffix), else a disk-backed set.

    :class:`SeqChecks` tests and sets the bits itself while they fit and calls :meth:`add`
    otherwise. A bitmap grows (doubling) while the budget lasts; once refused it stays as it is,
    so every index has one fixed home: its bitmap if it fits, the disk-backed set if not.
    """

    def __init__(self) -> None:
        self.bitmaps: dict[str, dict[str, bytearray]] = {}
        self.frozen: set[tuple[str, str]] = set()
        self.bits_left = BITMAP_BUDGET
        self.overflow: SeenSet | None = None

    def bitmaps_of(self, prefix: str) -> dict[str, bytearray]:
        """The bitmaps of one stage prefix, by suffix."""
        return self.bitmaps.setdefault(prefix, {})

    def add(self, prefix: str, suffix: str, index: int, seq: str) -> bool:
        """Remember ``seq``; False if it was there already."""
        bits = self._grow(prefix, suffix, index >> 3)
        if bits is None:
            if self.overflow is None:
                self.overflow = SeenSet()
            return self.overflow.first_seen(key_of(seq), 0) is None
        mask = 1 << (index & 7)
        if bits[index >> 3] & mask:
            return False
        bits[index >> 3] |= mask
        return True

    def _grow(self, prefix: str, suffix: str, byte: int) -> bytearray | None:
        """The bitmap, grown to hold ``byte`` if the budget allows; None if it cannot."""
        bits = self.bitmaps_of(prefix).setdefault(suffix, bytearray())
        if byte < len(bits):
            return bits
        if (prefix, suffix) in self.frozen:
            return None
        more = max(byte + 1, 2 * len(bits), 1 << 12) - len(bits)
        if more * 8 > self.bits_left:
            self.frozen.add((prefix, suffix))
            return None
        self.bits_left -= more * 8
        bits.extend(bytes(more))
        return bits

    def close(self) -> None:
        """Drop the on-disk set."""
        if self.overflow is not None:
            self.overflow.close()
            self.overflow = None
