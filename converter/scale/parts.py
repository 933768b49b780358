"""Part files, the manifest, merge and resume.

A part holds the encoded output of one range as it left the encoder: groups of chunks (one
chunk per record), in order. ``merge`` feeds them to a fresh writer batched exactly as a single
run batches them (whole groups, written once ``BATCH`` chunks are gathered), so the writer adds
the same separators and framing (``[``, ``,\\n  ``, row groups) and the merged file is
byte-identical to a single run's.

On disk (``part-00003.out``): the magic line ``converter-part 1``, then per group a little-endian
uint32 chunk count and per chunk a uint64 length and its bytes. A part may hold several named
streams (``out``, ``rejects``...), each its own file. Every file is written atomically and its
SHA-256 kept in the part's entry (``part-00003.json``, written last, by the task that made
the part); ``manifest.json`` names the job and, once complete, lists every entry. Resume: a part
whose entry is there and whose files still match their checksums is not made again.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

import orjson

from converter.errors import InputError, UsageError
from converter.model import Writer
from converter.output import AtomicOutput, open_output, start_output
from converter.scale.engines import run_tasks
from converter.stages import BATCH

MAGIC = b"converter-part 1\n"
MANIFEST = "manifest.json"
_COUNT = struct.Struct("<I")
_LENGTH = struct.Struct("<Q")
#: Bytes of a part file read at a time by the merge.
READ_BLOCK = 1 << 20


@dataclass
class PartFile:
    """One stream of a part: file name (in the parts folder), groups, chunks, SHA-256."""

    file: str
    groups: int = 0
    chunks: int = 0
    sha256: str = ""


@dataclass
class PartEntry:
    """A finished part: its number, its files by stream name, and its counts (which add up
    across parts: numbers are summed, mappings merged, lists joined in part order)."""

    number: int
    files: dict[str, PartFile]
    counts: dict[str, Any] = field(default_factory=dict)

    def intact(self, folder: str) -> bool:
        """Whether every file of the part is there with its recorded checksum."""
        return all(
            file_sha256(os.path.join(folder, f.file)) == f.sha256 for f in self.files.values()
        )


def part_name(number: int, stream: str) -> str:
    """The file name of stream ``stream`` of part ``number``."""
    return f"part-{number:05d}.{stream}"


def file_sha256(path: str) -> str | None:
    """The SHA-256 of a file, None when it is missing."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        return None


class _PartStream:
    """One stream of a part being written, atomically, hashed as it goes."""

    def __init__(self, stack: ExitStack, folder: str, file: str) -> None:
        self.out: AtomicOutput = start_output(stack, os.path.join(folder, file))
        self.entry = PartFile(file)
        self.sha256 = hashlib.sha256()
        self._put(MAGIC)

    def _put(self, data: bytes) -> None:
        self.out.stream.write(data)
        self.sha256.update(data)

    def add(self, group: Sequence[bytes]) -> None:
        """Append one group's chunks."""
        framed = [_COUNT.pack(len(group))]
        for chunk in group:
            framed += (_LENGTH.pack(len(chunk)), chunk)
        self._put(b"".join(framed))
        self.entry.groups += 1
        self.entry.chunks += len(group)

    def commit(self) -> PartFile:
        """Put the file in place; return its entry."""
        self.out.commit()
        self.entry.sha256 = self.sha256.hexdigest()
        return self.entry


class PartWriter:
    """Writes part ``number`` in ``folder``: ``add(stream, group)`` for each group, then
    ``commit(counts)``. Unless committed, closing ``stack`` removes what was written."""

    def __init__(self, stack: ExitStack, folder: str, number: int, streams: Sequence[str]):
        self.folder, self.number = folder, number
        self.streams = {s: _PartStream(stack, folder, part_name(number, s)) for s in streams}

    def add(self, stream: str, group: Sequence[bytes]) -> None:
        """Append one group of encoded chunks to ``stream``."""
        self.streams[stream].add(group)

    def commit(self, counts: dict[str, Any]) -> PartEntry:
        """Put every file in place, then the entry that vouches for them; return it."""
        files = {name: s.commit() for name, s in self.streams.items()}
        entry = PartEntry(self.number, files, counts)
        _write_json(os.path.join(self.folder, part_name(self.number, "json")), asdict(entry))
        return entry


