"""Checks on converter output that a per-record schema cannot express, in bounded memory.

* ``seq`` is unique in the file: one bit per index for each stage prefix and language suffix
  (a million indexes cost 125 KB), and past :data:`BITMAP_BUDGET` an exact on-disk set;
* within each stage prefix every index has the same languages in the same order: the records
  of one index are consecutive, and each index's suffixes are compared with the first index's;
* ``reasoning`` is the sentence of the language named by the ``seq`` suffix;
* every language asked for (``--languages en,ja``) is present at every index.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from converter.errors import UsageError
from converter.model import Language
from converter.plugins import build_manager, build_registry
from converter.seen import SeenSet, key_of
from converter.validation import cut, schema_path

#: Bundled schemas of converter output: these checks apply to them.
OUTPUT_SCHEMAS = frozenset({"record", "record-tags"})
#: ``[<stage>/]<index><SUFFIX>``: the output schema's ``seq`` pattern (use ``fullmatch``).
SEQ = re.compile(json.loads(schema_path("record").read_bytes())["properties"]["seq"]["pattern"])
#: Bits of index bitmaps kept in memory across all prefixes and suffixes (32 MiB).
BITMAP_BUDGET = 1 << 28

#: A finding: record index, JSONL line, kind, JSON pointer, message.
Issue = tuple[int, "int | None", str, str, str]
NONE: tuple[Issue, ...] = ()
DIGITS = "0123456789"


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
    :meth:`check_any` (the others), then call :meth:`finish` and :meth:`close`.

    Per record the work is a split of ``seq``, a comparison and a bit; the rest is per group.
    """

    def __init__(self, languages: Iterable[Language], required: Iterable[Language] = ()) -> None:
        self.by_suffix: Mapping[str, Language] = {lang.suffix: lang for lang in languages}
        self.reasoning = {suffix: lang.reasoning for suffix, lang in self.by_suffix.items()}
        self.required = tuple(lang.suffix for lang in required)
        self.seen = _SeenSeqs()
        #: stage prefix -> (index, suffixes) of its first index group
        self.references: dict[str, tuple[int, list[str]]] = {}
        self.key: str | None = None  # the current group's seq without its suffix
        self.prefix, self.number = "", 0
        self.start: tuple[int, int | None] = (0, None)
        self.suffixes: list[str] = []
        self.reference: list[str] | None = None  # the current prefix's first group, if complete
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

    def check_any(self, index: int, line: int | None, obj: Any) -> tuple[Issue, ...]:
        """:meth:`check` for a record that failed the schema: skipped unless its seq is fine."""
        seq = obj.get("seq") if type(obj) is dict else None
        if type(seq) is not str or SEQ.fullmatch(seq) is None:
            return NONE  # the schema reports it
        return self.check(index, line, obj)

    def finish(self) -> tuple[Issue, ...]:
        """Findings for the last index group."""
        issues = self._close_group() if self.key is not None else NONE
        self.key = None
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
            self.reference = self._complete(self.references.get(prefix))
        self.key, self.start, self.suffixes = key, (index, line), []
        self.number = number = int(key[slash + 1 :])
        self.byte, self.mask = number >> 3, 1 << (number & 7)
        return issues

    def _complete(self, reference: tuple[int, list[str]] | None) -> list[str] | None:
        """The reference suffixes, if they hold every required language (else None)."""
        if reference is None or any(s not in reference[1] for s in self.required):
            return None
        return reference[1]

    def _close_group(self) -> tuple[Issue, ...]:
        """Compare the group just read with its prefix's first group and the required ones."""
        found = self.suffixes
        reference = self.references.setdefault(self.prefix, (self.number, found))
        if self.reference is None:
            self.reference = self._complete(reference)
        missing = [suffix for suffix in self.required if suffix not in found]
        if not missing and found == reference[1]:
            return NONE
        stage = f"stage {self.prefix!r}, " if self.prefix else ""
        if missing:
            kind = "missing-language"
            message = f"{stage}index {self.number} lacks {_names(missing)} (has {_names(found)})"
        else:
            kind = "languages"
            message = (
                f"{stage}index {self.number} has {_names(found)}; "
                f"index {reference[0]} has {_names(reference[1])}"
            )
        return ((*self.start, kind, "/seq", message),)

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
