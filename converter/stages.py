"""Multi-stage runs: several parallel datasets, each with its own sources, filters, checks and
taggers, concatenated in order or mixed by weights into one output (the Python API behind
``convert run RECIPE.toml``; ``convert stream`` is one unnamed stage).

Each stage's ``seq`` gets the stage name as a prefix (``init/6EN``), so ``seq`` stays unique
across stages. The output side (writer, rejects, report, sample, shuffle, split) is the output
job's. See docs/selection.md.
"""

from __future__ import annotations

import math
import os
import random
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from itertools import accumulate, chain
from typing import Any, BinaryIO, Literal, cast, get_args

from converter.dataset_info import dataset_info_file
from converter.errors import EXIT_OK, EXIT_REJECTED, ConverterError, UsageError
from converter.filters import RECORD_FIELDS, parse_conditions
from converter.inputs import SHARD_FOLDER, Input, is_shard_folder, open_input
from converter.job import (
    StreamJob,
    check_options,
    check_policies,
    check_stdin_once,
    resolve_languages,
    resolve_writer,
    resolve_writer_options,
)
from converter.loop import GroupLoop, LoopPieces
from converter.output import Companion, commit_all, is_special, json_document, start_output
from converter.paths import check_run_paths
from converter.plugins import (
    Manager,
    Registry,
    build_manager,
    build_registry,
    opt_in_taggers,
    run_factories,
)
from converter.rejects import RejectsFile, default_rejects_path, rejects_wanted
from converter.report import CheckStats, RunReport, SourceStats
from converter.selection import Group, Selection
from converter.spill import GroupStore
from converter.stage_report import run_report

#: Encoded records gathered before one write call (and groups between progress updates)...
BATCH = 512
#: ... or fewer, once they hold this many bytes: huge records never pile up in memory.
BATCH_BYTES = 1 << 20


class WriteBatch:
    """Encoded records gathered for one write call: BATCH of them or BATCH_BYTES, whichever
    comes first (a single run and a range merge batch alike: some writers' files show it)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, chunks: list[bytes]) -> bool:
        """Gather one group's ``chunks``; whether the batch is full now."""
        self.chunks += chunks
        self.size += sum(map(len, chunks))
        return len(self.chunks) >= BATCH or self.size >= BATCH_BYTES

    def take(self) -> list[bytes]:
        """The chunks gathered; the batch starts empty again."""
        chunks, self.chunks, self.size = self.chunks, [], 0
        return chunks


#: How stages are combined: in order, or drawn by weight with the seed.
Mix = Literal["concat", "weights"]
MIXES: tuple[str, ...] = get_args(Mix)
#: A stage name: also the ``seq`` prefix, so it follows the record schema's pattern.
STAGE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True)
class Stage:
    """One stage of a run.

    ``name`` prefixes every ``seq`` of the stage (``name/6EN``) and names the stage in the
    rejects file and the report; it matches ``[a-z0-9][a-z0-9_-]*`` and is unique in the run.
    ``job`` gives the input side: sources, input_formats, items_paths, limit, start/stop,
    unequal, key, realign, where, checks, strict, taggers, plugins (the output-side fields
    are ignored: they come from the output job). ``weight`` (> 0) is the stage's share when
    stages are mixed by weights.
    """

    name: str
    job: StreamJob
    weight: float = 1.0