def read_groups(path: str, sha256: str | None = None) -> Iterator[list[bytes]]:
    """Yield the groups of a part file; InputError when it is truncated, not a part file,
    or (given ``sha256``) not the file its entry vouches for. Read a block at a time: the
    groups whole in it are cut out of it, the rest waits for the next block."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC))
            digest.update(head)
            if head != MAGIC:
                raise InputError(f"{path}: not a converter part file")
            rest = b""
            while block := f.read(max(READ_BLOCK, 2 * len(rest))):
                digest.update(block)
                data = rest + block if rest else block
                groups, at = _whole_groups(data)
                yield from groups
                rest = data[at:]
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if rest:
        raise InputError(f"{path}: truncated part file")
    if sha256 is not None and digest.hexdigest() != sha256:
        raise InputError(f"{path}: checksum differs from its entry: the part was changed")


def _whole_groups(data: bytes) -> tuple[list[list[bytes]], int]:
    """The groups lying whole in ``data`` and the offset after the last of them."""
    groups: list[list[bytes]] = []
    at, end = 0, len(data)
    count_size, length_size = _COUNT.size, _LENGTH.size
    count_of, length_of = _COUNT.unpack_from, _LENGTH.unpack_from
    while at + count_size <= end:
        (count,) = count_of(data, at)
        pos, group = at + count_size, []
        for _ in range(count):
            if pos + length_size > end:
                return groups, at
            (length,) = length_of(data, pos)
            pos += length_size
            if pos + length > end:
                return groups, at
            group.append(data[pos : pos + length])
            pos += length
        groups.append(group)
        at = pos
    return groups, at


@dataclass
class Manifest:
    """The parts of one job in ``folder``: ``job`` says what they are parts of (inputs,
    options; anything JSON), ``parts`` how many, ``entries`` those finished."""

    folder: str
    job: dict[str, Any]
    parts: int
    entries: dict[int, PartEntry] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: str, job: dict[str, Any], parts: int) -> Manifest:
        """Start (or resume) the parts of ``job`` in ``folder``: the entries of intact parts
        already there are kept. UsageError when ``folder`` holds the parts of another job."""
        path = os.path.join(folder, MANIFEST)
        try:
            with open(path, "rb") as f:
                known = orjson.loads(f.read())
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            manifest = cls(folder, job, parts)
            _write_json(path, manifest.to_json())
            return manifest
        except (OSError, orjson.JSONDecodeError) as exc:
            raise InputError(f"{path}: cannot read: {exc}") from None
        if known.get("job") != job or known.get("parts") != parts:
            raise UsageError(
                f"{folder}: holds the parts of another job; remove it or choose another folder"
            )
        manifest = cls(folder, job, parts)
        manifest.clean()
        for number in range(parts):
            entry = _load_entry(os.path.join(folder, part_name(number, "json")))
            if entry is not None and entry.intact(folder):
                manifest.entries[number] = entry
        return manifest

    def clean(self) -> None:
        """Remove the temporary files of parts killed while they were written (call it only
        while no part is being made)."""
        for name in os.listdir(self.folder):
            if name.startswith(".part-") and name.endswith(".tmp"):
                os.unlink(os.path.join(self.folder, name))

    def pending(self) -> list[int]:
        """The parts still to make, in order."""
        return [n for n in range(self.parts) if n not in self.entries]

    def add(self, entry: PartEntry) -> None:
        """Record a finished part."""
        self.entries[entry.number] = entry

    def totals(self) -> dict[str, Any]:
        """The counts of every part added up (see :class:`PartEntry`)."""
        total: dict[str, Any] = {}
        for number in range(self.parts):
            total = add_counts(total, self.entries[number].counts)
        return total

    def to_json(self) -> dict[str, Any]:
        """The manifest document: the job, the part count, the entries in order, the totals."""
        document: dict[str, Any] = {"format": 1, "job": self.job, "parts": self.parts}
        if not self.pending():
            document["entries"] = [asdict(self.entries[n]) for n in range(self.parts)]
            document["totals"] = self.totals()
        return document

    def save(self) -> None:
        """Write ``manifest.json`` (atomically)."""
        _write_json(os.path.join(self.folder, MANIFEST), self.to_json())


def run_parts(
    manifest: Manifest,
    task_for: Callable[[int], Callable[[], PartEntry]],
    made: Callable[[PartEntry], None] | None = None,
    **engine: Any,
) -> list[int]:
    """Make the parts still pending, each by the task ``task_for(number)`` (which writes it
    with :class:`PartWriter` and returns its entry), on the engine ``engine`` describes
    (:func:`~converter.scale.engines.run_tasks` options); ``made(entry)`` is called as each
    part is recorded, while later parts are being made. Save the manifest; return the parts
    made (the others were intact already)."""
    pending = manifest.pending()

    def record(_number: int, entry: PartEntry) -> None:
        manifest.add(entry)
        if made is not None:
            made(entry)

    run_tasks([task_for(n) for n in pending], done=record, **engine)
    manifest.clean()
    manifest.save()
    return pending


def _load_entry(path: str) -> PartEntry | None:
    try:
        with open(path, "rb") as f:
            raw = orjson.loads(f.read())
        files = {name: PartFile(**f) for name, f in raw["files"].items()}
        return PartEntry(raw["number"], files, raw["counts"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None  # missing or damaged: the part is made again


def _write_json(path: str, document: dict[str, Any]) -> None:
    out = open_output(path)
    try:
        out.stream.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        out.commit()
    finally:
        out.discard()


def add_counts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``a`` and ``b`` added up: numbers summed, mappings merged key by key, lists joined;
    any other value must be equal in both (ValueError otherwise)."""
    total = dict(a)
    for key, value in b.items():
        if key not in total:
            total[key] = value
        elif isinstance(value, dict) and isinstance(total[key], dict):
            total[key] = add_counts(total[key], value)
        elif _addable(total[key], value):
            total[key] = total[key] + value
        elif total[key] != value:
            raise ValueError(f"count {key!r} differs between parts: {total[key]!r}, {value!r}")
    return total


