"""The hot loop of one run: each group of records, in lock-step from the sources, is tagged,
filtered, checked, ordered, validated and encoded, or rejected whole."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple, Protocol

from converter.alignment import Aligner, Gap, new_aligner, positional, too_many_shifts
from converter.builtin.checks import duplicate_key
from converter.errors import unequal_sources
from converter.filters import Condition, first_failure
from converter.inputs import Input
from converter.job import StreamJob
from converter.keyed import KeyedPairing, PartnerIndex
from converter.model import Record, Rejected
from converter.plugins import Registry
from converter.readers import Batch, Item, read_batches
from converter.records import format_named, to_records
from converter.rejects import RejectSink
from converter.report import RunReport
from converter.screening import check_step
from converter.validation import validator_for


def _renumber(group: tuple[Any, ...]) -> None:
    """After a repair, records of one group come from different positions: number the group
    by its first source and keep each record's own position as the ``source_index`` tag."""
    first = group[0].index
    for member in group:
        if member.index != first:
            member.tags["source_index"] = member.index
            member.index = first


def aligns(job: StreamJob, policies: dict[str, str]) -> bool:
    """Whether a run of ``job`` with these check policies pairs its groups through the aligner
    (two sources or more, watched by the misalignment check or repaired by --realign; not
    --key), which reads up to ``2 * WINDOW + 2`` records ahead of the group it gives."""
    watch = job.realign or policies.get("misalignment", "off") != "off"
    return job.key is None and watch and len(job.sources) > 1


class KeySink(Protocol):
    """Where a range's duplicate-check keys go (a list, or a part's ``keys`` stream)."""

    def append(self, pair: tuple[int, int], /) -> None:
        """Take one group's ``(index, key)``."""


@dataclass
class RangeView:
    """Range mode (converter.scale): one range of a parallel run.

    The loop reads the groups from index ``first`` on out of ``parts`` (one stream of batches
    and items per source, as :func:`converter.readers.read_batches` gives them). Those before
    ``start`` (the margin) are processed for state only: the aligner and the checks learn from
    them, nothing is written, counted or rejected. It stops at ``stop`` (None: where the
    sources end). The duplicate check does not decide here: ``keys`` gets ``(index, key)`` for
    every counted group that reached the checks, and the merge settles duplicates over the
    whole run. Repairs are kept when they start in [start, stop). With ``--key``, ``partners``
    finds each group's partners in the whole run (see :class:`converter.keyed.KeyedPairing`).
    """

    parts: list[Iterator[Batch | Item]]
    first: int
    start: int
    stop: int | None
    keys: KeySink
    partners: PartnerIndex | None = None
    #: Each source's records (the plan counted them): what one that ends has read in all.
    records: tuple[int, ...] = ()

    def holds(self, index: int) -> bool:
        """Whether group ``index`` is counted by this range."""
        return self.start <= index and (self.stop is None or index < self.stop)


class LoopPieces(NamedTuple):
    """What the plugins give a stage's loop, resolved once: the taggers, the interleaver, each
    check's policy, the ``--where`` conditions and the stage's name (None: ``convert stream``),
    in :class:`GroupLoop`'s order."""

    taggers: list[Callable[[Record], None]]
    interleave: Callable[[list[Record]], list[Record]]
    policies: dict[str, str]
    conditions: list[Condition]
    stage: str | None


class _NoRejects:
    """Where the margin's rejected records go: nowhere."""

    def write(self, *_args: Any) -> None:
        """Drop the record."""


