"""Planning: index ranges of K groups aligned across all sources, with the byte spans of each.

Every source is one or more plain JSON Lines files (one file, a list of shards, or a
``shards.json`` made by ``convert shard``). One pass per file finds the byte offset of every
K-th record with a newline scan, no JSON parse, counting records exactly as the JSON Lines reader
does: after the BOM and the leading whitespace every line is a record unless it holds only
ASCII whitespace; a last line without a newline counts; line numbers start at 1 on the first
record. Range r covers the groups [r*K, min((r+1)*K, total)); for each source it lists the
spans (file, byte start, byte end, first line, records) holding them, across shard files.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from typing import Any

import orjson

from converter.compression import compression_of
from converter.errors import InputError
from converter.inputs import open_input
from converter.kernels import NATIVE
from converter.scale.shard import SHARDS_INDEX

#: Bytes scanned at a time.
SCAN_BYTES = 1 << 20
#: A newline followed by a line of ASCII whitespace only (``bytes.isspace``): a blank line.
_BLANK_NEXT = re.compile(rb"\n(?=[ \t\r\x0b\x0c]*\n)")
_BLANK_HEAD = re.compile(rb"[ \t\r\x0b\x0c]*\n")


def line_counts(data: bytes, end: int) -> tuple[int, int]:
    """The lines and the blank lines among the whole lines ``data[:end]``. The compiled count
    (bytes.count goes a byte at a time) also says whether a newline is followed by whitespace
    anywhere: only then can a line be blank after the first."""
    if NATIVE is not None:
        lines, spaced = NATIVE.newlines(data, end)
    else:
        lines, spaced = data.count(b"\n", 0, end), True
    blank = len(_BLANK_NEXT.findall(data, 0, end)) if spaced else 0
    return lines, blank + (1 if _BLANK_HEAD.match(data, 0, end) else 0)


def _line_starts(data: bytes, first: int, every: int, lines: int) -> list[int]:
    """Where lines ``first``, ``first + every``, ... (before line ``lines``) of ``data``
    start, counting from line 0 at offset 0."""
    starts, at, done = [], 0, 0
    for line in range(first, lines, every):
        for _ in range(line - done):
            at = data.find(b"\n", at) + 1
        done = line
        starts.append(at)
    return starts


#: The compiled twin where built (a memchr a line instead of a Python call).
line_starts = NATIVE.line_starts if NATIVE else _line_starts


@dataclass(frozen=True)
class Mark:
    """Where record ``index`` (of the whole source) starts in a file: byte offset and line."""

    index: int
    offset: int
    line: int


@dataclass(frozen=True)
class FileIndex:
    """One scanned file: size, the offset of its first record, its count and marks."""

    path: str
    size: int
    first_index: int
    start: int
    records: int
    marks: tuple[Mark, ...]

    def mark(self, index: int) -> Mark:
        """The mark of record ``index``; it must be a multiple of K inside this file."""
        if index == self.first_index:
            return Mark(index, self.start, 1)
        found = self.marks[bisect_left(self.marks, index, key=_INDEX)]
        assert found.index == index, (found, index)
        return found


_INDEX = attrgetter("index")


@dataclass(frozen=True)
class Span:
    """Part of one file: ``records`` records from byte ``start`` (on line ``line``) on.

    ``end`` is where the next range starts in this file, or the file's end: when a source is
    cut short (``--limit``, the shortest of unequal sources) reading stops after ``records``.
    """

    path: str
    start: int
    end: int
    line: int
    records: int


@dataclass(frozen=True)
class Range:
    """Groups [start, stop) and, per source (in source order), the spans holding them."""

    number: int
    start: int
    stop: int
    spans: tuple[tuple[Span, ...], ...]


@dataclass
class SourcePlan:
    """One source: its language, what it was given as, its files and record count."""

    lang: str
    given: str
    files: list[FileIndex]

    @property
    def records(self) -> int:
        """Records in all its files."""
        return sum(f.records for f in self.files)


@dataclass
class Plan:
    """The ranges of one run, aligned across its sources."""

    every: int
    sources: list[SourcePlan]
    groups: int
    ranges: list[Range] = field(default_factory=list)

    def check_equal(self) -> None:
        """InputError naming the shorter sources when the record counts differ (as
        ``convert stream`` says it); the caller decides (``--unequal shortest`` does not ask)."""
        counts = [s.records for s in self.sources]
        done = min(counts)
        if done == max(counts):
            return
        short = ", ".join(f"{s.lang}={s.given}" for s in self.sources if s.records == done)
        longer = ", ".join(f"{s.lang}={s.given}" for s in self.sources if s.records > done)
        raise InputError(
            f"{short}: ends after {done:,} records but {longer} has more; "
            f"pair the first {done:,} with --unequal shortest (or --limit {done})"
        )

    def unpaired(self) -> dict[str, int]:
        """Records of each source beyond the planned groups."""
        return {s.lang: s.records - self.groups for s in self.sources}

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON: sources with their counts, and every range with its spans."""
        return {
            "every": self.every,
            "groups": self.groups,
            "sources": [
                {
                    "lang": s.lang,
                    "given": s.given,
                    "records": s.records,
                    "files": [
                        {"path": f.path, "size": f.size, "records": f.records} for f in s.files
                    ],
                }
                for s in self.sources
            ],
            "ranges": [asdict(r) for r in self.ranges],
        }


