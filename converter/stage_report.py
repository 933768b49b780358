"""The report of a run of stages (converter.stages): one stage's own, or the stages added up
with a section each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from converter.errors import EXIT_OK
from converter.report import EXAMPLES, CheckStats, RunReport
from converter.selection import Selection


def run_report(
    stages: Sequence[tuple[str, RunReport, float]],
    selection: Selection,
    paths: Sequence[str],
    written: Sequence[Sequence[tuple[int, int]]],
    mix: str,
    plugins: list[dict[str, str]],
) -> RunReport:
    """The run's report from each stage's name, report and weight: the single unnamed stage's
    own, or the stages' totals and sections. ``paths`` are the output's (one per split) and
    ``written`` each stage's (groups, records) per split."""
    names = [name for name, _ in selection.split]

    def splits(rows: Sequence[tuple[int, int]]) -> dict[str, dict[str, Any]]:
        return {
            name: {"path": path, "groups": groups, "records": records}
            for name, path, (groups, records) in zip(names, paths, rows)
        }

    for (_, report, _), rows in zip(stages, written):
        report.splits = splits(rows)
    if len(stages) == 1 and not stages[0][0]:
        total = stages[0][1]
    else:
        total = _totals([report for _, report, _ in stages], mix, plugins)
        rows = [(sum(g for g, _ in col), sum(r for _, r in col)) for col in zip(*written)]
        total.splits = splits(rows)
        total.stages = [_section(*stage) for stage in stages]
    total.selection = {**selection.describe(), **total.selection}
    return total


def _totals(reports: Sequence[RunReport], mix: str, plugins: list[dict[str, str]]) -> RunReport:
    """The stages' reports added up."""
    first = reports[0]
    total = RunReport(
        sources=[s for report in reports for s in report.sources],
        checks={},
        output=first.output,
        writer=first.writer,
        rejects=first.rejects,
        options={"mix": mix},
        plugins=plugins,
        started=min(report.started for report in reports),
    )
    counted = (
        "groups_read",
        "groups_written",
        "groups_rejected",
        "groups_filtered",
        "groups_skipped",
        "records_written",
        "rejects_written",
    )
    for report in reports:
        for name in counted:
            setattr(total, name, getattr(total, name) + getattr(report, name))
        for text, count in report.filters.items():
            total.filters[text] = total.filters.get(text, 0) + count
        for name, check in report.checks.items():
            into = total.checks.setdefault(name, CheckStats(check.policy))
            if into.policy != check.policy:
                into.policy = "per stage"
            into.warned += check.warned
            into.rejected += check.rejected
            into.examples += check.examples[: EXAMPLES - len(into.examples)]
        for cause, count in report.skipped_by().items():
            total.selection[cause] = total.selection.get(cause, 0) + count
        total.repairs += report.repairs
    return total


def _section(name: str, report: RunReport, weight: float) -> dict[str, Any]:
    """One stage's part of the report."""
    document = report.to_json(EXIT_OK)
    kept = ("options", "groups", "filters", "sources", "checks", "repairs", "selection", "splits")
    return {
        "name": name,
        "weight": weight,
        "records": report.records_written,
        "rejects": report.rejects_written,
        **{key: document[key] for key in kept},
    }
