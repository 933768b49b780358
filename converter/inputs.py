"""Opening an input: files, ``.gz``, stdin; counting and hashing bytes; telling its shape.

The shape comes from the content: after an optional UTF-8 BOM and whitespace, ``[`` is a JSON
array and ``{`` is JSON Lines (or concatenated JSON objects); anything else is an error.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import sys
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, cast

import orjson

from converter.errors import InputError, MalformedInput

UTF8_BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\r\n"
#: How much of a file is read to tell its shape (a first JSONL line longer than this is
#: still read whole; only its first part is kept in memory twice).
SNIFF_BYTES = 1 << 16
CHUNK = 1 << 16
#: Largest chunk handed to the JSON parser while a long string runs on.
MAX_CHUNK = 1 << 26

_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
)
#: Where the NUL bytes sit among the first four bytes of an ASCII character, by encoding.
_NUL_PATTERNS = (
    ((False, True, True, True), "UTF-32 (little-endian)"),
    ((True, True, True, False), "UTF-32 (big-endian)"),
    ((False, True), "UTF-16 (little-endian)"),
    ((True, False), "UTF-16 (big-endian)"),
)
READ_ERRORS = (OSError, EOFError, zlib.error)
#: A ``\uD800``-``\uDFFF`` escape (a UTF-16 surrogate); yajl turns a lone one into ``?`` or
#: into bytes that are not UTF-8, so the reader finds them first.
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LOW_SURROGATE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
#: What a lone surrogate escape is replaced with (same length, so positions stay right).
SENTINEL_ESCAPE = b"\\uffff"
SENTINEL = "\uffff"
_LONGEST_ESCAPE = 12  # a surrogate pair: \uD83D\uDE00


class DiskReader(io.RawIOBase):
    """Reads the bytes as stored (compressed for ``.gz``), counting them and hashing on request."""

    def __init__(self, raw: BinaryIO, hash_it: bool) -> None:
        self.raw = raw
        self.bytes_read = 0
        self.sha256 = hashlib.sha256() if hash_it else None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        if self.sha256 is not None:
            self.sha256.update(data)
        return n

    def drain(self) -> None:
        """Read (and hash) whatever is left, so the checksum covers the whole file."""
        buffer = memoryview(bytearray(1 << 20))
        while self.readinto(buffer):
            pass


class PositionedReader(io.RawIOBase):
    """Serves the sniffed head, then the rest of the stream; remembers where each chunk began
    and how many newlines came before it, so a parser error can be placed exactly.

    With ``for_parser`` set (yajl reads it through ``read``): each lone surrogate escape is
    replaced by ``\\uffff`` and described in ``lone_surrogates``, so the record holding it can be
    rejected; and chunks grow while a long string runs on, because yajl lexes a token cut by a
    chunk again from its start (quadratic time on a 50 MB string read 64 KiB at a time).
    """

    def __init__(self, label: str, head: bytes, rest: BinaryIO, skipped: bytes) -> None:
        self.label = label
        self.head = head
        self.rest = rest
        self.chunk = b""
        self.chunk_start = self.next_start = len(skipped)
        self.lines_before = self.next_lines = skipped.count(b"\n")
        self.line_start = self.next_line_start = skipped.rfind(b"\n") + 1
        self.for_parser = False
        self.lone_surrogates: deque[str] = deque()
        self.pending = b""
        self.grow = CHUNK

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        size = size if size > 0 else CHUNK
        data = self._parser_chunk(size) if self.for_parser else self._take(size)
        if not data:  # the end: errors found now are placed in the last chunk
            return data
        self.chunk_start, self.lines_before = self.next_start, self.next_lines
        self.line_start = self.next_line_start
        last_newline = data.rfind(b"\n")
        if last_newline >= 0:
            self.next_lines += data.count(b"\n")
            self.next_line_start = self.chunk_start + last_newline + 1
        self.next_start += len(data)
        self.chunk = data
        if self.for_parser and (b"\\ud" in data or b"\\uD" in data):
            self.chunk = data = self._replace_lone_surrogates(data)
        return data

    def _parser_chunk(self, size: int) -> bytes:
        """The next chunk for yajl: escapes kept whole, bigger while a long string runs on."""
        while True:
            new = self._take(max(max(size, self.grow) - len(self.pending), 1))
            data, self.pending = self.pending + new, b""
            if not new:
                return data
            data, self.pending = _split_tail(data)  # keep a cut escape for the next chunk
            if data:
                break
        long_token = data.rfind(b'"') < len(data) // 2
        self.grow = min(self.grow * 2, MAX_CHUNK) if long_token else CHUNK
        return data

    def _take(self, size: int) -> bytes:
        if self.head:
            data, self.head = self.head[:size], self.head[size:]
            return data
        try:
            return self.rest.read(size)
        except READ_ERRORS as exc:
            raise InputError(
                f"{self.label}: cannot read near byte {self.next_start}: {exc}"
            ) from None

    def _replace_lone_surrogates(self, data: bytes) -> bytes:
        fixed = bytearray(data)
        paired_until = 0
        for match in _SURROGATE.finditer(data):
            start, end = match.span()
            if start < paired_until or _escaped_backslash(data, start):
                continue
            if _HIGH_SURROGATE.match(data, start) and _LOW_SURROGATE.match(data, end):
                paired_until = end + 6
                continue
            escape = match.group().decode("ascii")
            self.lone_surrogates.append(f"{escape} at {self.where(start)}")
            fixed[start:end] = SENTINEL_ESCAPE
        return bytes(fixed)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def where(self, offset_in_chunk: int | None) -> str:
        """Describe a position: ``line L, column C (byte B)``; None means the end of the input."""
        if offset_in_chunk is None:
            return f"end of input (byte {self.next_start})"
        offset_in_chunk = max(0, min(offset_in_chunk, len(self.chunk)))
        before = self.chunk[:offset_in_chunk]
        offset = self.chunk_start + offset_in_chunk
        newline = before.rfind(b"\n")
        line_start = self.chunk_start + newline + 1 if newline >= 0 else self.line_start
        line = self.lines_before + before.count(b"\n") + 1
        return f"line {line}, column {offset - line_start + 1} (byte {offset})"


def _escaped_backslash(data: bytes, start: int) -> bool:
    """True when the backslash at ``start`` is the second half of an escaped backslash."""
    return (start - _run_start(data, start)) % 2 == 1


def _run_start(data: bytes, end: int) -> int:
    """Where the run of backslashes that ends just before ``end`` begins."""
    while end > 0 and data[end - 1] == 0x5C:
        end -= 1
    return end


def _split_tail(data: bytes) -> tuple[bytes, bytes]:
    """Split off a tail that may hold the start of an escape cut by the chunk boundary."""
    cut = data.find(b"\\", max(len(data) - _LONGEST_ESCAPE + 1, 0))
    if cut < 0:
        return data, b""
    if _HIGH_SURROGATE.match(data, max(cut - 6, 0), cut):  # keep a pair together
        cut -= 6
    cut = _run_start(data, cut)
    if len(data) - cut > 2 * _LONGEST_ESCAPE:  # a long run of backslashes: no escape to keep
        return data, b""
    return data[:cut], data[cut:]


@dataclass
class Input:
    """An opened input: its label for messages, its shape and a positioned byte stream."""

    label: str
    path: str
    shape: str  # "array" | "jsonl" | "concatenated"
    stream: PositionedReader
    disk: DiskReader
    size: int | None
    closers: list[BinaryIO] = field(default_factory=list)

    def lines(self) -> Iterator[bytes]:
        """The input's lines (with their newlines), buffered in C."""
        return iter(io.BufferedReader(self.stream, 1 << 20))

    def close(self) -> None:
        """Close every file this input opened (stdin is left open)."""
        for f in self.closers:
            f.close()


