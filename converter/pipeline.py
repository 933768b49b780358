"""``convert stream``: sources in lock-step -> tag -> filter -> check -> interleave -> validate
-> write.

The core owns the loop; plugins supply the pieces, resolved once per run into plain callables.
A group (the records with the same index in every source) is written or rejected whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson

from converter.alignment import Aligner, Gap, positional
from converter.compression import strip_compression
from converter.dataset_info import check_dataset_info, write_dataset_info
from converter.errors import EXIT_OK, EXIT_REJECTED, InputError, UsageError
from converter.filters import Condition, first_failure, parse_conditions
from converter.inputs import Input, open_input
from converter.keyed import KeyedPairing
from converter.model import Language, Record, Rejected, WriterOptions, WriterSpec
from converter.output import STDOUT, AtomicOutput, open_output
from converter.plugins import Registry, build_manager, build_registry, run_factories
from converter.readers import read_items
from converter.records import format_named, to_records
from converter.report import CheckStats, RunReport, SourceStats
from converter.validation import validator_for

#: Encoded records gathered before one write call.
BATCH = 512
#: Groups between two progress updates.
PROGRESS_EVERY = 2048
POLICIES = ("off", "warn", "reject")


@dataclass(frozen=True)
class StreamJob:
    """Everything ``convert stream`` was asked to do (the Python API behind the command)."""

    sources: list[tuple[str, str]]
    output: str = STDOUT
    format: str | None = None
    limit: int | None = None
    unequal: str = "error"
    rejects: str | None = None
    report: str | None = None
    keep_tags: bool = False
    input_formats: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    strict: bool = False
    plugins: tuple[str, ...] = ()
    realign: bool = False
    key: str | None = None
    #: Per language, the ijson prefix of the records (``data.item``) for wrapped arrays.
    items_paths: dict[str, str] = field(default_factory=dict)
    #: The system message (``--system``) and a prompt template file (``--template``).
    system: str = ""
    template: str | None = None
    #: A LLaMA-Factory ``dataset_info.json`` to add the output's entry to.
    dataset_info: str | None = None
    #: Opt-in taggers by name (``--tagger register``), passed to ``make_tagger`` as options.
    taggers: tuple[str, ...] = ()
    #: ``--where`` conditions (converter.filters); a group failing one is filtered out.
    where: tuple[str, ...] = ()


def run_stream(
    job: StreamJob, progress: Callable[[int], None] | None = None
) -> tuple[RunReport, int]:
    """Run ``job``; return the report and the exit status (0 clean, 1 groups rejected).

    Raises ConverterError subclasses for usage, input and output errors; nothing is left
    written then.
    """
    registry = build_registry(pm := build_manager(job.plugins))
    languages = _languages(job, registry)
    spec = _writer_spec(job, registry)
    writer_options = _writer_options(job, spec)
    policies = _policies(job, registry)
    conditions = parse_conditions(job.where)
    options: dict[str, Any] = {"keep_tags": job.keep_tags, "taggers": job.taggers}
    taggers = run_factories(pm, "make_tagger", languages=languages, options=options)
    interleave = run_factories(pm, "make_interleaver", languages=languages, options=options)[0]
    rejects_path = job.rejects or _default_rejects(job.output)
    report = RunReport(
        sources=[SourceStats(lang, path) for lang, path in job.sources],
        checks={name: CheckStats(policy) for name, policy in policies.items() if policy != "off"},
        output=job.output,
        writer=spec.name,
        rejects=rejects_path,
        options={
            "limit": job.limit,
            "unequal": job.unequal,
            "keep_tags": job.keep_tags,
            "strict": job.strict,
            "taggers": list(job.taggers),
            "where": list(job.where),
        },
        filters={condition.text: 0 for condition in conditions},
        plugins=pm.describe(),
    )
    with ExitStack() as stack:
        inputs = []
        for lang, path in job.sources:
            source = open_input(f"{lang}={path}", path, hash_it=job.report is not None)
            stack.callback(source.close)
            inputs.append(source)
        out = _start(stack, job.output)
        rejects = _Rejects(rejects_path, forced=job.rejects is not None, stack=stack)
        writer = spec.make(out.stream, writer_options)
        loop = _Loop(
            job,
            registry,
            inputs,
            report,
            writer,
            rejects,
            taggers,
            interleave,
            policies,
            conditions,
        )
        loop.run(progress)
        writer.close()
        for source, stats in zip(inputs, report.sources):
            if job.report is not None:
                source.disk.drain()
                stats.sha256 = source.disk.sha256.hexdigest() if source.disk.sha256 else None
            stats.bytes = source.disk.bytes_read
        report.finish()
        status = EXIT_REJECTED if report.groups_rejected else EXIT_OK
        out.commit()
        rejects.commit()
        if job.dataset_info is not None:
            write_dataset_info(job.dataset_info, job.output, spec)
        if job.report is not None:
            _write_report(stack, job.report, report.to_json(status))
    return report, status


def _languages(job: StreamJob, registry: Registry) -> list[Language]:
    if not job.sources:
        raise UsageError("give at least one source as LANG=PATH")
    seen: set[str] = set()
    languages = []
    for lang, path in job.sources:
        if lang not in registry.languages:
            known = ", ".join(sorted(registry.languages))
            raise UsageError(
                f"unknown language {lang!r} in {lang}={path}; known: {known} (plugins add more)"
            )
        if lang in seen:
            raise UsageError(f"language {lang!r} is given twice")
        seen.add(lang)
        languages.append(registry.languages[lang])
    if sum(path == STDOUT for _, path in job.sources) > 1:
        raise UsageError("only one source can read stdin ('-')")
    for lang in job.input_formats:
        if lang not in seen:
            raise UsageError(f"--input-format names {lang!r}, which is not a source")
    return languages


def _writer_spec(job: StreamJob, registry: Registry) -> WriterSpec:
    name = job.format
    if name is None:
        name = "jsonl"
        for spec in registry.writers.values():
            if job.output != STDOUT and strip_compression(job.output).endswith(spec.suffixes):
                name = spec.name
                break
    if name not in registry.writers:
        raise UsageError(f"unknown format {name!r}; known: {', '.join(registry.writers)}")
    return registry.writers[name]


def _writer_options(job: StreamJob, spec: WriterSpec) -> WriterOptions:
    """The writer's options; UsageError for one it does not take or an impossible entry."""
    options = WriterOptions(keep_tags=job.keep_tags, system=job.system, template=job.template)
    unused = spec.unused(options)
    if unused:
        raise UsageError(f"{', '.join(unused)} does not apply to --format {spec.name}")
    check_dataset_info(job.dataset_info, job.output, spec)
    return options