def check_stages(stages: Sequence[Stage], mix: str) -> None:
    """UsageError, before anything is read, for no stages, a shard folder for a source (read
    in range mode only), a bad or repeated name, a weight that is not positive, or an unknown
    mix. A lone stage named ``""`` is ``convert stream``: no ``seq`` prefix, and its report is
    the run's."""
    if not stages:
        raise UsageError("a run needs at least one stage")
    for stage in stages:
        for lang, path in stage.job.sources:
            if is_shard_folder(path):  # (range mode reads one: converter.scale)
                raise UsageError(f"{lang}={path}: {SHARD_FOLDER}")
    if mix not in MIXES:
        raise UsageError(f"mix must be one of {', '.join(MIXES)}, not {mix!r}")
    if len(stages) > 1:  # (a lone stage's sources are checked with the stage)
        check_stdin_once(
            (f"stage {stage.name!r}: {lang}={path}", path)
            for stage in stages
            for lang, path in stage.job.sources
        )
    seen: set[str] = set()
    for stage in stages:
        if stage.name == "" and len(stages) == 1:  # ``convert stream``: no seq prefix
            continue
        if not STAGE_NAME.fullmatch(stage.name):
            raise UsageError(
                f"stage name {stage.name!r} must match [a-z0-9][a-z0-9_-]* (it prefixes seq)"
            )
        if stage.name in seen:
            raise UsageError(f"stage name {stage.name!r} is given twice")
        seen.add(stage.name)
        if not 0 < stage.weight < math.inf:
            raise UsageError(
                f"stage {stage.name!r}: weight must be > 0 and finite, not {stage.weight}"
            )


def run_stages(
    stages: Sequence[Stage],
    output_job: StreamJob,
    mix: Mix = "concat",
    seed: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    companions: Callable[[dict[str, str], RunReport, int], list[Companion]] | None = None,
) -> tuple[RunReport, int]:
    """Run ``stages`` into ``output_job``'s output; return the report and the exit status
    (0 clean, 1 groups rejected).

    ``output_job`` gives the output side: output, format, rejects, report, keep_tags, system,
    template, dataset_info, plugins, sample, shuffle, split (its sources are ignored).
    ``mix="concat"`` writes the stages one after the other; ``"weights"`` draws each next
    group from a stage chosen with probability proportional to its weight among the stages
    not yet exhausted (every group is kept; deterministic given the seed). ``seed`` seeds the
    mix and the selection (sample, shuffle, split); None takes ``output_job.seed`` (None: 0).
    ``dry_run`` runs everything but writes no output, rejects or dataset_info (the report is
    still written when ``output_job.report`` is set: it holds the counts). ``companions`` sees
    the finished output and rejects files (by path, where each can be read), the report and the
    exit status, and returns more files to put in place with them (a report with checksums, a
    card: :func:`converter.output.commit_all`); raising there leaves nothing written.

    The report's totals add up the stages (``report.sources`` lists every stage's sources);
    ``report.stages`` holds one section per stage (name, weight, options, groups, filters,
    sources, checks, and the groups and records written per split). Raises ConverterError
    subclasses for usage, input and output errors; nothing is left written then.
    """
    check_stages(stages, mix)
    check_run_paths(output_job, [stage.job for stage in stages])
    plugins = dict.fromkeys(output_job.plugins)
    for stage in stages:
        plugins.update(dict.fromkeys(stage.job.plugins))
    registry = build_registry(pm := build_manager(plugins))
    spec = resolve_writer(output_job, registry)
    writer_options = resolve_writer_options(output_job, spec)
    selection = Selection.of(output_job, seed)
    rejects_path = output_job.rejects or default_rejects_path(output_job.output)
    paths = selection.outputs(output_job.output)
    plans = [
        plan_stage(stage, output_job, registry, pm, spec.name, rejects_path) for stage in stages
    ]
    with ExitStack() as stack:
        inputs = [_open_inputs(stack, plan, output_job.report is not None) for plan in plans]
        outs = [None if dry_run else start_output(stack, path) for path in paths]
        writers = [spec.make(out.stream if out else DISCARD, writer_options) for out in outs]
        rejects = RejectsFile(
            os.devnull if dry_run else rejects_path,
            forced=not dry_run
            and rejects_wanted(output_job.rejects, rejects_path, output_job.output),
            stack=stack,
        )
        loops = []
        for plan, sources in zip(plans, inputs):
            with _naming(plan.name):
                loop = GroupLoop(
                    plan.job, registry, sources, plan.report, writers[0], rejects, *plan.pieces
                )
            loops.append(loop)
        store = GroupStore(spill_parent(output_job.output))
        stack.callback(store.close)
        weights = [stage.weight for stage in stages]
        mixed = _mix(loops, weights if mix == "weights" else None, selection.seed, progress)
        names = [stage.name for stage in stages]
        written = _write(selection.select(mixed, names, store), writers, len(loops))
        for writer in writers:
            writer.close()
        for loop, sources, counts in zip(loops, inputs, written):
            loop.settle(sum(g for g, _ in counts), sum(r for _, r in counts))
            _settle_sources(sources, loop.report, output_job.report is not None)
        sections = [(plan.name, plan.report, stage.weight) for plan, stage in zip(plans, stages)]
        report = run_report(sections, selection, paths, written, mix, pm.describe())
        report.finish()
        status = EXIT_REJECTED if report.groups_rejected else EXIT_OK

        def files(finished: dict[str, str]) -> list[Companion]:
            made = companions(finished, report, status) if companions else []
            if output_job.dataset_info is not None and not dry_run:
                made.append(dataset_info_file(output_job.dataset_info, paths, spec))
            if output_job.report is not None:
                made.append(report_file(output_job.report, report.to_json(status)))
            return made

        commit_all(stack, [] if dry_run else [*outs, rejects.out], files)
    return report, status


