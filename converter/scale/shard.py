"""``convert shard``: one source streamed into JSON Lines shard files plus a ``shards.json``.

The source is read with the same readers as ``convert stream`` (JSON array, JSON Lines,
concatenated JSON; ``.gz``/``.zst``; ``-`` for stdin), one record at a time. Record i of the
source is record i of the shards read in order: each value is re-encoded compactly with orjson
(the readers build ints and finite floats only, which orjson writes back exactly), a JSON Lines
line that does not parse is copied as it was, and a record holding lone surrogates gets its
escapes back, so that a later run rejects the same records at the same indices.

A new shard starts at the first record, once a shard holds ``records``, whose line reads as
JSON Lines when it opens a file (an object): the readers tell a file's shape by its first line.
The last shard never holds a single record (a lone wrapper object would be refused). So a shard
holds ``records`` records or a few more; ``shards.json`` has the exact counts.

Everything is written into a temporary folder beside the target, renamed into place at the end:
a failed run leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from converter.compression import strip_compression
from converter.errors import (
    InputError,
    OutputError,
    UsageError,
    refuse_huge,
    stop_if_signalled,
)
from converter.inputs import STDIN, open_input
from converter.output import STDOUT, GuardedStream, json_document, shown, temporary_prefix
from converter.readers import Item, read_items
from converter.rejects import stdlib_line

#: The index file written beside the shards.
SHARDS_INDEX = "shards.json"
#: Records per shard unless told otherwise.
DEFAULT_RECORDS = 100_000
#: A lone surrogate escape, as the array reader names it in a rejection reason.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
#: U+FFFF in UTF-8: the reader's stand-in for a lone surrogate.
_SENTINEL = "\uffff".encode()


@dataclass
class ShardFile:
    """One shard: its file name (beside ``shards.json``), records, size and SHA-256."""

    file: str
    records: int = 0
    bytes: int = 0
    sha256: str = ""


@dataclass
class ShardSet:
    """What ``shards.json`` holds: the source (path, bytes read, SHA-256) and the shards."""

    source: str
    size: int
    sha256: str
    records: int
    records_per_shard: int
    shards: list[ShardFile] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``shards.json`` document."""
        return {"format": 1, **asdict(self)}


def shard_name(source: str) -> str:
    """The default shard name: the source's file name without compression and extension."""
    if source == STDIN:
        return "stdin"
    base = os.path.basename(strip_compression(source))
    return os.path.splitext(base)[0] or base