def _policies(job: StreamJob, registry: Registry) -> dict[str, str]:
    policies = {name: check.default_policy for name, check in registry.checks.items()}
    given = dict(job.checks)
    if "all" in given:  # ``--check all=off``, then the named ones
        policy = given.pop("all")
        given = {**dict.fromkeys(registry.checks, policy), **given}
    for name, policy in given.items():
        if name not in registry.checks:
            raise UsageError(f"unknown check {name!r}; known: {', '.join(registry.checks)}")
        if policy not in POLICIES:
            raise UsageError(
                f"check policy for {name!r} must be one of {', '.join(POLICIES)}, not {policy!r}"
            )
        policies[name] = policy
    if job.strict:
        policies = {n: "reject" if p == "warn" else p for n, p in policies.items()}
    return policies


def _renumber(group: tuple[Any, ...]) -> None:
    """After a repair, records of one group come from different positions: number the group
    by its first source and keep each record's own position as the ``source_index`` tag."""
    first = group[0].index
    for member in group:
        if member.index != first:
            member.tags["source_index"] = member.index
            member.index = first


def _default_rejects(output: str) -> str:
    if output == STDOUT or (os.path.exists(output) and not os.path.isfile(output)):
        return "rejects.jsonl"
    return output + ".rejects.jsonl"


def _start(stack: ExitStack, path: str) -> AtomicOutput:
    out = open_output(path)
    stack.callback(out.discard)
    return out


def _write_report(stack: ExitStack, path: str, document: dict[str, Any]) -> None:
    out = _start(stack, path)
    out.stream.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    out.commit()