@dataclass
class StagePlan:
    """One stage resolved against the registry: its job, report and the loop's pieces."""

    name: str
    job: StreamJob
    report: RunReport
    pieces: LoopPieces


@contextmanager
def _naming(name: str | None) -> Iterator[None]:
    """An error (usage, input, output) raised for a named stage says which stage."""
    try:
        yield
    except ConverterError as exc:
        if name and exc.args and isinstance(exc.args[0], str):
            exc.args = (f"stage {name!r}: {exc.args[0]}", *exc.args[1:])
        raise


def plan_stage(
    stage: Stage,
    output_job: StreamJob,
    registry: Registry,
    pm: Manager,
    writer: str,
    rejects_path: str,
) -> StagePlan:
    """Resolve one stage against the registry (its job, report and the loop's pieces):
    UsageError for anything wrong with it (naming a named stage), before anything is read."""
    with _naming(stage.name):
        job = stage.job
        if stage.name:
            job = replace(job, keep_tags=output_job.keep_tags, report=output_job.report)
        check_options(job)
        languages = resolve_languages(job, registry)
        policies = check_policies(job, registry)
        conditions = parse_conditions(job.where)
        options: dict[str, Any] = {
            "keep_tags": job.keep_tags,
            "tags_used": job.keep_tags or any(c.field not in RECORD_FIELDS for c in conditions),
            "seq_prefix": f"{stage.name}/" if stage.name else "",
        }
        taggers = run_factories(pm, "make_tagger", languages=languages, options=options)
        taggers += opt_in_taggers(job.taggers, registry, languages)
        interleave = run_factories(pm, "make_interleaver", languages=languages, options=options)[0]
        active = {name: policy for name, policy in policies.items() if policy != "off"}
        report = RunReport(
            sources=[SourceStats(lang, path) for lang, path in job.sources],
            checks={name: CheckStats(policy) for name, policy in active.items()},
            output=output_job.output,
            writer=writer,
            rejects=rejects_path,
            options={
                "limit": job.limit,
                "start": job.start,
                "stop": job.stop,
                "unequal": job.unequal,
                "keep_tags": job.keep_tags,
                "strict": job.strict,
                "taggers": list(job.taggers),
                "where": list(job.where),
            },
            filters={condition.text: 0 for condition in conditions},
            plugins=pm.describe(),
        )
        pieces = LoopPieces(taggers, interleave, policies, conditions, stage.name or None)
        return StagePlan(stage.name, job, report, pieces)


def _open_inputs(stack: ExitStack, plan: StagePlan, hash_it: bool) -> list[Input]:
    """Open the stage's sources (closed with ``stack``)."""
    inputs = []
    with _naming(plan.name):
        for lang, path in plan.job.sources:
            source = open_input(f"{lang}={path}", path, hash_it=hash_it)
            stack.callback(source.close)
            inputs.append(source)
    return inputs


