"""Planning: index ranges of K groups aligned across all sources, with the byte spans of each.

Every source is one or more plain JSON Lines files (one file, a list of shards, or a
``shards.json`` made by ``convert shard``), or one plain JSON array. One pass per file finds the
byte offset of every K-th record, with no JSON parse. In JSON Lines, a newline scan counts
records exactly as the JSON Lines reader does: after the BOM and the leading whitespace every
line is a record unless it holds only ASCII whitespace; a last line without a newline counts;
line numbers are the file's (blank lines before the first record count). In a JSON array,
:class:`ArrayScan` counts the array's values by following its strings, nesting and commas (a
broken structure is refused at once). Range r covers the groups [r*K, min((r+1)*K, total)); for
each source it lists the spans (file, byte start, byte end, first line, records) holding them,
across shard files.
"""

from __future__ import annotations

import os
import re
import stat
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from typing import Any, BinaryIO

import orjson

from converter.chunks import count_newlines
from converter.compression import compression_of
from converter.errors import InputError, UsageError, unequal_sources
from converter.inputs import open_input
from converter.kernels import NATIVE
from converter.readers import read_items
from converter.scale.shard import SHARDS_INDEX

#: Bytes scanned at a time.
SCAN_BYTES = 1 << 20
#: A newline followed by a line of ASCII whitespace only (``bytes.isspace``): a blank line.
_BLANK_NEXT = re.compile(rb"\n(?=[ \t\r\x0b\x0c]*\n)")
_BLANK_HEAD = re.compile(rb"[ \t\r\x0b\x0c]*\n")
#: How a file of another shape is named when it is refused.
_SHAPES = {
    "array": "a JSON array",
    "concatenated": "concatenated JSON values",
    "parquet": "Parquet",
}
#: The next byte that is not whitespace to the array reader (yajl also skips \v; it would skip
#: \f too, which the reader refuses as not JSON: converter.events).
_TOKEN = re.compile(rb"[^ \t\n\v\r]")


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
    """Where record ``index`` (of the whole source) starts in a file: byte offset, line and
    the offset its line starts at; ``cut``: where a range that ends before it ends (in JSON
    Lines the record's offset, in an array the comma before it)."""

    index: int
    offset: int
    line: int
    line_start: int
    cut: int


@dataclass(frozen=True)
class FileIndex:
    """One scanned file: its shape (``jsonl`` or ``array``), size, count and marks; ``first``
    is where its first record's span starts (in an array: the ``[``)."""

    path: str
    shape: str
    size: int
    first_index: int
    records: int
    first: Mark
    marks: tuple[Mark, ...]

    def mark(self, index: int) -> Mark:
        """The mark of record ``index``; it must be a multiple of K inside this file."""
        if index == self.first_index:
            return self.first
        found = self.marks[bisect_left(self.marks, index, key=_INDEX)]
        assert found.index == index, (found, index)
        return found

    def span(self, start: int, stop: int, every: int) -> Span:
        """The span of records [start, stop) (``start`` the first record or a mark; ``stop`` a
        mark or past the file's last record)."""
        at = self.mark(start)
        inside = stop < self.first_index + self.records and stop % every == 0
        end = self.mark(stop).cut if inside else self.size
        opens = self.shape == "array" and start != self.first_index
        closes = self.shape == "array" and inside
        return Span(
            self.path,
            at.offset,
            end,
            at.line,
            stop - start,
            shape=self.shape,
            line_start=at.line_start,
            opens=opens,
            closes=closes,
        )

    def whole(self) -> Span:
        """The span of all its records."""
        return self.span(self.first_index, self.first_index + self.records, 1)


_INDEX = attrgetter("index")