class _Rejects:
    """The rejects file, opened at the first rejected record (or always, when asked for)."""

    def __init__(self, path: str, forced: bool, stack: ExitStack) -> None:
        self.path = path
        self.stack = stack
        self.out = _start(stack, path) if forced else None
        self.count = 0

    def write(self, source: Input, member: Record | Rejected, reasons: list[str]) -> None:
        if self.out is None:
            self.out = _start(self.stack, self.path)
        line: dict[str, Any] = {
            "source": source.path,
            "lang": member.lang,
            "index": member.index,
            "line": member.line,
            "reasons": reasons,
        }
        raw = member.raw if type(member) is Rejected else None
        if raw is not None:
            line["raw"] = raw.decode("utf-8", "backslashreplace").rstrip("\n")
        else:
            line["record"] = member.original
        try:
            data = orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
        except (TypeError, orjson.JSONEncodeError):  # lone surrogates: escape them
            data = json.dumps(line).encode() + b"\n"
        self.out.stream.write(data)
        self.count += 1

    def commit(self) -> None:
        if self.out is not None:
            self.out.commit()


class _Loop:
    """The hot loop of one run, with everything resolved to plain callables up front."""

    def __init__(
        self,
        job: StreamJob,
        registry: Registry,
        inputs: list[Input],
        report: RunReport,
        writer: Any,
        rejects: _Rejects,
        taggers: list[Callable[[Record], None]],
        interleave: Callable[[list[Record]], list[Record]],
        policies: dict[str, str],
        conditions: list[Condition],
    ) -> None:
        self.conditions = conditions
        self.job, self.inputs, self.report, self.writer, self.rejects = (
            job,
            inputs,
            report,
            writer,
            rejects,
        )
        self.taggers, self.interleave = taggers, interleave
        checks = [registry.checks[name] for name, policy in policies.items() if policy != "off"]
        self.features = [(c.name, c.features) for c in checks if c.features is not None]
        languages = [registry.languages[lang] for lang, _ in job.sources]
        self.compares = [(c.name, c.start(languages), policies[c.name] == "reject") for c in checks]
        self.validator = validator_for(writer.schema)
        self.row, self.encode, self.is_valid = (
            writer.row,
            writer.encode,
            self.validator.fast.is_valid,
        )
        self.streams = []
        for (lang, _), source, stats in zip(job.sources, inputs, report.sources):
            forced = job.input_formats.get(lang)
            fmt = format_named(forced, registry.formats) if forced else None
            stats.shape = source.shape
            items = read_items(source, job.items_paths.get(lang))
            detected = to_records(lang, items, fmt, registry.formats, stats.set_format)
            self.streams.append(detected)
        langs = [lang for lang, _ in job.sources]
        watch = job.realign or policies.get("misalignment", "off") != "off"
        self.pairing: KeyedPairing | Aligner | None = None
        if job.key is not None:
            self.pairing = KeyedPairing(self.streams, langs, job.key)
        elif watch and len(inputs) > 1:
            self.pairing = Aligner(self.streams, langs, job.realign)
        self.gaps = [0] * len(inputs)

    def run(self, progress: Callable[[int], None] | None) -> None:
        """Read every group, write or reject it, and settle unequal lengths."""
        pairing = self.pairing
        groups = pairing.groups() if pairing else positional(self.streams)
        if self.job.limit is not None:
            groups = islice(groups, self.job.limit)
        pending: list[bytes] = []
        report, stats = self.report, self.report.sources
        count_dropped = not self.job.keep_tags
        process, write = self._process, self.writer.write
        read = 0
        for read, group in enumerate(groups, 1):
            if None in group:
                read -= 1
                self._unequal(group, read)
                break
            if pairing is not None and Gap in map(type, group):
                self._reject_orphans(group)
                continue
            if Rejected in map(type, group):
                self._reject(group, None)
                continue
            if count_dropped:
                for member, s in zip(group, stats):
                    if member.tags:
                        s.dropped_keys.update(member.tags.keys())
            if pairing is not None:
                _renumber(group)
            chunks = process(list(group))
            if chunks is not None:
                pending += chunks
                if len(pending) >= BATCH:
                    write(pending)
                    pending = []
                    if progress is not None:
                        progress(sum(source.disk.bytes_read for source in self.inputs))
        write(pending)
        report.groups_read = read
        report.groups_written = read - report.groups_rejected - report.groups_filtered
        report.rejects_written = self.rejects.count
        for s, gaps in zip(stats, self.gaps):
            s.read += read - gaps
            s.written = report.groups_written
            s.filtered = report.groups_filtered
            s.rejected = report.groups_rejected - gaps
        if isinstance(pairing, Aligner):
            report.repairs = pairing.repairs

    def _process(self, group: list[Record]) -> list[bytes] | None:
        """Tag, filter, check, order, validate and encode one group; None when it was rejected
        or filtered out."""
        for tag in self.taggers:
            for record in group:
                tag(record)
        if self.conditions:
            failed_condition = first_failure(self.conditions, group)
            if failed_condition is not None:
                self.report.filters[failed_condition] += 1
                self.report.groups_filtered += 1
                return None
        for name, features in self.features:
            for record in group:
                if record.features is None:
                    record.features = {}
                record.features[name] = features(record)
        failed: list[str] = []
        for name, compare, rejecting in self.compares:
            findings = compare(group)
            if findings:
                self.report.checks[name].add(group[0].index, findings, rejecting)
                if rejecting:
                    failed.extend(f"check {name}: {f}" for f in findings)
        if failed:
            self._reject(group, failed)
            return None
        row, encode, is_valid = self.row, self.encode, self.is_valid
        chunks = []
        for record in self.interleave(group):
            obj = row(record)
            if not is_valid(obj):
                found = self.validator.violations(obj)
                failed = [f"schema: {record.lang}: {v}" for v in found] or ["schema: invalid"]
                self._reject(group, failed)
                return None
            try:
                chunks.append(encode(obj))
            except (TypeError, ValueError) as exc:
                self._reject(group, [f"cannot encode: {record.lang}: {exc}"])
                return None
        self.report.records_written += len(chunks)
        return chunks

    def _reject(self, group: tuple[Any, ...] | list[Any], group_reasons: list[str] | None) -> None:
        """Send every member of ``group`` to the rejects file with its reasons."""
        self.report.groups_rejected += 1
        own = {m.lang: m.reasons for m in group if type(m) is Rejected}
        partner = [f"partner rejected: {lang}: {'; '.join(r)}" for lang, r in own.items()]
        for member, source, stats in zip(group, self.inputs, self.report.sources):
            reasons = group_reasons or own.get(member.lang) or partner
            for reason in reasons:
                stats.reasons[reason.split(":", 1)[0]] += 1
            self.rejects.write(source, member, reasons)

    def _reject_orphans(self, group: tuple[Any, ...]) -> None:
        """Records the pairing left without a partner (the Gaps say why) go to the rejects."""
        reasons = list(dict.fromkeys(m.reason for m in group if type(m) is Gap))
        self.report.groups_rejected += 1
        for k, (member, source) in enumerate(zip(group, self.inputs)):
            if type(member) is Gap:
                self.gaps[k] += 1
                continue
            own = member.reasons if type(member) is Rejected else []
            for reason in own + reasons:
                self.report.sources[k].reasons[reason.split(":", 1)[0]] += 1
            self.rejects.write(source, member, own + reasons)

    def _unequal(self, group: tuple[Any, ...], done: int) -> None:
        """A source ended before the others: an error, or (``--unequal shortest``) stop there."""
        short = [s for m, s in zip(group, self.report.sources) if m is None]
        longer = [s for m, s in zip(group, self.report.sources) if m is not None]
        if self.job.unequal != "shortest":
            names = ", ".join(f"{s.lang}={s.path}" for s in short)
            others = ", ".join(f"{s.lang}={s.path}" for s in longer)
            hint = ""
            if isinstance(self.pairing, Aligner) and self.pairing.repairs:
                first = self.pairing.repairs[0]["from_index"]
                hint = f"; pairs look shifted from index {first}: --realign repairs that"
            raise InputError(
                f"{names}: ends after {done:,} records but {others} has more; "
                f"pair the first {done:,} with --unequal shortest (or --limit {done}){hint}"
            )
        for k, (member, stream, stats) in enumerate(zip(group, self.streams, self.report.sources)):
            if member is None:
                continue
            aligner = self.pairing if isinstance(self.pairing, Aligner) else None
            left = aligner.drain(k) if aligner else sum(1 for _ in stream)
            stats.unpaired = 1 + left
            stats.read = stats.unpaired
