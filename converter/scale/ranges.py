"""One range of a parallel ``convert stream``: its spans read (JSON Lines, or slices of JSON
arrays), the single run's loop (converter.loop) over its groups and margins, the result
written as a part.

A range task reads each source's spans (seek, a bounded read, no sniffing) as one stream of
batches and items that carry the source's global index and the file's line numbers, so ``seq``,
rejects and report read as in a single run. The groups of the margin before ``start`` are
processed for state only (see :class:`converter.loop.RangeView`). The part holds three streams:
``out`` (the encoded groups), ``rejects`` (one rejects line per chunk) and ``keys`` (the
duplicate check's ``(index, key)`` pairs, packed, a block of :data:`KEYS_BLOCK` pairs per group,
written as they come: a range holds none of them); its entry's counts are the range's report
counts.
"""

from __future__ import annotations

import io
import time
from array import array
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from converter.chunks import PositionedReader
from converter.errors import InputError
from converter.hookcalls import plugins_blamed
from converter.inputs import DiskReader, Input
from converter.job import StreamJob, resolve_writer, resolve_writer_options
from converter.loop import GroupLoop, RangeView
from converter.model import Record, Rejected
from converter.plugins import build_manager, build_registry
from converter.readers import Batch, Item, flatten, read_batches, read_jsonl_batches, take
from converter.rejects import reject_line
from converter.report import RunReport
from converter.scale.parts import PartEntry, PartWriter, separator_of
from converter.scale.plan import Span
from converter.scale.shard import shard_folder
from converter.stages import DISCARD, Stage, plan_stage

#: ``(index, key)`` pairs gathered before they are written to the part as one group.
KEYS_BLOCK = 1 << 13


class _Bounded:
    """The next ``left`` bytes of a file, then ``tail``."""

    def __init__(self, raw: BinaryIO, left: int, tail: bytes = b"") -> None:
        self.raw, self.left, self.tail = raw, left, tail

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left for a negative size), never past the end."""
        data = self.raw.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        if not data and self.tail:
            data, self.tail = self.tail, b""
        return data


def span_parts(label: str, span: Span) -> Iterator[Batch | Item]:
    """The ``span.records`` records of a span, in batches and items, placed as in the whole
    file: JSON Lines numbered with the file's line numbers; a slice of an array read between
    stand-in brackets, its errors placed at the file's lines, columns and bytes."""
    try:
        raw = open(span.path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"{span.path}: cannot read: {exc.strerror or exc}") from None
    with raw:
        raw.seek(span.start)
        tail = b"]" if span.closes else b""
        bounded = cast(BinaryIO, _Bounded(raw, span.end - span.start, tail))
        stream = PositionedReader(label, b"", bounded, b"")
        if span.shape == "jsonl":
            parts = read_jsonl_batches(stream, span.line)
        else:
            lead = b"[" if span.opens else b""
            stream.push_back(lead, span.start - len(lead), span.line - 1, span.line_start)
            parts = read_batches(_input(label, span.path, "array", stream))
        yield from take(parts, span.records)


def source_parts(label: str, spans: Sequence[Span]) -> Iterator[Batch | Item]:
    """The batches and items of a source's spans, one after the other."""
    for span in spans:
        yield from span_parts(label, span)


def source_items(label: str, spans: Sequence[Span]) -> Iterator[Item]:
    """The items of a source's spans, one after the other."""
    return flatten(source_parts(label, spans))


def stand_in(lang: str, given: str) -> Input:
    """The Input a range's loop names in rejects lines: the source as given, JSON Lines."""
    label = f"{lang}={given}"
    return _input(label, given, "jsonl", PositionedReader(label, b"", io.BytesIO(), b""))


def _input(label: str, path: str, shape: str, stream: PositionedReader) -> Input:
    """An Input over ``stream`` with nothing of its own on disk (a range reads its spans)."""
    return Input(label, path, shape, stream, DiskReader(cast(BinaryIO, io.BytesIO()), False), None)


class _PartRejects:
    """The rejects of a range: one line per chunk of the part's ``rejects`` stream. A record
    of a shard folder (given as the folder or as its index file) is named by its shard file
    (its ``line`` is that file's), found from its own index among the spans the range read
    from ``first`` on."""

    def __init__(
        self, part: PartWriter, inputs: list[Input], spans: tuple[tuple[Span, ...], ...], first: int
    ) -> None:
        self.part = part
        self.shards = {
            id(source): own for source, own in zip(inputs, spans) if shard_folder(source.path)
        }
        self.first = first
        self.files: dict[str, Input] = {}

    def write(
        self, source: Input, member: Record | Rejected, reasons: list[str], stage: str | None = None
    ) -> None:
        """Add one rejects line to the part."""
        spans = self.shards.get(id(source))
        if spans:
            tags = member.tags if type(member) is Record else {}
            offset = tags.get("source_index", member.index) - self.first
            for span in spans:
                if 0 <= offset < span.records:
                    source = self.files.get(span.path) or self.files.setdefault(
                        span.path, stand_in(member.lang, span.path)
                    )
                    break
                offset -= span.records
        self.part.add("rejects", [reject_line(source, member, reasons, stage)])