@dataclass(frozen=True)
class Span:
    """Part of one file: ``records`` records from byte ``start`` (on line ``line``, which
    starts at ``line_start``) on.

    ``end`` is where the next range starts in this file (in an array: the comma before it),
    or the file's end: when a source is cut short (``--limit``, the shortest of unequal
    sources) reading stops after ``records``. A span of an array that starts at a record
    ``opens`` (is read after a stand-in ``[``); one that ends at a comma ``closes`` (a
    stand-in ``]`` follows).
    """

    path: str
    start: int
    end: int
    line: int
    records: int
    shape: str = "jsonl"
    line_start: int = 0
    opens: bool = False
    closes: bool = False


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

    @property
    def equal(self) -> bool:
        """True when every source holds as many records as the scan counted."""
        counts = [s.records for s in self.sources]
        return min(counts) == max(counts)

    def check_equal(self) -> None:
        """InputError naming the shorter sources when the record counts differ (as
        ``convert stream`` says it, without the hint of a shift it met on its way); the caller
        decides (``--unequal shortest`` does not ask)."""
        if self.equal:
            return
        done = min(s.records for s in self.sources)
        # the scan counts an array's values without parsing them: a broken string (a quote
        # missing, another escaped later) can leave its structure whole and its count wrong,
        # where a single run meets the broken record first
        for source in self.sources:
            for file in source.files:
                if file.shape == "array":
                    _reader_error(file.path, f"{source.lang}={source.given}")
        short = [f"{s.lang}={s.given}" for s in self.sources if s.records == done]
        longer = [f"{s.lang}={s.given}" for s in self.sources if s.records > done]
        raise unequal_sources(short, longer, f"{done:,}", done)

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
        shards = [(entry["file"], entry["bytes"]) for entry in document["shards"]]
    except FileNotFoundError:
        raise InputError(f"{index}: no such file") from None
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{index}: not a shards.json made by convert shard: {exc}") from None
    folder = os.path.dirname(index)
    for name, size in shards:
        _check_shard(index, os.path.join(folder, name), name, size)
    return [os.path.join(folder, name) for name, _ in shards]


def _check_shard(index: str, path: str, name: Any, size: Any) -> None:
    """InputError unless shard ``name`` of ``index`` is a file of the folder (no path) of the
    size the index gives (a shard replaced, cut or moved is refused; its SHA-256 is not read
    again)."""
    if type(name) is not str or name in ("", ".", "..") or os.path.basename(name) != name:
        raise InputError(f"{index}: shard {name!r} is not a file name of its folder")
    if type(size) is not int:
        raise InputError(f"{index}: shard {name}: its bytes are {size!r}, not a count")
    try:
        found = os.lstat(path)
    except OSError:
        raise InputError(f"{index}: shard {name} is missing") from None
    if not stat.S_ISREG(found.st_mode):
        raise InputError(f"{index}: shard {name} is not a plain file (a link?)")
    if found.st_size != size:
        raise InputError(
            f"{index}: shard {name} holds {found.st_size:,} bytes, not the {size:,} its index "
            "gives (changed since convert shard wrote it)"
        )


def plan(
    sources: Sequence[tuple[str, str | Sequence[str]]],
    every: int,
    limit: int | None = None,
    first_only: bool = False,
    run: Callable[[list[IndexSource]], list[list[FileIndex]]] | None = None,
    ahead: int = 0,
) -> Plan:
    """Scan every source (``(lang, path or shards.json or [files...])``) and cut the groups
    into ranges of ``every``; ``limit`` plans only the first groups, and arrays are scanned
    ``ahead`` records past them (for a reader's lookahead). Groups are paired up to
    the shortest source: call :meth:`Plan.check_equal` to refuse unequal sources. With
    ``first_only`` (pairing by key) the groups are the first source's records and the ranges
    hold its spans only (JSON Lines only: partners are found by their lines). ``run`` runs
    the sources' scans (:class:`IndexSource` tasks; an engine runs them side by side); by
    default they run here, one after the other."""
    if every < 1:
        raise ValueError(f"a range holds at least one group, got {every}")
    labels, scans = [], []
    for lang, given in sources:
        files = source_files(given) if isinstance(given, str) else list(given)
        labels.append(given if isinstance(given, str) else ",".join(given))
        stop = None if limit is None else limit + ahead
        scan = IndexSource(tuple(files), every, not first_only, stop, f"{lang}={labels[-1]}")
        scans.append(scan)
    indexes = run(scans) if run is not None else [scan() for scan in scans]
    scanned = [
        SourcePlan(lang, label, files) for (lang, _), label, files in zip(sources, labels, indexes)
    ]
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


@dataclass(frozen=True)
class IndexSource:
    """The scan of one source's files, in order (a task an engine can run elsewhere); arrays
    no further than record ``stop``. ``label`` names the source in errors (``en=FILE``)."""

    files: tuple[str, ...]
    every: int
    arrays: bool
    stop: int | None = None
    label: str | None = None

    def __call__(self) -> list[FileIndex]:
        """Each file's index, its records numbered on from the files before it."""
        indexes: list[FileIndex] = []
        for path in self.files:
            first = sum(f.records for f in indexes)
            label = self.label if len(self.files) == 1 else None
            indexes.append(index_file(path, self.every, first, self.arrays, self.stop, label))
        return indexes


def spans_of(files: list[FileIndex], start: int, stop: int, every: int) -> tuple[Span, ...]:
    """The spans of the files holding records [start, stop) of one source."""
    spans = []
    for f in files:
        lo, hi = max(start, f.first_index), min(stop, f.first_index + f.records)
        if lo < hi:
            spans.append(f.span(lo, hi, every))
    return tuple(spans)


