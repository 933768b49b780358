"""Part files, the manifest, merge and resume.

A part holds the encoded output of one range as it left the encoder: groups of chunks (one
chunk per record), in order, written a block of about :data:`BLOCK_BYTES` at a time. A block
holds its groups' chunks joined with the stream's separator — the output writer's (see
:func:`separator_of`): ``b""`` for JSON Lines, ``b",\\n  "`` for the ``json`` array — so the
merge hands a block's payload to the writer as it is, one write per block, and the writer adds
what it adds between two writes and at the ends (``[``, ``\\n]``): the merged file is
byte-identical to a single run's. For a writer whose output depends on how the chunks are
batched (Parquet's row groups), the chunks are stored plainly joined and the merge cuts them
out again, by the block's index, and batches them exactly as a single run does (whole groups,
written once ``BATCH`` chunks or ``BATCH_BYTES`` are gathered: converter.stages.WriteBatch).

On disk (``part-00003.out``): the magic line ``converter-part 2``, then per block a head (the
payload's bytes as uint64, the groups and the chunks as uint32), the chunks of each group
(uint32 each), the length of each chunk (uint64 each) and the payload; numbers in the machine's
byte order. A part may hold several named streams (``out``, ``rejects``...), each its own file.
Every file is written atomically and its size and CRC-32 (against truncation and damage, not
against tampering) kept in the part's entry (``part-00003.json``, written last, by the task that
made the part); ``manifest.json`` names the job and, once complete, lists every entry. Resume:
a part whose entry is there and whose files still match their sizes and checksums is not made
again. A part of another version (another magic line, another entry) is refused, so made again.
"""

from __future__ import annotations

import os
import struct
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from itertools import accumulate, pairwise
from typing import Any, BinaryIO

import orjson

from converter.errors import InputError, UsageError
from converter.model import Writer
from converter.output import AtomicOutput, commit_all, json_document, open_output, start_output
from converter.scale.engines import run_tasks
from converter.stages import WriteBatch

MAGIC = b"converter-part 2\n"
MANIFEST = "manifest.json"
#: A block's head: its payload's bytes, its groups, its chunks.
_HEAD = struct.Struct("=QII")
#: The arrays of a block's index: chunks per group, bytes per chunk.
_COUNTS, _LENGTHS = "I", "Q"
_COUNT_SIZE, _LENGTH_SIZE = array(_COUNTS).itemsize, array(_LENGTHS).itemsize
#: Payload bytes a part stream gathers before it writes them as one block.
BLOCK_BYTES = 1 << 18


def separator_of(writer: Writer) -> bytes | None:
    """What ``writer`` puts between two chunks, when its output is its chunks joined with it
    however they are batched (its ``separator`` attribute: ``write(chunks)`` does what
    ``write([separator.join(chunks)])`` does); None when batching matters (Parquet), and when
    a subclass overrides ``write`` without saying its separator again."""
    mro = type(writer).__mro__
    declared = next((c for c in mro if "separator" in vars(c)), None)
    writes = next((c for c in mro if "write" in vars(c)), None)
    if declared is None or writes is None or not issubclass(declared, writes):
        return None  # no separator, or a subclass's own write() that may not keep it
    joins: bytes = writer.separator  # type: ignore[attr-defined]
    return joins


@dataclass
class PartFile:
    """One stream of a part: file name (in the parts folder), the separator its chunks are
    joined with, groups, chunks, and the file's size and CRC-32."""

    file: str
    separator: str = ""
    groups: int = 0
    chunks: int = 0
    size: int = 0
    crc32: int = 0

    def intact(self, folder: str) -> bool:
        """Whether the file is in ``folder`` with its recorded size and checksum."""
        path = os.path.join(folder, self.file)
        try:
            if os.path.getsize(path) != self.size:
                return False
            with open(path, "rb") as f:
                crc = 0
                while block := f.read(BLOCK_BYTES):
                    crc = zlib.crc32(block, crc)
        except FileNotFoundError:
            return False
        return crc == self.crc32