def open_input(label: str, path: str, hash_it: bool = False) -> Input:
    """Open ``path`` (``-`` for stdin, ``.gz`` by suffix) and tell its shape; InputError if bad."""
    closers: list[BinaryIO] = []
    try:
        if path == "-":
            raw: BinaryIO = sys.stdin.buffer
            size = None
        else:
            if os.path.isdir(path):
                raise InputError(f"{label}: is a directory, not a file")
            raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by Input.close
            closers.append(raw)
            size = os.fstat(raw.fileno()).st_size
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except PermissionError:
        raise InputError(f"{label}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{label}: cannot open: {exc.strerror or exc}") from None
    disk = DiskReader(raw, hash_it)
    buffered = io.BufferedReader(disk, CHUNK)
    closers.append(buffered)
    stream: BinaryIO = buffered
    if path.endswith(".gz"):
        stream = cast(BinaryIO, gzip.GzipFile(fileobj=buffered, mode="rb"))
        closers.append(stream)
    try:
        head, skip = _read_head(label, stream)
        shape = _shape(label, head, skip)
    except READ_ERRORS as exc:
        for f in reversed(closers):
            f.close()
        raise InputError(f"{label}: cannot read: {exc}") from None
    except InputError:
        for f in reversed(closers):
            f.close()
        raise
    reader = PositionedReader(label, head[skip:], stream, head[:skip])
    return Input(label, path, shape, reader, disk, size, closers)


