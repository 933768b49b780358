"""Opening an input: files (``.gz``, ``.zst``, Parquet), stdin; counting and hashing bytes;
telling its shape.

The shape comes from the content: after an optional UTF-8 BOM and whitespace, ``[`` is a JSON
array and ``{`` is JSON Lines (or concatenated JSON objects); anything else is an error.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import sys
from dataclasses import dataclass, field
from typing import BinaryIO

import orjson

from converter.chunks import CHUNK, READ_ERRORS, PositionedReader
from converter.compression import (
    SUFFIXES,
    compression_of,
    decompressing,
    sniff_compression,
    strip_compression,
)
from converter.errors import InputError, MalformedInput

#: The path of a source read from standard input.
STDIN = "-"
UTF8_BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\r\n"
#: The most a settings file (a recipe, a template, a check configuration, a dataset_info.json)
#: may hold.
SETTINGS_BYTES = 1 << 24
#: How much of a file is read at a time to tell its shape.
SNIFF_BYTES = 1 << 16
#: A ``{``-first file's first line is read whole to tell JSON Lines from pretty-printed JSON,
#: up to this length; a longer one is parsed as concatenated JSON (also in flat memory).
SNIFF_LINE = 1 << 26

_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
)
#: Where the NUL bytes sit among the first four bytes of ASCII text, by encoding.
_NUL_PATTERNS = (
    ((False, True, True, True), "UTF-32 (little-endian)"),
    ((True, True, True, False), "UTF-32 (big-endian)"),
    ((False, True, False, True), "UTF-16 (little-endian)"),
    ((True, False, True, False), "UTF-16 (big-endian)"),
)
#: Lines of a ``{``-first file looked at for one record of JSON Lines.
SNIFF_LINES = 16


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


@dataclass
class Input:
    """An opened input: its label for messages, its shape and a positioned byte stream."""

    label: str
    path: str
    shape: str  # "array" | "jsonl" | "concatenated" | "parquet"
    stream: PositionedReader
    disk: DiskReader
    size: int | None
    closers: list[BinaryIO] = field(default_factory=list)

    def close(self) -> None:
        """Close every file this input opened (stdin is left open)."""
        for f in self.closers:
            f.close()


def read_settings(path: str) -> bytes:
    """The whole of a small file a run is set up with; OSError when it cannot be read or holds
    more than SETTINGS_BYTES (a special file such as /dev/zero never ends)."""
    with open(path, "rb") as f:
        data = f.read(SETTINGS_BYTES + 1)
    if len(data) > SETTINGS_BYTES:
        raise OSError(errno.EFBIG, f"holds more than {SETTINGS_BYTES >> 20} MiB")
    return data


def open_input(label: str, path: str, hash_it: bool = False) -> Input:
    """Open ``path`` (``-`` for stdin; ``.gz``, ``.zst``, ``.parquet`` by suffix) and tell its
    shape; InputError if bad."""
    closers: list[BinaryIO] = []
    try:
        if path == STDIN:
            if sys.stdin is None:  # closed (<&-)
                raise InputError(f"{label}: stdin is closed")
            raw: BinaryIO = sys.stdin.buffer
            size = None
        else:
            if os.path.isdir(path):
                _refuse_directory(label, path)
            raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by Input.close
            closers.append(raw)
            size = os.fstat(raw.fileno()).st_size
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except PermissionError:
        raise InputError(f"{label}: permission denied") from None
    except OSError as exc:
        for f in closers:  # (opened, then not readable)
            f.close()
        raise InputError(f"{label}: cannot open: {exc.strerror or exc}") from None
    disk = DiskReader(raw, hash_it)
    if strip_compression(path).lower().endswith(".parquet"):
        from converter.parquet import parquet_input  # pyarrow is optional: imported on use

        return parquet_input(label, path, disk, size, closers)
    buffered = io.BufferedReader(disk, CHUNK)
    closers.append(buffered)
    stream: BinaryIO = buffered
    magic = b""  # a compressed file's first bytes, to say what it holds if it does not unpack
    try:
        if compression_of(path):
            magic = buffered.peek(SNIFF_MAGIC)[:SNIFF_MAGIC]
            stream = decompressing(path, buffered)
            closers.append(stream)
        head, skip, whole = _read_head(label, stream)
        shape = _shape(label, head, skip, path == STDIN, whole)
    except READ_ERRORS as exc:
        for f in reversed(closers):
            f.close()
        raise InputError(f"{label}: cannot read: {exc}{_misnamed(path, magic)}") from None
    except InputError:
        for f in reversed(closers):
            f.close()
        raise
    reader = PositionedReader(label, head[skip:], stream, head[:skip])
    return Input(label, path, shape, reader, disk, size, closers)


def _read_head(label: str, stream: BinaryIO) -> tuple[bytes, int, bool]:
    """Read enough to see the first JSON character; return the head, the BOM/space length and
    whether the head is the whole file (its last read came short)."""
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
        size = len(head)
        while more and b"\n" not in rest and size < SNIFF_LINE:
            more = rest = stream.read(SNIFF_BYTES)
            parts.append(more)
            size += len(more)
    head = b"".join(parts)
    whole = len(parts[-1]) < SNIFF_BYTES
    return head, len(head) - len(head[start:].lstrip(JSON_WHITESPACE)), whole


def _shape(label: str, head: bytes, skip: int, stdin: bool, whole: bool) -> str:
    """The shape of the input whose first bytes are ``head`` (``skip``: BOM and whitespace;
    ``whole``: all of it); MalformedInput saying why when it is none."""
    first = head[skip : skip + 1]
    if not first:
        raise _malformed(
            label,
            "empty file" if not head.strip(UTF8_BOM) else "file holds only whitespace",
            "empty",
        )
    compressed = sniff_compression(head[skip:])
    if compressed is not None:
        raise _malformed(label, _compression_hint(*compressed, stdin), "malformed")
    encoding = _nul_encoding(head[skip : skip + 4])
    if encoding is not None:
        raise MalformedInput(
            f"{label}: file looks {encoding} encoded (NUL bytes between its characters); "
            "converter reads UTF-8 only"
        )
    if first == b"[":
        return "array"
    if first == b"{":
        return "jsonl" if _json_lines(head[skip:], whole) else "concatenated"
    if head.startswith(PARQUET_MAGIC):
        raise _malformed(label, PARQUET_HINT, "malformed")
    if first not in b'"-0123456789tfn':
        what = _first_character(head[skip : skip + 4])
        raise _malformed(label, f"byte {skip}: {what} cannot start JSON", "malformed")
    if whole:  # say whether the scalar itself is valid
        try:
            orjson.loads(head.removeprefix(UTF8_BOM))
        except orjson.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise _malformed(label, f"{where}: {exc.msg}", "malformed") from None
    raise _malformed(
        label,
        f"byte {skip}: top-level {_scalar_kind(first)} is not a record container "
        "(expected a JSON array or JSON Lines)",
        "not-container",
    )


def _refuse_directory(label: str, path: str) -> None:
    """A directory is no source here (InputError); a ``convert shard`` folder is read in
    range mode only (``convert stream`` refuses one without ``--jobs`` before: a usage
    error)."""
    if is_shard_folder(path):
        raise InputError(f"{label}: {SHARD_FOLDER}")
    raise InputError(f"{label}: is a directory, not a file")


#: What a shard folder given where a file belongs is told.
SHARD_FOLDER = "is a shard folder, read by convert stream --jobs N only"


def is_shard_folder(path: str) -> bool:
    """Whether ``path`` is a folder ``convert shard`` made (its index beside the shards);
    never ``-``, which is stdin whatever the current folder holds."""
    from converter.scale.shard import SHARDS_INDEX  # (converter.scale.shard imports this module)

    return path != STDIN and os.path.isfile(os.path.join(path, SHARDS_INDEX))


#: The first bytes of a Parquet file, and what a file starting so is told.
PARQUET_MAGIC = b"PAR1"
PARQUET_HINT = "looks like Parquet, which converter reads from a file named .parquet"


#: Bytes a compressed file's start is sniffed for when it does not unpack.
SNIFF_MAGIC = 8


def _misnamed(path: str, magic: bytes) -> str:
    """What a file that does not unpack as its suffix says holds, as ``; ...``: other
    compressed data, Parquet or plain JSON, from its first bytes ``magic`` ("" if none)."""
    suffix = compression_of(path)
    if suffix is None or not magic:
        return ""
    other = sniff_compression(magic)
    if other is not None:  # (of the suffix's own compression: damaged or cut short)
        return f"; it {_compression_hint(other[0], other[1], False)}" if other[1] != suffix else ""
    if magic.startswith(PARQUET_MAGIC):
        return f"; it {PARQUET_HINT}"
    if magic.lstrip(JSON_WHITESPACE + UTF8_BOM)[:1] in (b"[", b"{"):
        return f"; it looks like uncompressed JSON: name it without {path[-len(suffix) :]}"
    return ""


def _compression_hint(name: str, suffix: str | None, stdin: bool) -> str:
    """What to do with data that starts like ``name``-compressed data."""
    if suffix is None:
        return f"looks {name}-compressed; converter reads {' and '.join(SUFFIXES)} only"
    if stdin:
        return f"looks {name}-compressed: stdin is read as is; decompress it first"
    return f"looks {name}-compressed: name it {suffix} (compression is told by the suffix)"


def _nul_encoding(first4: bytes) -> str | None:
    """The UTF-16/32 flavour whose NUL pattern the first four bytes match, or None (a NUL
    elsewhere is the parser's to place)."""
    nuls = tuple(byte == 0 for byte in first4)
    return next((name for pattern, name in _NUL_PATTERNS if nuls == pattern), None)


def _json_lines(data: bytes, whole: bool) -> bool:
    """Whether a ``{``-first text (``whole``: the whole file) is JSON Lines: its first line is
    one object (or a broken one ending its line), or, the first line a broken record (not the
    lone ``{`` that opens a pretty-printed object), one of the next whole lines is an object of
    its own starting the line (a pretty-printed value indents what it nests)."""
    lines = data.split(b"\n", SNIFF_LINES)
    if not (whole and len(lines) <= SNIFF_LINES):  # the last one is cut short
        lines = lines[:-1] or [data]
    first = lines[0]
    if _object_line(first) or first.rstrip().endswith(b"}"):
        return True
    if first.strip() == b"{":
        return False
    return any(line.startswith(b"{") and _object_line(line) for line in lines[1:])


def _object_line(line: bytes) -> bool:
    """Whether ``line`` holds one JSON object and nothing else."""
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _first_character(data: bytes) -> str:
    """The first character of ``data`` for a message (``character '日'``), or its first byte
    when that starts no UTF-8 character."""
    for size in range(1, len(data) + 1):
        try:
            return f"character {data[:size].decode('utf-8')!r}"
        except UnicodeDecodeError:
            continue
    return f"byte 0x{data[0]:02x} (not UTF-8)"


def _scalar_kind(first: bytes) -> str:
    if first == b'"':
        return "string"
    if first in b"-0123456789":
        return "number"
    return "literal (true/false/null)"


def _malformed(label: str, message: str, kind: str) -> MalformedInput:
    """The error for the input ``label`` that is no record container: ``message`` says why."""
    return MalformedInput(f"{label}: {message}", kind)
