"""A range-parallel ``convert stream`` (``--jobs N``, ``--engine ray``, ``--parts DIR``): plan
ranges, make a part per range on an engine, merge the parts into the single run's output and
report.

The output and the rejects file are byte-identical to a single run's, and the report equal to
it apart from timings and its ``parallel`` section (engine, jobs, ranges, seconds). See
docs/scale-out.md for what v1 leaves out (each is a one-line usage error here).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import asdict, dataclass, replace
from functools import partial
from itertools import pairwise
from typing import Any

import orjson

from converter import __version__
from converter.alignment import HISTORY, MAX_SHIFT, WINDOW
from converter.errors import EXIT_OK, EXIT_REJECTED, InputError, UsageError, refuse_huge
from converter.job import StreamJob, resolve_writer, resolve_writer_options
from converter.loop import aligns
from converter.output import Companion, is_special, json_document
from converter.paths import check_run_paths, option
from converter.pipeline import run_stream
from converter.plugins import Registry, build_manager, build_registry
from converter.records import detect_format
from converter.rejects import default_rejects_path
from converter.report import EXAMPLES, RunReport
from converter.scale.engines import LocalPool, run_tasks
from converter.scale.keys import KEY_INDEX, build_key_index
from converter.scale.parts import InOrder, Manifest, PartEntry, remove_temporaries, run_parts
from converter.scale.plan import (
    BrokenArray,
    Plan,
    SourcePlan,
    Span,
    plan,
    source_files,
    spans_of,
)
from converter.scale.ranges import RANGE_STREAMS, RangeTask, source_items
from converter.scale.tail import Tail
from converter.selection import Selection
from converter.stages import Stage, plan_stage, report_file, spill_parent

#: Groups of learned state and of the aligner's window a range reads before its start.
MARGIN = HISTORY + 2 * WINDOW + 2
#: Groups a range reads past its end, so the aligner's window sees what a single run sees.
LOOKAHEAD = 2 * WINDOW + 2
#: The planner marks every UNIT-th record (or every gcd(K, UNIT)-th for a K that is not a
#: multiple of it); margins are read in whole units.
UNIT = 100
#: The smallest default range: smaller ones spend more on margins and start-up than they save.
MIN_RANGE = 10_000


@dataclass(frozen=True)
class Parallel:
    """How a range-parallel run is carried out (``convert stream`` options)."""

    engine: str = "local"
    jobs: int = 1
    address: str | None = None
    #: Groups per range (K); None: max(MIN_RANGE, groups / (4 * jobs)), rounded up to UNIT.
    range_records: int | None = None
    #: Where the parts and the manifest go; None: a temporary folder beside the output,
    #: removed after the merge.
    parts: str | None = None
    merge: bool = True
    resume: bool = False
    retries: int = 2


def check_parallel(job: StreamJob, options: Parallel) -> None:
    """UsageError for what range mode does not do in v1, or options that do not fit."""
    left_out = {
        "--limit with --key": job.key is not None and job.limit is not None,
        "--limit with --realign": job.realign and job.limit is not None,
        "--sample": job.sample is not None,
        "--shuffle": job.shuffle,
        "--split": bool(job.split),
        "--start/--stop": job.start != 0 or job.stop is not None,
        "--items-path": bool(job.items_paths),
        # (range mode reads a source in several processes, after planning it)
        "a source read once only (stdin, a pipe, a FIFO, /dev/fd/N)": any(
            is_special(path) for _, path in job.sources
        ),
    }
    for name, given in left_out.items():
        if given:
            raise UsageError(
                f"{name} is not supported in range mode (--jobs, --engine ray, --parts) yet: "
                "run without those"
            )
    if options.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {options.jobs}")
    if options.range_records is not None and options.range_records < 1:
        raise UsageError(f"--range-records must be at least 1, not {options.range_records}")
    refuse_huge("--jobs", options.jobs)
    refuse_huge("--range-records", options.range_records)
    if options.parts is None and (options.resume or not options.merge):
        raise UsageError("--resume and --no-merge need --parts DIR (where the parts are kept)")
    if options.address is not None and options.engine != "ray":
        raise UsageError("--address is a Ray cluster's: add --engine ray")


def _check_checks_run_in_ranges(policies: dict[str, str], registry: Registry) -> None:
    """UsageError for a check on that may keep state further back than a range's margin
    (:meth:`converter.model.Check.runs_in_ranges`): each range would start it afresh."""
    for name, policy in policies.items():
        if policy != "off" and not registry.checks[name].runs_in_ranges():
            owner = registry.owners["check", name]
            raise UsageError(
                f"check {name!r} of plugin {owner!r} may keep state across groups (it has "
                "configure), which range mode cannot carry from one range to the next: "
                f"--check {name}=off, or run without --jobs/--parts (a check that keeps none "
                "says so with range_safe=True)"
            )


def _single_reads(job: StreamJob) -> bool:
    """Whether a single run reads ``job``'s sources (not a shard folder): range mode hands it
    sources it would refuse or stop on (ending unequally, an array broken), to say where."""
    return all(source_files(given) == [given] for _, given in job.sources)


def run_parallel(
    job: StreamJob, options: Parallel, progress: Callable[[int], None] | None = None
) -> tuple[RunReport, int]:
    """Run ``job`` as ranges on ``options.engine``; return the merged report and the exit
    status, as :func:`converter.pipeline.run_stream` does. ``progress`` gets the input bytes
    done (the ranges merged so far, as a share of the sources' size) as each part is merged."""
    check_parallel(job, options)
    check_run_paths(
        job, folders=[option("--parts", options.parts)] if options.parts is not None else []
    )
    began = time.perf_counter()
    try:
        with ExitStack() as stack:
            workers = None
            if options.engine == "local":  # one per source, started now: the plan scans in them
                pool = LocalPool(options.jobs).start(len(job.sources))
                workers = stack.enter_context(closing(pool))
            return _run_ranges(job, options, progress, workers, began)
    finally:  # the workers ended: what the ranges cut short left in --parts goes
        if options.parts is not None:
            remove_temporaries(options.parts)


def _run_ranges(
    job: StreamJob,
    options: Parallel,
    progress: Callable[[int], None] | None,
    workers: LocalPool | None,
    began: float,
) -> tuple[RunReport, int]:
    """:func:`run_parallel` once checked, the local engine's workers started."""
    registry = build_registry(pm := build_manager(dict.fromkeys(job.plugins)))
    spec = resolve_writer(job, registry)
    writer_options = resolve_writer_options(job, spec)
    rejects_path = job.rejects or default_rejects_path(job.output)
    stage = plan_stage(Stage("", job), job, registry, pm, spec.name, rejects_path)
    if stage.pieces.policies.get("duplicate") == "reject":
        raise UsageError(
            "the duplicate check cannot reject in range mode yet (it settles duplicates at the "
            "merge): --check duplicate=warn (off with --strict), or run without --jobs/--parts"
        )
    _check_checks_run_in_ranges(stage.pieces.policies, registry)
    selection = Selection.of(job)
    unit = math.gcd(options.range_records, UNIT) if options.range_records else UNIT
    scan = partial(run_tasks, pool=workers, jobs=options.jobs) if workers else None
    first_only = job.key is not None
    # past --limit, what a single run's aligner reads ahead
    ahead = LOOKAHEAD if aligns(job, stage.pieces.policies) else 0
    try:
        planned = plan(job.sources, unit, job.limit, first_only, scan, ahead=ahead)
    except BrokenArray:
        if not _single_reads(job):
            raise
        return run_stream(job, progress)
    shortest = min(s.records for s in planned.sources)
    paired_all = job.limit is None or job.limit > shortest
    if job.key is None and not job.realign and job.unequal == "error" and paired_all:
        if not planned.equal and _single_reads(job):
            # (a shift's hint, or a record broken before the shorter source ends, which the
            # scan, following strings without parsing them, may have counted wrong)
            return run_stream(job, progress)
        planned.check_equal()
    every = options.range_records or _default_range(planned.groups, options.jobs)
    formats = _formats(job, planned, registry)
    folder = _parts_folder(job, options)
    try:
        task_job = replace(
            job, format=spec.name, input_formats=formats, limit=None, dataset_info=None
        )
        keys = os.path.join(folder, KEY_INDEX) if job.key is not None else None
        tasks = _tasks(task_job, planned, every, folder, job.limit, ahead, keys)
        identity = _identity(job, spec.name, every, planned)
        manifest = Manifest.open(folder, identity, len(tasks), RANGE_STREAMS)
        if keys is not None and manifest.pending():
            build_key_index(keys, task_job, planned, registry)
        plan_seconds = time.perf_counter() - began
        report = stage.report
        with ExitStack() as stack:
            # the inputs' SHA-256 for the report, hashed beside the ranges (hashlib lets go
            # of the GIL), not after them
            pool = stack.enter_context(ThreadPoolExecutor(1))
            digests = pool.submit(_digests, planned) if job.report is not None else None
            writer = (spec, writer_options)
            tail = Tail(stack, folder, job, writer, rejects_path, report, options.merge)
            if not options.merge:  # the records and rejects stay in the parts
                report.output = report.rejects = folder
            in_order = InOrder(manifest, _progressing(tail.add, tasks, planned, progress))
            in_order()  # the parts intact already (--resume)
            try:
                made = run_parts(
                    manifest,
                    lambda n: tasks[n],
                    in_order,
                    engine=options.engine,
                    pool=workers,
                    jobs=options.jobs,
                    retries=options.retries,
                    address=options.address,
                )
            except InputError:
                if job.realign:  # the ranges before it may have lost track: the cause, said
                    _check_ranges_agree_on_pairing(_pairing_made(manifest), planned)
                raise
            merging = time.perf_counter()
            totals = manifest.totals()
            _apply(report, totals, selection)
            read = formats if tasks else {}  # a run that reads nothing detects nothing
            _settle_sources(report, planned, read, digests.result() if digests else None)
            moved = totals.get("pairing", [])
            if job.realign and len(moved) == len(tasks):  # (parts of an older version: none)
                _check_ranges_agree_on_pairing(moved, planned)
            if job.limit is None and job.stop is None:
                _check_every_record_counted(report, planned)
            status = EXIT_REJECTED if report.groups_rejected else EXIT_OK

            def files() -> list[Companion]:
                report.parallel = {
                    "engine": options.engine,
                    "jobs": options.jobs,
                    "range_records": every,
                    "ranges": len(tasks),
                    "made": len(made),
                    "plan_seconds": round(plan_seconds, 3),
                    "range_seconds": totals.get("range_seconds", []),
                    "merge_seconds": round(time.perf_counter() - merging, 3),
                    "merged": options.merge,
                }
                report.finish()
                document = report.to_json(status)
                return [] if job.report is None else [report_file(job.report, document)]

            tail.finish(report, files)
    finally:
        if options.parts is None:
            shutil.rmtree(folder, ignore_errors=True)
    return report, status


def _progressing(
    take: Callable[[PartEntry], None],
    tasks: Sequence[RangeTask],
    planned: Plan,
    progress: Callable[[int], None] | None,
) -> Callable[[PartEntry], None]:
    """``take``, then ``progress`` with the share of the input the parts taken so far (in
    order) cover: their spans' bytes (margins overlap) scaled to the sources' size."""
    if progress is None:
        return take
    spans = [sum(s.end - s.start for source in t.spans for s in source) for t in tasks]
    whole = sum(f.size for source in planned.sources for f in source.files)
    scale = whole / max(sum(spans), 1)

    def taken(entry: PartEntry) -> None:
        take(entry)
        progress(round(sum(spans[: entry.number + 1]) * scale))

    return taken


def _default_range(groups: int, jobs: int) -> int:
    """K: four ranges per job, at least MIN_RANGE groups, a multiple of UNIT."""
    return max(MIN_RANGE, -(-groups // (4 * jobs * UNIT)) * UNIT)


def _formats(job: StreamJob, planned: Plan, registry: Registry) -> dict[str, str]:
    """Each source's input format: given, or detected once from its first readable record
    (as a single run detects it), so that every range uses the same one."""
    formats = dict(job.input_formats)
    for (lang, given), source in zip(job.sources, planned.sources):
        if lang in formats:
            continue
        spans = [f.whole() for f in source.files]
        items = source_items(f"{lang}={given}", spans)  # closed when dropped
        first = next((item for item in items if item.error is None), None)
        if first is not None:
            formats[lang] = detect_format(first.value, registry.formats).name
    return formats


def _parts_folder(job: StreamJob, options: Parallel) -> str:
    """``--parts DIR`` (UsageError when it holds something and --resume is not given), or a
    new temporary folder beside the output."""
    if options.parts is None:
        return tempfile.mkdtemp(prefix=".convert-parts-", dir=spill_parent(job.output))
    if os.path.isdir(options.parts) and os.listdir(options.parts) and not options.resume:
        raise UsageError(
            f"--parts {options.parts}: not empty; --resume makes only the parts missing there"
        )
    return options.parts


def _identity(job: StreamJob, writer: str, every: int, planned: Plan) -> dict[str, Any]:
    """What the parts are parts of: the converter version, the job's options (not where its
    output goes), the writer, K, and every input file's size and modification time."""
    options = asdict(job)
    for name in ("output", "rejects", "report", "dataset_info"):
        del options[name]
    files = [
        [f.path, f.size, os.stat(f.path).st_mtime_ns] for s in planned.sources for f in s.files
    ]
    document = {
        "version": __version__,
        "writer": writer,
        "every": every,
        "job": options,
        "files": files,
    }
    loaded: dict[str, Any] = orjson.loads(json_document(document))
    return loaded


def _tasks(
    job: StreamJob,
    planned: Plan,
    every: int,
    folder: str,
    limit: int | None,
    past: int,
    keys: str | None,
) -> list[RangeTask]:
    """One task per range of ``every`` groups, each reading its margins and lookahead. The
    last range reads every source to its end (records left unpaired, or repaired shifts); with
    ``limit`` N, when a source ends before group N, each source to its record N, else it
    stops at group N with ``past`` records after it (the aligner's lookahead, 0 without the
    aligner; group N holds each source's record N: neither --key nor --realign come with a
    limit). A range whose lookahead reaches the last group reads as far as the last
    range. With the key index ``keys`` (``--key``), see :func:`_keyed`."""
    units, unit = planned.ranges, planned.every
    readers = planned.sources[:1] if keys else planned.sources
    per, back, ahead = every // unit, -(-MARGIN // unit), -(-LOOKAHEAD // unit)
    to_end = limit is None or limit > planned.groups  # (a source ends before the limit)
    reach = 0 if to_end else past
    ends = [s.records if limit is None else min(s.records, limit + reach) for s in readers]
    tasks = []
    for number, u0 in enumerate(range(0, len(units), per)):
        u1 = min(u0 + per, len(units))
        lo, hi = max(0, u0 - back), min(len(units), u1 + ahead)
        last, tail = u1 == len(units), hi == len(units)  # (tail: its lookahead reaches the end)
        spans = []
        for k, (source, end) in enumerate(zip(readers, ends)):
            pieces = [span for r in units[lo : hi - 1 if tail else hi] for span in r.spans[k]]
            if tail:
                pieces += spans_of(source.files, units[-1].start, end, unit)
            spans.append(_joined(pieces))
        stop = None if last and to_end else units[u1 - 1].stop
        first, start = units[lo].start, units[u0].start
        tasks.append(
            RangeTask(job, folder, number, first, start, stop, tuple(spans), records=tuple(ends))
        )
    if not units and to_end and any(ends):  # nothing paired
        spans = [_joined(spans_of(s.files, 0, end, unit)) for s, end in zip(readers, ends)]
        tasks.append(RangeTask(job, folder, 0, 0, 0, None, tuple(spans)))
    return tasks if keys is None else _keyed(tasks, job, planned, folder, keys)


def _keyed(
    tasks: list[RangeTask], job: StreamJob, planned: Plan, folder: str, keys: str
) -> list[RangeTask]:
    """``--key``: the ranges of the first source find their partners in the key index
    ``keys``; one more task rejects the other sources' records no group takes."""
    none = ((),) * (len(planned.sources) - 1)
    ranges = [replace(task, spans=task.spans + none, keys=keys) for task in tasks]
    rest = RangeTask(job, folder, len(tasks), 0, 0, None, ((), *none), keys, leftovers=True)
    return [*ranges, rest]


def _joined(spans: Sequence[Span]) -> tuple[Span, ...]:
    """Spans that follow each other in a file joined into one (in an array, one ends at the
    comma before the record the next starts at)."""
    joined: list[Span] = []
    for span in spans:
        before = joined[-1] if joined else None
        if (
            before
            and before.path == span.path
            and (before.end == span.start or (before.closes and span.opens))
        ):
            records = before.records + span.records
            joined[-1] = replace(before, end=span.end, records=records, closes=span.closes)
        else:
            joined.append(span)
    return tuple(joined)


def _apply(report: RunReport, totals: dict[str, Any], selection: Selection) -> None:
    """Set ``report``'s counts from the parts' added-up counts."""
    groups = totals.get("groups", {})
    report.groups_read = groups.get("read", 0)
    report.groups_written = groups.get("written", 0)
    report.groups_rejected = groups.get("rejected", 0)
    report.groups_filtered = groups.get("filtered", 0)
    report.groups_skipped = groups.get("skipped", 0)
    report.records_written = totals.get("records_written", 0)
    report.rejects_written = totals.get("rejects_written", 0)
    parts_selection = totals.get("selection", {"before_start": 0, "not_sampled": 0})
    report.selection = {**selection.describe(), **parts_selection}
    report.filters.update(totals.get("filters", {}))
    report.repairs = totals.get("repairs", [])
    for stats in report.sources:
        counts = totals.get("sources", {}).get(stats.lang, {})
        for name in ("read", "written", "rejected", "filtered", "unpaired", "skipped"):
            setattr(stats, name, counts.get(name, 0))
        stats.reasons.update(counts.get("reasons", {}))
        stats.count_dropped(counts.get("dropped_keys", {}))
    for name, check in report.checks.items():
        counts = totals.get("checks", {}).get(name, {})
        check.warned, check.rejected = counts.get("warned", 0), counts.get("rejected", 0)
        check.examples = counts.get("examples", [])[:EXAMPLES]


def _settle_sources(
    report: RunReport, planned: Plan, formats: dict[str, str], digests: list[str] | None
) -> None:
    """Each source's shape, format, bytes and (given ``digests``, with a report file) SHA-256."""
    for k, (stats, source) in enumerate(zip(report.sources, planned.sources)):
        stats.shape = source.files[0].shape if source.files else "jsonl"
        stats.format = formats.get(stats.lang, "")
        stats.bytes = sum(f.size for f in source.files)
        if digests is not None:
            stats.sha256 = digests[k]


def _check_every_record_counted(report: RunReport, planned: Plan) -> None:
    """InputError, before anything is put in place, when the ranges of a whole run did not
    count every record of a source once (read as written, rejected, filtered, unpaired or
    skipped): a range starts reading each source at the first source's position, and finds
    again in its margin a shift of at most MAX_SHIFT records that began before it; the records
    a source lost or gained before a range added up to more (or a longer run of them), which
    a single run reads through."""
    for stats, source in zip(report.sources, planned.sources):
        if stats.read != source.records:
            raise InputError(
                f"{stats.lang}={source.given}: the ranges counted {stats.read:,} of its "
                f"{source.records:,} records: the records it lost or gained before a range "
                f"shift that range's pairing by more than the {MAX_SHIFT} the aligner follows; "
                "run without --jobs (a single run reads through it)"
            )


def _pairing_made(manifest: Manifest) -> list[dict[str, Any]]:
    """What each range made so far, from the first on without a gap, found of the pairing."""
    moved = []
    for number in range(manifest.parts):
        entry = manifest.entries.get(number)
        if entry is None or "pairing" not in entry.counts:
            break
        moved += entry.counts["pairing"]
    return moved


def _check_ranges_agree_on_pairing(moved: list[dict[str, Any]], planned: Plan) -> None:
    """InputError, before anything is put in place, when a range (``--realign``) found a
    source's pairing moved otherwise than the range before it left it (``moved``: each
    range's :func:`~converter.scale.ranges.pairing_moved`, in order): a range finds again in
    its margin a shift of at most MAX_SHIFT records; what a source lost or gained before that
    added up to more. Its records would pass the count with wrong partners."""
    for before, after in pairwise(moved):
        for k, source in enumerate(planned.sources):
            handed = before["handed_on"].get(str(k), 0)
            found = after["found"].get(str(k), 0)
            if handed != found:
                raise InputError(
                    f"{source.lang}={source.given}: the ranges lose track of its pairing at "
                    f"group {after['start']:,}: the ranges before leave it shifted by "
                    f"{handed:+d}, the range from there finds {found:+d} (a range finds again "
                    f"a shift of at most the {MAX_SHIFT} records the aligner follows); run "
                    "without --jobs (a single run reads through it)"
                )


def _digests(planned: Plan) -> list[str]:
    """Each source's SHA-256: of its file, or of its shards joined in order."""
    return [_sha256(source) for source in planned.sources]


def _sha256(source: SourcePlan) -> str:
    """The SHA-256 of a source's files read one after the other."""
    digest = hashlib.sha256()
    for f in source.files:
        with open(f.path, "rb") as raw:
            while block := raw.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()