def _read_head(label: str, stream: BinaryIO) -> tuple[bytes, int]:
    """Read enough to see the first JSON character; return the head and the BOM/space length."""
    head = stream.read(SNIFF_BYTES)
    for bom, name in _BOMS:
        if head.startswith(bom):
            raise MalformedInput(f"{label}: file is {name} encoded; converter reads UTF-8 only")
    start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    parts = [head]
    rest = head[start:].lstrip(JSON_WHITESPACE)
    more = head
    while more and not rest:  # only whitespace so far
        more = stream.read(SNIFF_BYTES)
        parts.append(more)
        rest = more.lstrip(JSON_WHITESPACE)
    if rest[:1] == b"{":  # the whole first line, to tell JSONL from pretty JSON
        while more and b"\n" not in rest:
            more = rest = stream.read(SNIFF_BYTES)
            parts.append(more)
    head = b"".join(parts)
    return head, len(head) - len(head[start:].lstrip(JSON_WHITESPACE))


def _shape(label: str, head: bytes, skip: int) -> str:
    first = head[skip : skip + 1]
    if not first:
        return _fail(
            label,
            "empty file" if not head.strip(UTF8_BOM) else "file holds only whitespace",
            "empty",
        )
    if b"\x00" in head[skip : skip + 4]:
        raise MalformedInput(
            f"{label}: file looks {_nul_encoding(head[skip : skip + 4])} encoded (NUL bytes "
            "between its characters); converter reads UTF-8 only"
        )
    if first == b"[":
        return "array"
    if first == b"{":
        line = head[skip:].split(b"\n", 1)[0]
        try:
            orjson.loads(line)
        except orjson.JSONDecodeError:
            return "concatenated" if not line.rstrip().endswith(b"}") else "jsonl"
        return "jsonl"
    if first not in b'"-0123456789tfn':
        character = first.decode("latin-1")
        return _fail(label, f"byte {skip}: character {character!r} cannot start JSON", "malformed")
    if len(head) < SNIFF_BYTES:  # the whole file: say whether the scalar itself is valid
        try:
            orjson.loads(head.removeprefix(UTF8_BOM))
        except orjson.JSONDecodeError as exc:
            return _fail(label, f"line {exc.lineno}, column {exc.colno}: {exc.msg}", "malformed")
    return _fail(
        label,
        f"byte {skip}: top-level {_scalar_kind(first)} is not a record container "
        "(expected a JSON array or JSON Lines)",
        "not-container",
    )


def _nul_encoding(first4: bytes) -> str:
    """Name the UTF-16/32 flavour whose NUL pattern the first bytes match."""
    nuls = tuple(byte == 0 for byte in first4)
    for pattern, name in _NUL_PATTERNS:
        if nuls[: len(pattern)] == pattern:
            return name
    return "UTF-16 or UTF-32"


def _scalar_kind(first: bytes) -> str:
    if first == b'"':
        return "string"
    if first in b"-0123456789":
        return "number"
    return "literal (true/false/null)"


def _fail(label: str, message: str, kind: str) -> str:
    raise MalformedInput(f"{label}: {message}", kind)