def shard(
    source: str, directory: str, records: int = DEFAULT_RECORDS, name: str | None = None
) -> ShardSet:
    """Split ``source`` into JSON Lines shards of about ``records`` records in ``directory``.

    ``directory`` must not exist or be empty. Raises InputError for a source that cannot be
    read (nothing is written), OutputError when the folder cannot be written.
    """
    refuse_huge("--records", records)
    if records < 1:
        raise UsageError(f"--records must be at least 1, got {records}")
    if not directory:
        raise UsageError("-o: the path is empty")
    if directory == STDOUT:
        raise UsageError("-o -: convert shard writes a folder of files, not stdout: name it")
    if name is not None and (name in ("", ".", "..") or os.path.basename(name) != name):
        raise UsageError(f"--name {name!r} must be a file name, without a folder")
    temp = _temporary_folder(directory)
    try:
        shards = _shard_into(source, temp, records, shown(name or shard_name(source)))
        with open(os.path.join(temp, SHARDS_INDEX), "wb") as f:
            f.write(json_document(shards.to_json()))
        os.chmod(temp, 0o777 & ~_umask())
        stop_if_signalled()  # (a signal swallowed on the way)
        os.rename(temp, directory)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise OutputError(f"{directory}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return shards


def _temporary_folder(directory: str) -> str:
    """A new folder beside ``directory``; OutputError if ``directory`` is in the way."""
    if os.path.lexists(directory) and not (os.path.isdir(directory) and not os.listdir(directory)):
        raise OutputError(f"{directory}: exists and is not an empty folder")
    parent = os.path.dirname(os.path.abspath(directory))
    if not os.path.isdir(parent):
        raise OutputError(f"{directory}: folder {parent} does not exist")
    try:
        prefix = temporary_prefix(os.path.basename(directory))
        return tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent)
    except OSError as exc:
        raise OutputError(f"{directory}: cannot write: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _shard_into(source: str, folder: str, records: int, name: str) -> ShardSet:
    """Write the shards of ``source`` into ``folder``; return their index."""
    opened = open_input(source, source, hash_it=True)
    result = ShardSet(source, 0, "", 0, records)
    out: _ShardOutput | None = None
    try:
        lines = (encode_item(item) for item in read_items(opened))
        for new, line in _cuts(source, lines, records):
            if new:
                if out is not None:
                    result.shards.append(out.close())
                out = _ShardOutput(folder, f"{name}-{len(result.shards):05d}.jsonl")
            assert out is not None
            out.write(line)
        if out is not None:
            result.shards.append(out.close())
        opened.disk.drain()
    finally:
        if out is not None:
            out.stream.close()
        opened.close()
    result.size = opened.disk.bytes_read
    result.sha256 = opened.disk.sha256.hexdigest() if opened.disk.sha256 else ""
    result.records = sum(s.records for s in result.shards)
    return result


class _ShardOutput:
    """One shard file being written: counts its records and bytes, hashes them."""

    def __init__(self, folder: str, file: str) -> None:
        path = os.path.join(folder, file)
        self.stream = GuardedStream(path, open(path, "wb", buffering=1 << 20))  # noqa: SIM115
        self.entry = ShardFile(file)
        self.sha256 = hashlib.sha256()

    def write(self, line: bytes) -> None:
        """Append one record's line."""
        self.stream.write(line)
        self.sha256.update(line)
        self.entry.records += 1
        self.entry.bytes += len(line)

    def close(self) -> ShardFile:
        """Finish the file; return its entry."""
        self.stream.close()
        self.entry.sha256 = self.sha256.hexdigest()
        return self.entry


def encode_item(item: Item) -> bytes:
    """The JSON Lines line for one record as read (with its newline)."""
    if item.raw is not None:  # a JSON Lines line that did not parse: as it was
        return item.raw if item.raw.endswith(b"\n") else item.raw + b"\n"
    try:
        line = orjson.dumps(item.value, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # an integer beyond 64 bits, or deeper than orjson writes
        return stdlib_line(item.value)
    if item.error is not None and _SENTINEL in line:  # lone surrogates: their escapes back
        escapes = iter(_SURROGATE_ESCAPE.findall(item.error.encode()))
        line = re.sub(re.escape(_SENTINEL), lambda m: next(escapes, m.group()), line)
    return line


def reads_as_json_lines(line: bytes) -> bool:
    """Whether a file whose first line is ``line`` is read as JSON Lines (the readers' rule:
    an object, or a line that does not parse but ends like one)."""
    if not line.startswith(b"{"):
        return False
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return line.rstrip().endswith(b"}")
    return True


def _cuts(source: str, lines: Iterable[bytes], records: int) -> Iterator[tuple[bool, bytes]]:
    """Each line, with whether a new shard starts at it (see the module docstring)."""
    ahead = iter(lines)
    line = next(ahead, None)
    if line is not None and not reads_as_json_lines(line):
        raise InputError(
            f"{source}: record 0 is not a JSON object, so its shard would not read as JSON "
            "Lines; convert this source unsharded"
        )
    count = 0
    while line is not None:
        after = next(ahead, None)
        new = count == 0 or (count >= records and after is not None and reads_as_json_lines(line))
        if new:
            count = 0
        yield new, line
        count += 1
        line = after


def shard_folder(path: str) -> str | None:
    """The folder a source ``path`` reads as shards: itself when a directory, its folder when
    it is the shard index (``DIR/shards.json``); None for a plain file or ``-`` (stdin)."""
    if path != STDIN and os.path.isdir(path):
        return path
    return (os.path.dirname(path) or ".") if os.path.basename(path) == SHARDS_INDEX else None