def index_file(
    path: str,
    every: int,
    first_index: int = 0,
    arrays: bool = True,
    stop: int | None = None,
    label: str | None = None,
) -> FileIndex:
    """Scan one plain JSON Lines file (or, with ``arrays``, JSON array) whose first record is
    record ``first_index`` of its source: count its records and mark every record whose index
    is a multiple of ``every``; an array is scanned no further than record ``stop`` (the
    records a run needs). UsageError for a file range mode does not read (compressed, of
    another shape); InputError for one that is unreadable, and for a broken array the error a
    run reading it gives (named ``label``)."""
    if compression_of(path):
        raise UsageError(
            f"{path}: compressed; ranges need plain files to seek in: convert shard makes them"
        )
    opened = open_input(label or path, path)
    stream, shape, size = opened.stream, opened.shape, opened.size or 0
    start, lines, line_start = stream.next_start, stream.next_lines, stream.next_line_start
    opened.close()
    if shape not in ("jsonl", "array") or (shape == "array" and not arrays):
        what = _SHAPES.get(shape, shape)
        raise UsageError(
            f"{path}: is {what}, not JSON Lines: convert shard turns it into JSON Lines shards"
        )
    try:
        with open(path, "rb") as f:
            f.seek(start)
            if shape == "array":
                first = Mark(first_index, start, lines + 1, line_start, start)
                return _index_array(f, path, size, every, first, stop, label or path)
            scan = _Scan(every, first_index, start, lines)
            _scan_lines(f, scan)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    marks = tuple(m for m in scan.marks if m.index != first_index)
    first = Mark(first_index, start, lines + 1, line_start, start)
    return FileIndex(path, shape, size, first_index, scan.index - first_index, first, marks)


def _scan_lines(f: BinaryIO, scan: _Scan) -> None:
    """Feed the whole lines of ``f`` (from where it stands) to ``scan``, a block at a time."""
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


def _index_array(
    f: BinaryIO, path: str, size: int, every: int, first: Mark, stop: int | None, label: str
) -> FileIndex:
    """:func:`index_file` for a JSON array, ``f`` standing at its ``[``: its values counted
    (up to record ``stop``) and marked by an :class:`ArrayScan`, each mark's line found from
    the block's newlines."""
    scan = new_array_scan(every, first.index, stop)
    offset, lines, line_start = first.offset, first.line - 1, first.line_start
    marks: list[Mark] = []
    while scan.problem is None and not scan.full and (data := f.read(SCAN_BYTES)):
        scan.feed(data, offset)
        at = 0
        found, scan.marks[:] = scan.marks[:], []
        for index, where, cut in found:
            lines += count_newlines(data, at, where - offset)
            at = where - offset
            newline = data.rfind(b"\n", 0, at)
            if newline >= 0:
                line_start = offset + newline + 1
            marks.append(Mark(index, where, lines + 1, line_start, cut))
        lines += count_newlines(data, at)
        newline = data.rfind(b"\n", at)
        if newline >= 0:
            line_start = offset + newline + 1
        offset += len(data)
    problem = scan.problem or scan.unfinished()
    if problem is not None:
        try:
            _reader_error(path, label)  # the exact place, as a single run says it
        except InputError as exc:
            raise BrokenArray(str(exc)) from None
        raise BrokenArray(  # the reader took what the scan did not: a single run reads it
            f"{path}: not a JSON array that can be cut into ranges ({problem}); "
            "convert it without --jobs, or convert shard it first"
        )
    return FileIndex(
        path, "array", size, first.index, scan.index - first.index, first, tuple(marks)
    )


