"""Counting: per source and per check, so that
read = written + rejected + filtered + unpaired + skipped."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from converter import __version__, kernels
from converter.alignment import too_many_shifts
from converter.output import STDOUT, one_line

#: Examples kept per check and per rejection kind in the report.
EXAMPLES = 5


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun`` for a summary: ``1 group``, ``2,048 groups``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


#: Names of input keys not written that a source's stats count one by one...
KEY_NAMES = 1000
#: ... the others counted together under this one.
OTHER_KEYS = "(other names)"


def _named(path: str) -> str:
    """``path`` as the summary names it: ``-`` is stdout."""
    return "stdout" if path == STDOUT else path


def reason_kind(reason: str) -> str:
    """The countable part of a reason: the text before its first colon."""
    return reason.split(":", 1)[0]


@dataclass
class SourceStats:
    """What happened to one source's records."""

    lang: str
    path: str
    format: str = ""
    shape: str = ""
    read: int = 0
    written: int = 0
    rejected: int = 0
    filtered: int = 0
    unpaired: int = 0
    #: Groups read but not selected: before ``--start``, or left out by ``--sample``.
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    dropped_keys: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    sha256: str | None = None

    def count_dropped(self, names: Collection[str] | Mapping[str, int]) -> None:
        """Count input keys not written (``names``, once each, or a mapping of name to count):
        KEY_NAMES names at most, the others together as OTHER_KEYS (names unique to each
        record grew memory and the report without bound)."""
        dropped = self.dropped_keys
        if len(dropped) + len(names) <= KEY_NAMES:
            dropped.update(names)
            return
        counts = names if isinstance(names, Mapping) else dict.fromkeys(names, 1)
        for name, times in counts.items():
            dropped[name if name in dropped or len(dropped) < KEY_NAMES else OTHER_KEYS] += times

    def count_rejected(self, reasons: list[str]) -> None:
        """Count a rejected record under each kind of reason it carries, once a kind (two
        partners rejected, or two findings of one check, count once)."""
        self.reasons.update(dict.fromkeys(map(reason_kind, reasons), 1))

    def set_format(self, name: str) -> None:
        """Record the input format used (given or detected)."""
        self.format = name

    def to_json(self) -> dict[str, Any]:
        """The report entry for this source."""
        return {
            "lang": self.lang,
            "path": self.path,
            "format": self.format,
            "shape": self.shape,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "read": self.read,
            "written": self.written,
            "rejected": self.rejected,
            "filtered": self.filtered,
            "unpaired": self.unpaired,
            "skipped": self.skipped,
            "reconciles": self.read
            == self.written + self.rejected + self.filtered + self.unpaired + self.skipped,
            "rejected_by_reason": dict(self.reasons.most_common()),
            "dropped_keys": dict(self.dropped_keys.most_common()),
        }


@dataclass
class CheckStats:
    """Groups one check warned about or rejected, with the first few examples."""

    policy: str
    warned: int = 0
    rejected: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, index: int, findings: list[str], rejected: bool) -> None:
        """Count one group's findings."""
        if rejected:
            self.rejected += 1
        else:
            self.warned += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append({"index": index, "findings": findings})


