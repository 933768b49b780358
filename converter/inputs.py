"""Opening an input: files, ``.gz``, stdin; counting and hashing bytes; telling its shape.

The shape comes from the content: after an optional UTF-8 BOM and whitespace, ``[`` is a JSON
array and ``{`` is JSON Lines (or concatenated JSON objects); anything else is an error.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, cast

import orjson

from converter.errors import InputError

UTF8_BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\r\n"
#: How much of a file is read to tell its shape (a first JSONL line longer than this is
#: still read whole; only its first part is kept in memory twice).
SNIFF_BYTES = 1 << 16
CHUNK = 1 << 16

_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
)


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
    and how many newlines came before it, so a parser error can be placed exactly."""

    def __init__(self, head: bytes, rest: BinaryIO, skipped: bytes) -> None:
        self.head = head
        self.rest = rest
        self.chunk = b""
        self.chunk_start = self.next_start = len(skipped)
        self.lines_before = self.next_lines = skipped.count(b"\n")
        self.line_start = self.next_line_start = skipped.rfind(b"\n") + 1

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        size = size if size > 0 else CHUNK
        if self.head:
            data, self.head = self.head[:size], self.head[size:]
        else:
            data = self.rest.read(size)
        self.chunk_start, self.lines_before = self.next_start, self.next_lines
        self.line_start = self.next_line_start
        last_newline = data.rfind(b"\n")
        if last_newline >= 0:
            self.next_lines += data.count(b"\n")
            self.next_line_start = self.chunk_start + last_newline + 1
        self.next_start += len(data)
        self.chunk = data
        return data

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
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        for f in reversed(closers):
            f.close()
        raise InputError(f"{label}: cannot read: {exc}") from None
    except InputError:
        for f in reversed(closers):
            f.close()
        raise
    reader = PositionedReader(head[skip:], stream, head[:skip])
    return Input(label, path, shape, reader, disk, size, closers)


def _read_head(label: str, stream: BinaryIO) -> tuple[bytes, int]:
    """Read enough to see the first JSON character; return the head and the BOM/space length."""
    head = stream.read(SNIFF_BYTES)
    for bom, name in _BOMS:
        if head.startswith(bom):
            raise InputError(f"{label}: file is {name} encoded; converter reads UTF-8 only")
    while True:
        start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
        skip = len(head) - len(head[start:].lstrip(JSON_WHITESPACE))
        if skip < len(head):
            break
        more = stream.read(SNIFF_BYTES)
        if not more:
            break
        head += more
    if head[skip : skip + 1] == b"{":
        while b"\n" not in head[skip:]:  # the whole first line, to tell JSONL from pretty JSON
            more = stream.read(SNIFF_BYTES)
            if not more:
                break
            head += more
    return head, skip


def _shape(label: str, head: bytes, skip: int) -> str:
    first = head[skip : skip + 1]
    if not first:
        return _fail(
            label, "empty file" if not head.strip(UTF8_BOM) else "file holds only whitespace"
        )
    if b"\x00" in head[skip : skip + 4]:
        raise InputError(
            f"{label}: file looks UTF-16 or UTF-32 encoded (NUL bytes); converter reads UTF-8 only"
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
    what = _scalar_kind(first)
    return _fail(
        label,
        f"byte {skip}: top-level {what} is not a record container "
        "(expected a JSON array or JSON Lines)",
    )


def _scalar_kind(first: bytes) -> str:
    if first == b'"':
        return "string"
    if first in b"-0123456789":
        return "number"
    if first in b"tfn":
        return "literal (true/false/null)"
    return f"character {first.decode('latin-1')!r}"


def _fail(label: str, message: str) -> str:
    raise InputError(f"{label}: {message}")