@dataclass
class PartEntry:
    """A finished part: its number, its files by stream name, and its counts (which add up
    across parts: numbers are summed, mappings merged, lists joined in part order)."""

    number: int
    files: dict[str, PartFile]
    counts: dict[str, Any] = field(default_factory=dict)

    def belongs(self, number: int, streams: Iterable[str]) -> bool:
        """Whether this is the entry of part ``number`` with every stream in ``streams``,
        naming that part's files (not one copied from another part)."""
        named = all(f.file == part_name(number, s) for s, f in self.files.items())
        return self.number == number and named and self.files.keys() >= set(streams)

    def intact(self, folder: str) -> bool:
        """Whether every file of the part is there with its recorded size and checksum, and
        the counts (a range's: converter.scale.ranges.part_counts) say as many groups and
        records written as its output holds."""
        out, groups = self.files.get("out"), self.counts.get("groups")
        if out is not None and isinstance(groups, dict) and "written" in groups:
            written = groups["written"], self.counts.get("records_written", out.chunks)
            if written != (out.groups, out.chunks):
                return False
        return all(f.intact(folder) for f in self.files.values())


def part_name(number: int, stream: str) -> str:
    """The file name of stream ``stream`` of part ``number``."""
    return f"part-{number:05d}.{stream}"


