"""The hot loop of one run: each group of records, in lock-step from the sources, is tagged,
filtered, checked, ordered, validated and encoded, or rejected whole."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from converter.alignment import Aligner, Gap, positional
from converter.errors import InputError
from converter.filters import Condition, first_failure
from converter.inputs import Input
from converter.job import StreamJob
from converter.keyed import KeyedPairing
from converter.model import Record, Rejected
from converter.plugins import Registry
from converter.readers import read_items
from converter.records import format_named, to_records
from converter.rejects import RejectsFile
from converter.report import RunReport, reason_kind
from converter.validation import validator_for


def _renumber(group: tuple[Any, ...]) -> None:
    """After a repair, records of one group come from different positions: number the group
    by its first source and keep each record's own position as the ``source_index`` tag."""
    first = group[0].index
    for member in group:
        if member.index != first:
            member.tags["source_index"] = member.index
            member.index = first


class GroupLoop:
    """The hot loop of one run, with everything resolved to plain callables up front."""

    def __init__(
        self,
        job: StreamJob,
        registry: Registry,
        inputs: list[Input],
        report: RunReport,
        writer: Any,
        rejects: RejectsFile,
        taggers: list[Callable[[Record], None]],
        interleave: Callable[[list[Record]], list[Record]],
        policies: dict[str, str],
        conditions: list[Condition],
        stage: str | None = None,
    ) -> None:
        """Resolve the run's pieces; ``stage`` names the stage in the rejects file."""
        self.conditions, self.stage = conditions, stage
        self.job, self.inputs, self.report = job, inputs, report
        self.writer, self.rejects = writer, rejects
        self.taggers, self.interleave = taggers, interleave
        checks = [registry.checks[name] for name, policy in policies.items() if policy != "off"]
        self.features = [(c.name, c.features) for c in checks if c.features is not None]
        languages = [registry.languages[lang] for lang, _ in job.sources]
        self.compares = [(c.name, c.start(languages), policies[c.name] == "reject") for c in checks]
        self.validator = validator_for(writer.schema)
        self.row, self.encode = writer.row, writer.encode
        self.is_valid = self.validator.fast.is_valid
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
        self.skip_gaps = [0] * len(inputs)
        self.before_start = 0
        self.rejected_records = 0

    def groups(self) -> Iterator[tuple[int, list[bytes]]]:
        """Read the groups of the selected range ([start, stop), at most ``limit``): yield the
        index and encoded records of each group that passes; reject or filter the others.

        Groups before ``start`` are read and skipped unchecked. Once exhausted, the counts of
        what was read are set; :meth:`settle` adds what was written.
        """
        pairing = self.pairing
        groups = pairing.groups() if pairing else positional(self.streams)
        job = self.job
        end = job.stop
        if job.limit is not None:
            end = job.start + job.limit if end is None else min(end, job.start + job.limit)
        if end is not None:
            groups = islice(groups, end)
        start, stats = job.start, self.report.sources
        count_dropped = not job.keep_tags
        process = self._process
        read = 0
        for read, group in enumerate(groups, 1):
            if None in group:
                read -= 1
                self._unequal(group, read)
                break
            if read <= start:
                self._skip(group)
                continue
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
                yield group[0].index, chunks
        report = self.report
        report.groups_read = read
        report.rejects_written = self.rejected_records
        if isinstance(pairing, Aligner):
            report.repairs = pairing.repairs

    def passed(self) -> int:
        """Groups read that were neither skipped, rejected nor filtered (once exhausted)."""
        report = self.report
        done = report.groups_rejected + report.groups_filtered + self.before_start
        return report.groups_read - done

    def settle(self, written: int, records: int) -> None:
        """Count ``written`` groups (``records`` records) as written, the rest of the groups
        that passed as not sampled, and reconcile each source."""
        report = self.report
        report.groups_written = written
        report.records_written = records
        not_sampled = self.passed() - written
        report.groups_skipped = self.before_start + not_sampled
        report.selection.update(before_start=self.before_start, not_sampled=not_sampled)
        for s, gaps, skip_gaps in zip(report.sources, self.gaps, self.skip_gaps):
            s.read += report.groups_read - gaps - skip_gaps
            s.written = written
            s.filtered = report.groups_filtered
            s.rejected = report.groups_rejected - gaps
            s.skipped = report.groups_skipped - skip_gaps

    def bytes_read(self) -> int:
        """Bytes read so far from the sources (for a progress bar)."""
        return sum(source.disk.bytes_read for source in self.inputs)

    def _skip(self, group: tuple[Any, ...]) -> None:
        """A group before ``start``: counted, not checked (a source missing from it did not
        read a record there)."""
        self.before_start += 1
        for k, member in enumerate(group):
            if type(member) is Gap:
                self.skip_gaps[k] += 1

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
                stats.reasons[reason_kind(reason)] += 1
            self.rejects.write(source, member, reasons, self.stage)
            self.rejected_records += 1

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
                self.report.sources[k].reasons[reason_kind(reason)] += 1
            self.rejects.write(source, member, own + reasons, self.stage)
            self.rejected_records += 1

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