@dataclass
class RunReport:
    """Everything ``--report`` writes and the summary prints."""

    sources: list[SourceStats]
    checks: dict[str, CheckStats]
    output: str
    writer: str
    rejects: str
    options: dict[str, Any]
    groups_read: int = 0
    groups_written: int = 0
    groups_rejected: int = 0
    groups_filtered: int = 0
    #: Groups read but not selected (``selection`` says why: before ``--start``, not sampled).
    groups_skipped: int = 0
    #: The selection asked for and what it left out (converter.selection).
    selection: dict[str, Any] = field(default_factory=dict)
    #: Per ``--split`` name: its file and the groups and records written to it.
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Per stage of a multi-stage run (converter.stages): its own report section.
    stages: list[dict[str, Any]] = field(default_factory=list)
    #: Groups dropped by each ``--where`` condition (the first one each group failed).
    filters: dict[str, int] = field(default_factory=dict)
    records_written: int = 0
    rejects_written: int = 0
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0
    plugins: list[dict[str, str]] = field(default_factory=list)
    repairs: list[dict[str, Any]] = field(default_factory=list)
    #: A range-parallel run (converter.scale.run): engine, jobs, ranges and their seconds.
    parallel: dict[str, Any] | None = None

    def finish(self) -> None:
        """Stop the clock."""
        self.seconds = time.perf_counter() - self.started

    def to_json(self, exit_status: int) -> dict[str, Any]:
        """The ``--report`` document."""
        document: dict[str, Any] = {
            "tool": {
                "name": "langpair-converter",
                "version": __version__,
                "kernels": kernels.describe(),  # compiled, or the Python code of the checks
                "plugins": self.plugins,
            },
            "exit_status": exit_status,
            "options": self.options,
            "output": {"path": self.output, "format": self.writer, "records": self.records_written},
            "rejects": {"path": self.rejects, "records": self.rejects_written},
            "groups": {
                "read": self.groups_read,
                "written": self.groups_written,
                "rejected": self.groups_rejected,
                "filtered": self.groups_filtered,
                "skipped": self.groups_skipped,
            },
            "selection": self.selection,
            "splits": self.splits,
            "stages": self.stages,
            "filters": self.filters,
            "sources": [s.to_json() for s in self.sources],
            "checks": {
                name: {
                    "policy": c.policy,
                    "warned": c.warned,
                    "rejected": c.rejected,
                    "examples": c.examples,
                }
                for name, c in self.checks.items()
            },
            "repairs": self.repairs,
            "seconds": round(self.seconds, 3),
        }
        if self.parallel is not None:
            document["parallel"] = self.parallel
        return document

    def skipped_by(self) -> dict[str, int]:
        """The skipped groups by cause (``before_start``, ``not_sampled``), the non-zero ones."""
        causes = ("before_start", "not_sampled")
        return {k: self.selection[k] for k in causes if self.selection.get(k)}

    def _repairs_said(self) -> list[str]:
        """A line for each source whose shifts ``--realign`` repaired: how many, the first;
        and when they are that many, what that suggests."""
        lines = []
        for k, stats in enumerate(self.sources):
            done = [r for r in self.repairs if r["source"] == k and r["repaired"]]
            if not done:
                continue
            first = done[0]
            line = (
                f"convert: {stats.lang}: {counted(len(done), 'shift')} repaired (--realign), "
                f"the first by {first['shift']:+d} at index {first['from_index']}"
            )
            if too_many_shifts(len(done), self.groups_read):
                line += (
                    f"; that many in {counted(self.groups_read, 'group')} suggest that the "
                    "sources are not translations of each other: check the pairs"
                )
            lines.append(line)
        return lines

    def summary(self) -> str:
        """One or a few lines for stderr (a line break in a name written as its escape)."""
        total = sum(s.bytes for s in self.sources)
        secs = max(self.seconds, 1e-9)
        target = counted(len(self.splits), "split file") if self.splits else self.output
        target = _named(target)
        if self.parallel is not None and not self.parallel["merged"]:
            target = f"the parts in {self.output} (not merged)"
        lines = [
            f"convert: {counted(self.groups_read, 'group')} read, "
            f"{counted(self.records_written, 'record')} written "
            f"to {target}, "
            f"{counted(self.groups_rejected, 'group')} rejected"
            + (
                f" ({counted(self.rejects_written, 'record')} in {_named(self.rejects)})"
                if self.rejects_written
                else ""
            )
            + f"; {self.seconds:.2f} s, {total / secs / 1e6:.1f} MB/s, "
            f"{self.records_written / secs:,.0f} records/s"
        ]
        if self.groups_skipped:
            why = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in self.skipped_by().items())
            lines.append(f"convert: {counted(self.groups_skipped, 'group')} skipped ({why})")
        for stage in self.stages:
            groups = ", ".join(f"{n:,} {what}" for what, n in stage["groups"].items())
            lines.append(f"convert: stage {stage['name']}: groups {groups}")
        for name, split in self.splits.items():
            lines.append(
                f"convert: split {name}: {counted(split['groups'], 'group')}, "
                f"{counted(split['records'], 'record')} in {split['path']}"
            )
        if self.filters:
            counts = ", ".join(f"{text} ({n:,})" for text, n in self.filters.items())
            lines.append(
                f"convert: {counted(self.groups_filtered, 'group')} filtered out: {counts}"
            )
        for s in self.sources:
            if s.unpaired:
                lines.append(
                    f"convert: {s.lang}: {counted(s.unpaired, 'record')} left unpaired "
                    "(--unequal shortest)"
                )
            if s.dropped_keys:
                keys = ", ".join(f"{k} ({n:,})" for k, n in s.dropped_keys.most_common(5))
                lines.append(f"convert: {s.lang}: input keys not written (use --keep-tags): {keys}")
        lines += self._repairs_said()
        for name, c in self.checks.items():
            if c.warned or c.rejected:
                first = c.examples[0] if c.examples else None
                example = (
                    f"; first at index {first['index']}: {first['findings'][0]}" if first else ""
                )
                lines.append(
                    f"convert: check {name}: {c.warned:,} warned, {c.rejected:,} rejected{example}"
                )
        return "\n".join(map(one_line, lines))