class _PartStream:
    """One stream of a part being written, atomically, a block at a time, its size and CRC-32
    taken as it goes."""

    def __init__(self, stack: ExitStack, folder: str, file: str, separator: bytes) -> None:
        self.out: AtomicOutput = start_output(stack, os.path.join(folder, file))
        self.entry = PartFile(file, separator.decode())
        self.separator = separator
        self.chunks: list[bytes] = []
        self.counts = array(_COUNTS)
        self.gathered = 0
        self._put(MAGIC)

    def _put(self, data: bytes) -> None:
        self.out.stream.write(data)
        self.entry.crc32 = zlib.crc32(data, self.entry.crc32)
        self.entry.size += len(data)

    def add(self, group: Sequence[bytes]) -> None:
        """Append one group's chunks (written once a block's worth is gathered)."""
        self.chunks += group
        self.counts.append(len(group))
        self.gathered += sum(map(len, group))
        if self.gathered >= BLOCK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write the groups gathered as one block."""
        if not self.counts:
            return
        payload = self.separator.join(self.chunks)
        head = _HEAD.pack(len(payload), len(self.counts), len(self.chunks))
        lengths = array(_LENGTHS, map(len, self.chunks))
        self._put(head + self.counts.tobytes() + lengths.tobytes())
        self._put(payload)
        self.entry.groups += len(self.counts)
        self.entry.chunks += len(self.chunks)
        self.chunks, self.counts, self.gathered = [], array(_COUNTS), 0

    def commit(self) -> PartFile:
        """Write what is left, put the file in place; return its entry."""
        self.flush()
        self.out.commit()
        return self.entry


class PartWriter:
    """Writes part ``number`` in ``folder``: ``add(stream, group)`` for each group, then
    ``commit(counts)``. ``streams`` names each stream and the separator its chunks are joined
    with (:func:`separator_of` the writer that will merge it; ``b""`` for any other). Unless
    committed, closing ``stack`` removes what was written."""

    def __init__(
        self, stack: ExitStack, folder: str, number: int, streams: Mapping[str, bytes]
    ) -> None:
        self.folder, self.number = folder, number
        self.streams = {
            s: _PartStream(stack, folder, part_name(number, s), separator)
            for s, separator in streams.items()
        }

    def add(self, stream: str, group: Sequence[bytes]) -> None:
        """Append one group of encoded chunks to ``stream``."""
        self.streams[stream].add(group)

    def commit(self, counts: dict[str, Any]) -> PartEntry:
        """Put every file in place, then the entry that vouches for them; return it."""
        files = {name: s.commit() for name, s in self.streams.items()}
        entry = PartEntry(self.number, files, counts)
        _write_json(os.path.join(self.folder, part_name(self.number, "json")), asdict(entry))
        return entry


@dataclass
class Block:
    """One block of a part stream: its groups' chunk counts, its chunks' lengths, and its
    payload (the chunks joined with the stream's separator)."""

    counts: array[int]
    lengths: array[int]
    payload: bytes

    def groups(self) -> Iterator[list[bytes]]:
        """The block's groups, each the list of its chunks (of a stream joined with ``b""``)."""
        bounds = accumulate(self.lengths, initial=0)
        chunks = [self.payload[a:b] for a, b in pairwise(bounds)]
        for a, b in pairwise(accumulate(self.counts, initial=0)):
            yield chunks[a:b]


def read_blocks(path: str, part: PartFile) -> Iterator[Block]:
    """Yield the blocks of the part file ``part`` names; InputError when it is not a part
    file (of this version), or not the file its entry vouches for (size, CRC-32)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC))
            if head != MAGIC:
                raise InputError(f"{path}: not a converter part file (of this version)")
            crc, size = zlib.crc32(head), len(head)
            while head := f.read(_HEAD.size):
                if len(head) < _HEAD.size:
                    raise _changed(path)
                payload_size, groups, chunks = _HEAD.unpack(head)
                cut = groups * _COUNT_SIZE
                index_size = cut + chunks * _LENGTH_SIZE
                size += len(head) + index_size + payload_size
                if size > part.size:
                    raise _changed(path)
                index, payload = f.read(index_size), f.read(payload_size)
                if len(index) < index_size or len(payload) < payload_size:
                    raise _changed(path)
                crc = zlib.crc32(payload, zlib.crc32(index, zlib.crc32(head, crc)))
                yield Block(_array(_COUNTS, index[:cut]), _array(_LENGTHS, index[cut:]), payload)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size != part.size or crc != part.crc32:
        raise _changed(path)


def _changed(path: str) -> InputError:
    """The error for a part file that is not the one its entry vouches for."""
    return InputError(f"{path}: size or checksum differs from its entry: the part was changed")


def _array(typecode: str, data: bytes) -> array[int]:
    """The numbers ``data`` holds."""
    numbers = array(typecode)
    numbers.frombytes(data)
    return numbers


def read_groups(path: str, part: PartFile) -> Iterator[list[bytes]]:
    """Yield the groups of the part file ``part`` names (a stream joined with ``b""``),
    checked as :func:`read_blocks` checks them."""
    for block in read_blocks(path, part):
        yield from block.groups()


@dataclass
class Manifest:
    """The parts of one job in ``folder``: ``job`` says what they are parts of (inputs,
    options; anything JSON), ``parts`` how many, ``entries`` those finished."""

    folder: str
    job: dict[str, Any]
    parts: int
    entries: dict[int, PartEntry] = field(default_factory=dict)

    @classmethod
    def open(
        cls, folder: str, job: dict[str, Any], parts: int, streams: Iterable[str] = ("out",)
    ) -> Manifest:
        """Start (or resume) the parts of ``job`` in ``folder``: the entries of intact parts
        already there, with every stream in ``streams``, are kept. UsageError when ``folder``
        holds the parts of another job."""
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
            if entry is not None and entry.belongs(number, streams) and entry.intact(folder):
                manifest.entries[number] = entry
        return manifest

    def clean(self) -> None:
        """Remove the temporary files of parts killed while they were written (call it only
        while no part is being made)."""
        remove_temporaries(self.folder)

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
        document: dict[str, Any] = {"format": 2, "job": self.job, "parts": self.parts}
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


def remove_temporaries(folder: str) -> None:
    """Remove what parts killed while they were written left in ``folder`` (call it only while
    no part is being made)."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name.startswith(".part-") and name.endswith(".tmp"):
            os.unlink(os.path.join(folder, name))


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
        out.stream.write(json_document(document))
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
    through the writer ``make_writer`` returns: a part joined with the writer's separator a
    block at a time, one write each; any other (joined with ``b""``) group by group, batched as
    a single run batches them. Every part is checked against its entry as it is read; the
    output is atomic: in place once :meth:`commit` is called, removed when ``stack`` closes
    before."""

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
        self.joins = separator_of(self.writer)
        self.batch = WriteBatch()
        self.groups = 0

    def add(self, entry: PartEntry) -> None:
        """Write the next part (its groups that fill a batch, when it is batched)."""
        part = entry.files[self.stream]
        path = os.path.join(self.folder, part.file)
        if self.joins is not None and part.separator.encode() == self.joins:
            self._copy(path, part)
        elif not part.separator:
            self._batch(path, part)
        else:
            raise InputError(f"{path}: made for another output format")

    def _copy(self, path: str, part: PartFile) -> None:
        """Hand each block's payload to the writer as it is."""
        if self.batch.chunks:
            self.writer.write(self.batch.take())
        for block in read_blocks(path, part):
            if block.lengths:
                self.writer.write([block.payload])
            self.groups += len(block.counts)

    def _batch(self, path: str, part: PartFile) -> None:
        """Gather the part's groups into batches (:class:`converter.stages.WriteBatch`), each
        written once full."""
        for group in read_groups(path, part):
            self.groups += 1
            if self.batch.add(group):
                self.writer.write(self.batch.take())

    def finish(self) -> AtomicOutput:
        """Write the last batch and finish the output; it is put in place once committed."""
        self.writer.write(self.batch.take())
        self.writer.close()
        return self.out


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
        commit_all(stack, [merged.finish()])
        return merged.groups