def source_files(given: str) -> list[str]:
    """The files of a source: a ``shards.json`` (or the folder holding one) lists its shards,
    any other path is the one file."""
    index = os.path.join(given, SHARDS_INDEX) if os.path.isdir(given) else given
    if os.path.basename(index) != SHARDS_INDEX:
        return [given]
    try:
        with open(index, "rb") as f:
            document = orjson.loads(f.read())
        names = [entry["file"] for entry in document["shards"]]
    except FileNotFoundError:
        raise InputError(f"{index}: no such file") from None
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{index}: not a shards.json made by convert shard: {exc}") from None
    folder = os.path.dirname(index)
    return [os.path.join(folder, name) for name in names]


def plan(
    sources: Sequence[tuple[str, str | Sequence[str]]],
    every: int,
    limit: int | None = None,
    first_only: bool = False,
) -> Plan:
    """Scan every source (``(lang, path or shards.json or [files...])``) and cut the groups
    into ranges of ``every``; ``limit`` plans only the first groups. Groups are paired up to
    the shortest source: call :meth:`Plan.check_equal` to refuse unequal sources. With
    ``first_only`` (pairing by key) the groups are the first source's records and the ranges
    hold its spans only."""
    if every < 1:
        raise ValueError(f"a range holds at least one group, got {every}")
    scanned = []
    for lang, given in sources:
        files = source_files(given) if isinstance(given, str) else list(given)
        label = given if isinstance(given, str) else ",".join(given)
        indexes: list[FileIndex] = []
        for path in files:
            first = sum(f.records for f in indexes)
            indexes.append(index_file(path, every, first))
        scanned.append(SourcePlan(lang, label, indexes))
    paired = scanned[:1] if first_only else scanned
    groups = min(s.records for s in paired)
    if limit is not None:
        groups = min(groups, limit)
    result = Plan(every, scanned, groups)
    for number, start in enumerate(range(0, groups, every)):
        stop = min(start + every, groups)
        spans = tuple(spans_of(s.files, start, stop, every) for s in paired)
        result.ranges.append(Range(number, start, stop, spans))
    return result


def spans_of(files: list[FileIndex], start: int, stop: int, every: int) -> tuple[Span, ...]:
    """The spans of the files holding records [start, stop) of one source."""
    spans = []
    for f in files:
        lo, hi = max(start, f.first_index), min(stop, f.first_index + f.records)
        if lo >= hi:
            continue
        at = f.mark(lo)
        inside = hi < f.first_index + f.records and hi % every == 0
        end = f.mark(hi).offset if inside else f.size
        spans.append(Span(f.path, at.offset, end, at.line, hi - lo))
    return tuple(spans)


def index_file(path: str, every: int, first_index: int = 0) -> FileIndex:
    """Scan one plain JSON Lines file whose first record is record ``first_index`` of its
    source: count its records and mark every record whose index is a multiple of ``every``.
    InputError for a file that is compressed, not JSON Lines, or unreadable."""
    if compression_of(path):
        raise InputError(
            f"{path}: compressed; ranges need plain JSON Lines to seek in: convert shard makes them"
        )
    opened = open_input(path, path)
    start, shape, size = opened.stream.next_start, opened.shape, opened.size
    opened.close()
    if shape != "jsonl":
        raise InputError(
            f"{path}: is {'a JSON ' if shape != 'parquet' else ''}{shape}, not JSON Lines: "
            "convert shard turns it into JSON Lines shards"
        )
    scan = _Scan(every, first_index, start)
    try:
        with open(path, "rb") as f:
            f.seek(start)
            block, rest = SCAN_BYTES, b""
            while data := f.read(block):
                cut = data.rfind(b"\n") + 1
                if cut:  # the whole lines; the rest is read again with the next block
                    scan.lines(data, cut)
                    f.seek(cut - len(data), os.SEEK_CUR)
                elif len(data) == block:  # a line longer than a block
                    f.seek(-block, os.SEEK_CUR)
                    block *= 2
                else:  # the last line, without a newline
                    rest = data
                    break
            if rest and not rest.isspace():
                scan.lines(rest + b"\n", len(rest) + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    marks = tuple(m for m in scan.marks if m.index != first_index)
    return FileIndex(path, size or 0, first_index, start, scan.index - first_index, marks)


class _Scan:
    """Counts the records and lines of whole-line blocks, marking every K-th record."""

    def __init__(self, every: int, first_index: int, offset: int) -> None:
        self.every, self.index, self.offset = every, first_index, offset
        self.line = 0  # lines before the block
        self.marks: list[Mark] = []

    def lines(self, data: bytes, end: int) -> None:
        """Take the next block, ``data[:end]`` (whole lines, each ending with a newline)."""
        lines, blank = line_counts(data, end)
        records = lines - blank
        next_mark = -(-self.index // self.every) * self.every
        if self.index + records <= next_mark:
            self.index += records
        elif records == lines:
            self._skip(data, lines)
        else:
            self._walk(data, end)
        self.offset += end
        self.line += lines

    def _skip(self, data: bytes, lines: int) -> None:
        """Mark the records at multiples of K in the block's ``lines`` lines, every one of
        them a record: from one mark to the next, skip K lines."""
        first, every = -self.index % self.every, self.every
        starts = line_starts(data, first, every, lines)
        for line, at in zip(range(first, lines, every), starts):
            self.marks.append(Mark(self.index + line, self.offset + at, self.line + line + 1))
        self.index += lines

    def _walk(self, data: bytes, end: int) -> None:
        """Go through the block ``data[:end]`` line by line, marking the records at multiples
        of K."""
        at, line, every = 0, self.line, self.every
        while at < end:
            stop = data.index(b"\n", at) + 1
            line += 1
            if not data[at:stop].isspace():
                if self.index % every == 0:
                    self.marks.append(Mark(self.index, self.offset + at, line))
                self.index += 1
            at = stop