class ArrayScan:
    """Counts the values of a JSON array fed block by block without parsing them: it follows
    strings (and their escapes), nesting and commas. Every value whose index is a multiple of
    ``every`` (past ``first``) is marked ``(index, offset, offset of the comma before it)``.
    ``problem`` says where the array's structure broke (a value without a comma before it, a
    comma without a value, text after the array); a broken value inside is the reader's to
    find. With ``stop``, the scan ends (``full``) where value ``stop`` starts: what follows is
    not read (as a run with ``--limit`` does not read it). The compiled twin:
    ``converter._kernels.ArrayScan``."""

    def __init__(self, every: int, first: int, stop: int | None = None) -> None:
        if every < 1:
            raise ValueError(f"marks every {every} values: at least 1 is needed")
        self.every, self.first, self.index, self.stop = every, first, first, stop
        self.full = False  # value ``stop`` started: the scan is over
        self.depth = 0
        self.string = False  # inside a string
        self.escaped = False  # ... whose next byte is escaped (a backslash ended the block)
        self.expect = False  # at depth 1: a value may start (after "[" or ",")
        self.comma = False  # ... and must (after ",")
        self.scalar = False  # inside a number or literal at depth 1
        self.closed = False  # the array's "]" was read
        self.cut = 0  # the offset of the last comma at depth 1
        self.marks: list[tuple[int, int, int]] = []
        self.problem: str | None = None

    def feed(self, data: bytes, offset: int) -> None:
        """Take the next block: the bytes from ``offset`` on."""
        at, size = 0, len(data)
        while at < size and self.problem is None and not self.full:
            if self.string:
                at = self._string_end(data, at)
                continue
            found = _TOKEN.search(data, at)
            if found is None:
                self.scalar = False
                return
            if found.start() > at:
                self.scalar = False
            at = found.start()
            self._token(data[at], offset + at)
            at += 1

    def _string_end(self, data: bytes, at: int) -> int:
        """Where the string goes on after ``data[at:]``: past its closing quote, or the
        block's end (noting an odd run of backslashes there)."""
        if self.escaped:
            self.escaped, at = False, at + 1
        while (quote := data.find(b'"', at)) >= 0:
            if _backslashes(data, at, quote) % 2 == 0:
                self.string = False
                return quote + 1
            at = quote + 1
        self.escaped = _backslashes(data, at, len(data)) % 2 == 1
        return len(data)

    def _token(self, c: int, where: int) -> None:
        """Follow one byte outside strings at offset ``where``."""
        if self.closed:
            self.problem = f"byte {where}: more after the array's end"
        elif c == 0x22:  # "
            self._value(where)
            self.string = True
        elif c == 0x5B or c == 0x7B:  # [ {
            if self.depth == 0 and c == 0x5B:
                self.expect = True
            elif self.depth == 0:
                self.problem = f"byte {where}: not an array"
            else:
                self._value(where)
            self.depth += 1
        elif c == 0x5D or c == 0x7D:  # ] }
            if self.depth == 1:
                if c == 0x7D:
                    self.problem = f"byte {where}: '}}' ends the array"
                elif self.comma:
                    self.problem = f"byte {self.cut}: a comma before the array's end"
                self.closed = True
            self.depth -= 1
        elif c == 0x2C:  # ,
            if self.depth == 1:
                if self.expect:
                    self.problem = f"byte {where}: a comma where a value should be"
                self.expect = self.comma = True
                self.cut = where
        elif c != 0x3A and self.depth == 1 and not self.scalar:  # not ":": a number, a literal
            self._value(where)
            self.scalar = True
            return
        else:
            return
        self.scalar = False

    def _value(self, where: int) -> None:
        """A value starts at ``where``: count it when it is one of the array's."""
        if self.depth != 1:
            return
        if self.index == self.stop:
            self.full = True
            return
        if not self.expect:
            self.problem = f"byte {where}: a value follows another without a comma"
            return
        if self.index % self.every == 0 and self.index != self.first:
            self.marks.append((self.index, where, self.cut))
        self.index += 1
        self.expect = self.comma = False

    def unfinished(self) -> str | None:
        """What is missing at the end of the file, if anything."""
        if self.full:
            return None
        if self.string:
            return "a string runs to the end of the file"
        return None if self.closed else "the array is not closed"


class BrokenArray(InputError):
    """An array whose structure the scan found broken, with the error a run reading it to the
    end gives (a single run may stop before: range mode hands its sources to one)."""


def _reader_error(path: str, label: str) -> None:
    """Read the array at ``path`` as a run does: raise the error it meets (the scan found the
    structure broken; the reader places the error by line, column and byte)."""
    source = open_input(label, path)
    try:
        for _ in read_items(source):
            pass
    finally:
        source.close()


def _backslashes(data: bytes, start: int, end: int) -> int:
    """How many backslashes run up to ``end`` (not before ``start``)."""
    at = end
    while at > start and data[at - 1] == 0x5C:
        at -= 1
    return end - at


#: The compiled twin where built.
new_array_scan = NATIVE.ArrayScan if NATIVE else ArrayScan


class _Scan:
    """Counts the records and lines of whole-line blocks, marking every K-th record."""

    def __init__(self, every: int, first_index: int, offset: int, line: int = 0) -> None:
        self.every, self.index, self.offset = every, first_index, offset
        self.line = line  # lines before the block
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
            offset = self.offset + at
            self.marks.append(Mark(self.index + line, offset, self.line + line + 1, offset, offset))
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
                    offset = self.offset + at
                    self.marks.append(Mark(self.index, offset, line, offset, offset))
                self.index += 1
            at = stop