class GroupLoop:
    """The hot loop of one run, with everything resolved to plain callables up front."""

    def __init__(
        self,
        job: StreamJob,
        registry: Registry,
        inputs: list[Input],
        report: RunReport,
        writer: Any,
        rejects: RejectSink,
        taggers: list[Callable[[Record], None]],
        interleave: Callable[[list[Record]], list[Record]],
        policies: dict[str, str],
        conditions: list[Condition],
        stage: str | None = None,
        view: RangeView | None = None,
    ) -> None:
        """Resolve the run's pieces; ``stage`` names the stage in the rejects file; ``view``
        runs one range of a parallel run (see :class:`RangeView`)."""
        self.conditions, self.stage, self.view = conditions, stage, view
        self.job, self.inputs, self.report = job, inputs, report
        self.writer, self.rejects = writer, rejects
        self.taggers, self.interleave = taggers, interleave
        checks = [registry.checks[name] for name, policy in policies.items() if policy != "off"]
        self.features = [(c.name, c.features) for c in checks if c.features is not None]
        languages = [registry.languages[lang] for lang, _ in job.sources]
        started = [(c, c.start(languages)) for c in checks]
        self.keys = view.keys if view else None
        if view is not None:  # duplicates are settled run-wide by the merge
            started = [(c, self._record_key if c.name == "duplicate" else f) for c, f in started]
            self.scratch = copy.deepcopy(report)  # what the margin counts, thrown away
        warned = [report.checks[c.name] if policies[c.name] == "warn" else None for c in checks]
        self.check = check_step(languages, started, warned)
        self.outcomes = [(c.name, policies[c.name] == "reject") for c in checks]
        self.validator = validator_for(writer.schema)
        self.row, self.encode = writer.row, writer.encode
        self.is_valid = self.validator.fast.is_valid
        self.streams = []
        first = view.first if view else 0
        for k, ((lang, _), source, stats) in enumerate(zip(job.sources, inputs, report.sources)):
            forced = job.input_formats.get(lang)
            fmt = format_named(forced, registry.formats) if forced else None
            stats.shape = source.shape
            parts = view.parts[k] if view else read_batches(source, job.items_paths.get(lang))
            detected = to_records(lang, parts, fmt, registry.formats, stats.set_format, first)
            self.streams.append(detected)
        langs = [lang for lang, _ in job.sources]
        self.pairing: KeyedPairing | Aligner | None = None
        self.aligner: Aligner | None = None
        if job.key is not None:
            partners = view.partners if view else None
            self.pairing = KeyedPairing(self.streams, langs, job.key, partners)
        elif aligns(job, policies):
            self.pairing = self.aligner = new_aligner(self.streams, langs, job.realign)
        # records of a group may come from different positions (else their indexes agree)
        self.renumber = job.key is not None or (self.aligner is not None and job.realign)
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
        if self.view is not None:
            groups = self._counted(groups, self.view)
        job = self.job
        end = job.stop
        if job.limit is not None:
            end = job.start + job.limit if end is None else min(end, job.start + job.limit)
        if end is not None:
            groups = islice(groups, end)
        start = job.start
        handle = self._handle
        read = 0
        for read, group in enumerate(groups, 1):
            if None in group:
                read -= 1
                before = self.view.start if self.view else 0  # the earlier ranges' groups
                self._unequal(group, before + read, end)
                break
            if read <= start:
                self._skip(group)
                continue
            chunks = handle(group)
            if chunks is not None:
                yield group[0].index, chunks
        self.check.settle()
        report = self.report
        report.groups_read = read
        report.rejects_written = self.rejected_records
        if self.aligner is not None:
            view = self.view
            repairs = self.aligner.repairs
            report.repairs = [r for r in repairs if not view or view.holds(r["from_index"])]

    def _handle(self, group: tuple[Any, ...]) -> list[bytes] | None:
        """Reject, or tag, filter, check and encode one group read; its chunks when it passed."""
        # (a gap stands only where a repair or the key pairing put it)
        gaps = self.pairing is not None and (self.aligner is None or self.aligner.repairs)
        if gaps and Gap in map(type, group):
            self._reject_orphans(group)
            return None
        if Rejected in map(type, group):
            self._reject(group, None)
            return None
        if not self.job.keep_tags:
            for member, s in zip(group, self.report.sources):
                if member.tags:
                    s.count_dropped(member.tags.keys())
        if self.renumber:
            _renumber(group)
        return self._process(list(group))

    def _counted(
        self, groups: Iterator[tuple[Any, ...]], view: RangeView
    ) -> Iterator[tuple[Any, ...]]:
        """The groups of the range: those of the margin handled for state only, none from
        ``stop`` on. A group without a record of the first source (an orphan the aligner
        made) belongs with the group after it."""
        index = view.first - 1
        for group in groups:
            head = group[0]
            index = head.index if type(head) is Record or type(head) is Rejected else index + 1
            if view.stop is not None and index >= view.stop:
                return
            if index >= view.start:
                yield group
            elif None not in group:
                self._margin(group)

    def _margin(self, group: tuple[Any, ...]) -> None:
        """Handle a margin group with everything it would count or write thrown away. (The
        check step's own tallies count into the range's stats only once those hold all their
        examples, which no margin group, all read first, can reach.)"""
        kept = self.report, self.rejects, self.rejected_records, self.gaps, self.keys
        self.report, self.rejects, self.keys = self.scratch, _NoRejects(), None
        self.gaps = [0] * len(self.gaps)
        try:
            self._handle(group)
        finally:
            self.report, self.rejects, self.rejected_records, self.gaps, self.keys = kept

    def _record_key(self, group: list[Record]) -> list[str]:
        """Range mode's duplicate check: note the group's key for the merge, decide nothing."""
        if self.keys is not None:
            self.keys.append((group[0].index, duplicate_key(group[0])))
        return []

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
        found = self.check(group)
        if found:
            failed: list[str] = []
            for k, findings in found:
                name, rejecting = self.outcomes[k]
                self.report.checks[name].add(group[0].index, findings, rejecting)
                if rejecting:
                    failed.extend(f"check {name}: {f}" for f in findings)
            if failed:
                self._reject(group, failed)
                return None
        row, encode, is_valid = self.row, self.encode, self.is_valid
        chunks = []
        for record in self.interleave(group):
            try:
                obj = row(record)
            except ValueError as exc:  # the writer cannot shape it
                self._unwritable(group, record, exc)
                return None
            try:
                valid = is_valid(obj)
            except ValueError:  # a value the compiled validator cannot take (a datetime)
                valid = self.validator.is_valid(obj)
            if not valid:
                violations = self.validator.violations(obj)
                self._reject_for(group, record, "schema", list(map(str, violations)) or ["invalid"])
                return None
            try:
                chunks.append(encode(obj))
            except (TypeError, ValueError) as exc:
                self._unwritable(group, record, exc)
                return None
        return chunks

    def _unwritable(self, group: list[Record], record: Record, exc: Exception) -> None:
        """Reject ``group``: the writer cannot shape or encode ``record`` (``exc`` says why)."""
        self._reject_for(group, record, "cannot encode", [str(exc)])

    def _reject_for(self, group: list[Record], record: Record, kind: str, why: list[str]) -> None:
        """Reject ``group`` for what is wrong with ``record`` alone: it carries ``kind: lang:
        why`` (a reason each), its partners one ``partner rejected: lang: kind: why; ...``."""
        own = [f"{kind}: {record.lang}: {reason}" for reason in why]
        partner = [f"partner rejected: {record.lang}: {kind}: {'; '.join(why)}"]
        self._send(group, lambda member: own if member is record else partner)

    def _reject(self, group: tuple[Any, ...] | list[Any], group_reasons: list[str] | None) -> None:
        """Reject ``group``: every member with ``group_reasons``, else each Rejected member with
        its own reasons and the others with ``partner rejected: lang: reason``."""
        own = {m.lang: m.reasons for m in group if type(m) is Rejected}
        partner = [f"partner rejected: {lang}: {'; '.join(r)}" for lang, r in own.items()]
        self._send(group, lambda member: group_reasons or own.get(member.lang) or partner)

    def _send(
        self, group: tuple[Any, ...] | list[Any], reasons_of: Callable[[Any], list[str]]
    ) -> None:
        """Send every member of a rejected ``group`` to the rejects file with its reasons."""
        self.report.groups_rejected += 1
        for member, source, stats in zip(group, self.inputs, self.report.sources):
            reasons = reasons_of(member)
            stats.count_rejected(reasons)
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
            self.report.sources[k].count_rejected(own + reasons)
            self.rejects.write(source, member, own + reasons, self.stage)
            self.rejected_records += 1

    def _unequal(self, group: tuple[Any, ...], done: int, end: int | None) -> None:
        """A source ended before the others: an error, or (``--unequal shortest``) stop there,
        counting the other sources' records left unpaired before group ``end`` (None: all)."""
        short = [s for m, s in zip(group, self.report.sources) if m is None]
        longer = [s for m, s in zip(group, self.report.sources) if m is not None]
        if self.job.unequal != "shortest":
            names = [f"{s.lang}={s.path}" for s in short]
            others = [f"{s.lang}={s.path}" for s in longer]
            ended = [k for k, member in enumerate(group) if member is None]
            # a source's records: the groups, less those where a repair left it a gap (a
            # range has not seen the others': the plan counted them)
            totals = self.view.records if self.view else ()
            read = [totals[k] if totals else done - self.gaps[k] - self.skip_gaps[k] for k in ended]
            records = " and ".join(dict.fromkeys(f"{n:,}" for n in read))
            hint = ""
            shifts = self.aligner.repairs if self.aligner is not None else []
            first = shifts[0]["from_index"] if shifts else None
            if shifts and too_many_shifts(len(shifts), done):  # (repaired or not)
                hint = (
                    f"; pairs look shifted at {len(shifts):,} places from index {first}: "
                    "are these sources translations of each other, in the same order?"
                )
            elif shifts and not self.job.realign:
                hint = f"; pairs look shifted from index {first}: --realign repairs that"
            # (range mode takes no --limit with --realign)
            limit = self.view is None or not self.job.realign
            raise unequal_sources(names, others, records, done, hint, limit)
        most = None if end is None else end - done - 1  # past this group's member
        for k, (member, stream, stats) in enumerate(zip(group, self.streams, self.report.sources)):
            if member is None:
                continue
            rest = self.aligner.rest(k) if self.aligner else stream
            left = sum(1 for _ in islice(rest, most))
            stats.unpaired = 1 + left
            stats.read = stats.unpaired