def _mix(
    loops: Sequence[GroupLoop],
    weights: Sequence[float] | None,
    seed: int,
    progress: Callable[[int], None] | None,
) -> Iterator[Group]:
    """The stages' groups as (stage number, index, records): one stage after the other, or
    (``weights``) each next group from a stage drawn by weight among those not exhausted."""
    streams = [_numbered(k, loop) for k, loop in enumerate(loops)]
    if weights is None:
        mixed: Iterator[Group] = chain.from_iterable(streams)
    else:  # (as shares of the largest: huge weights cannot add up to infinity)
        shares = [weight / max(weights) for weight in weights]
        mixed = _draw(streams, shares, random.Random(f"mix\0{seed}"))
    if progress is None:
        return mixed
    return _reporting(mixed, loops, progress)


def _numbered(stage: int, loop: GroupLoop) -> Iterator[Group]:
    """The loop's groups, each with its stage number; an error names the stage."""
    with _naming(loop.stage):
        for index, chunks in loop.groups():
            yield stage, index, chunks


def _draw(
    streams: Sequence[Iterator[Group]], weights: list[float], rng: random.Random
) -> Iterator[Group]:
    """Each next group from a stream chosen with probability proportional to its weight."""
    live = list(range(len(streams)))
    while live:
        cuts = list(accumulate(weights[k] for k in live))
        pick = bisect_right(cuts, rng.random() * cuts[-1])
        chosen = live[min(pick, len(live) - 1)]
        group = next(streams[chosen], None)
        if group is None:
            live.remove(chosen)
        else:
            yield group


def _reporting(
    groups: Iterator[Group], loops: Sequence[GroupLoop], progress: Callable[[int], None]
) -> Iterator[Group]:
    """``groups``, telling ``progress`` the bytes read every ``BATCH`` groups."""
    for count, group in enumerate(groups, 1):
        if count % BATCH == 0:
            progress(sum(loop.bytes_read() for loop in loops))
        yield group


def _write(
    selected: Iterable[tuple[int, Group]], writers: Sequence[Any], stages: int
) -> list[list[tuple[int, int]]]:
    """Write each group to its split's writer; return, per stage and split, the groups and
    records written."""
    counts = [[0] * len(writers) for _ in range(stages)]
    records = [[0] * len(writers) for _ in range(stages)]
    pending = [WriteBatch() for _ in writers]
    for split, (stage, _index, chunks) in selected:
        counts[stage][split] += 1
        records[stage][split] += len(chunks)
        if pending[split].add(chunks):
            writers[split].write(pending[split].take())
    for writer, batch in zip(writers, pending):
        writer.write(batch.take())
    return [list(zip(g, r)) for g, r in zip(counts, records)]


def _settle_sources(inputs: Sequence[Input], report: RunReport, hashed: bool) -> None:
    """Each source's bytes read and (when hashed) its SHA-256."""
    for source, stats in zip(inputs, report.sources):
        if hashed:
            source.disk.drain()
            stats.sha256 = source.disk.sha256.hexdigest() if source.disk.sha256 else None
        stats.bytes = source.disk.bytes_read


def spill_parent(output: str) -> str | None:
    """Where held groups spill: beside the output, or the system's temporary folder."""
    if is_special(output):
        return None
    folder = os.path.dirname(os.path.abspath(output))
    return folder if os.path.isdir(folder) else None


def report_file(path: str, document: dict[str, Any]) -> Companion:
    """The report ``document`` as the file at ``path`` (put in place with the outputs)."""
    return path, json_document(document)


class _Discard:
    """The output of a dry run: takes every write, keeps nothing."""

    def write(self, data: bytes) -> int:
        """Count nothing, keep nothing."""
        return len(data)

    def flush(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to close."""


#: A stream that keeps nothing (a dry run's output; the writer a range only encodes with).
DISCARD = cast(BinaryIO, _Discard())