class _PartKeys:
    """The duplicate check's ``(index, key)`` pairs of a range (what :class:`RangeView` keeps
    in ``keys``), written to the part's ``keys`` stream a block at a time."""

    def __init__(self, part: PartWriter) -> None:
        self.part = part
        self.values = array("q")

    def append(self, pair: tuple[int, int]) -> None:
        """Add one pair; write the block once it is full."""
        self.values.extend(pair)
        if len(self.values) >= 2 * KEYS_BLOCK:
            self.flush()

    def flush(self) -> None:
        """Write the pairs gathered so far as one group."""
        if self.values:
            self.part.add("keys", [self.values.tobytes()])
            self.values = array("q")


#: The streams of a range's part: the encoded groups, the rejects lines, the duplicate keys.
RANGE_STREAMS = ("out", "rejects", "keys")


@dataclass(frozen=True)
class RangeTask:
    """Make part ``number`` in ``folder``: groups [start, stop) of ``job`` (stop None: to the
    sources' end), read from group ``first`` on out of ``spans`` (per source, in order).

    ``job`` is the run's job with every source's input format fixed (detected once for the
    run) and no ``limit`` (the plan holds it). With ``--key``, ``keys`` is the run's key index
    (converter.scale.keys) the groups' partners are looked up in, and the task with
    ``leftovers`` rejects the records of the other sources no group takes."""

    job: StreamJob
    folder: str
    number: int
    first: int
    start: int
    stop: int | None
    spans: tuple[tuple[Span, ...], ...]
    keys: str | None = None
    leftovers: bool = False
    #: Each source's records, as planned (read in all by a source that ends).
    records: tuple[int, ...] = ()

    def __call__(self) -> PartEntry:
        """Run the range; return the part's entry. (In a worker: an error in a plugin's code
        comes back as the PluginError naming it.)"""
        with plugins_blamed():
            return self._run()

    def _run(self) -> PartEntry:
        began = time.perf_counter()
        job = self.job
        registry = build_registry(pm := build_manager(dict.fromkeys(job.plugins)))
        spec = resolve_writer(job, registry)
        writer = spec.make(DISCARD, resolve_writer_options(job, spec))
        plan = plan_stage(Stage("", job), job, registry, pm, spec.name, "")
        labels = [f"{lang}={given}" for lang, given in job.sources]
        parts = [source_parts(label, spans) for label, spans in zip(labels, self.spans)]
        taggers, interleave, policies, conditions, _ = plan.pieces
        with ExitStack() as stack:
            streams = dict.fromkeys(RANGE_STREAMS, b"") | {"out": separator_of(writer) or b""}
            part = PartWriter(stack, self.folder, self.number, streams)
            keys = _PartKeys(part)
            view = RangeView(parts, self.first, self.start, self.stop, keys, records=self.records)
            if self.keys is not None:
                from converter.scale.keys import KeyLookup  # keys.py imports this module

                lookup = KeyLookup(self.keys, job, registry, self.leftovers)
                view.partners = stack.enter_context(closing(lookup))
            inputs = [stand_in(lang, given) for lang, given in job.sources]
            loop = GroupLoop(
                job,
                registry,
                inputs,
                plan.report,
                writer,
                _PartRejects(part, inputs, self.spans, self.first),
                taggers,
                interleave,
                policies,
                conditions,
                view=view,
            )
            written = records = 0
            for _, chunks in loop.groups():
                part.add("out", chunks)
                written += 1
                records += len(chunks)
            loop.settle(written, records)
            keys.flush()
            counts = part_counts(loop.report)
            counts["range_seconds"] = [round(time.perf_counter() - began, 3)]
            if job.realign and loop.aligner is not None:
                counts["pairing"] = [pairing_moved(loop.aligner.repairs, self.start, self.stop)]
            return part.commit(counts)


def pairing_moved(
    repairs: Sequence[dict[str, Any]], start: int, stop: int | None
) -> dict[str, Any]:
    """How far ``--realign``'s repairs moved each source's pairing (by source number) before
    ``start`` (what the range found again in its margin) and before ``stop`` (what it hands on
    to the next range; None for the last range)."""

    def moved(before: int | None) -> dict[str, int]:
        shifts: dict[str, int] = {}
        for repair in repairs:
            if before is None or repair["from_index"] < before:
                k = str(repair["source"])
                shifts[k] = shifts.get(k, 0) + repair["shift"]
        return {k: d for k, d in shifts.items() if d}

    return {"start": start, "found": moved(start), "handed_on": moved(stop)}


def part_counts(report: RunReport) -> dict[str, Any]:
    """A range's report as counts that add up across parts (converter.scale.parts)."""
    return {
        "groups": {
            "read": report.groups_read,
            "written": report.groups_written,
            "rejected": report.groups_rejected,
            "filtered": report.groups_filtered,
            "skipped": report.groups_skipped,
        },
        "records_written": report.records_written,
        "rejects_written": report.rejects_written,
        "selection": report.selection,
        "filters": report.filters,
        "sources": {
            s.lang: {
                "read": s.read,
                "written": s.written,
                "rejected": s.rejected,
                "filtered": s.filtered,
                "unpaired": s.unpaired,
                "skipped": s.skipped,
                "reasons": dict(s.reasons),
                "dropped_keys": dict(s.dropped_keys),
            }
            for s in report.sources
        },
        "checks": {
            name: {"warned": c.warned, "rejected": c.rejected, "examples": c.examples}
            for name, c in report.checks.items()
        },
        "repairs": report.repairs,
    }


def read_keys(payload: bytes) -> Iterator[tuple[int, int]]:
    """The ``(index, key)`` pairs of one block of a part's ``keys`` stream."""
    values = array("q")
    values.frombytes(payload)
    return zip(values[::2], values[1::2])