def _addable(a: Any, b: Any) -> bool:
    """Two lists, or two numbers (not booleans)."""
    if isinstance(a, list) and isinstance(b, list):
        return True
    numbers = (a, b)
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers)


class InOrder:
    """Hands the parts of ``manifest`` to ``take`` in part order, each once it and every part
    before it are made: call it whenever a part is recorded (and once for those intact)."""

    def __init__(self, manifest: Manifest, take: Callable[[PartEntry], None]) -> None:
        self.manifest, self.take, self.next = manifest, take, 0

    def __call__(self, _entry: PartEntry | None = None) -> None:
        """Hand on the parts now ready."""
        entries = self.manifest.entries
        while self.next < self.manifest.parts and self.next in entries:
            self.take(entries[self.next])
            self.next += 1


class StreamMerge:
    """Stream ``stream`` of the parts, given in order with :meth:`add`, into ``output``
    through the writer ``make_writer`` returns, batched as a single run batches them. Every
    part is checked against its entry as it is read; the output is atomic: in place once
    :meth:`commit` is called, removed when ``stack`` closes before."""

    def __init__(
        self,
        stack: ExitStack,
        folder: str,
        stream: str,
        output: str,
        make_writer: Callable[[BinaryIO], Writer],
    ) -> None:
        self.folder, self.stream = folder, stream
        self.out = start_output(stack, output)
        self.writer = make_writer(self.out.stream)
        self.batch: list[bytes] = []
        self.groups = 0

    def add(self, entry: PartEntry) -> None:
        """Write the groups of the next part (those that fill a batch)."""
        part = entry.files[self.stream]
        for group in read_groups(os.path.join(self.folder, part.file), part.sha256):
            self.batch += group
            self.groups += 1
            if len(self.batch) >= BATCH:
                self.writer.write(self.batch)
                self.batch = []

    def commit(self) -> int:
        """Write the last batch, finish the output, put it in place; return the groups."""
        self.writer.write(self.batch)
        self.writer.close()
        self.out.commit()
        return self.groups


def merge(
    manifest: Manifest, stream: str, output: str, make_writer: Callable[[BinaryIO], Writer]
) -> int:
    """Stream the groups of ``stream`` of every part, in order, into ``output`` (see
    :class:`StreamMerge`); return the groups written."""
    if manifest.pending():
        raise UsageError(f"{manifest.folder}: parts {manifest.pending()} are not made yet")
    with ExitStack() as stack:
        merged = StreamMerge(stack, manifest.folder, stream, output, make_writer)
        InOrder(manifest, merged.add)()
        return merged.commit()
