"""Print the pair checks' false-flag rates on good data and detection rates on planted faults.

Real data: the 175-pair alpaca-en-ja set (faults planted by tests/faults.py) and the Dolly
EN/JA excerpts. Usage: .venv/bin/python bench/pair_quality.py [--markdown]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import faults as F

from converter.pipeline import StreamJob, run_stream

PLANTED = (
    ("untranslated copy of the EN record", F.untranslated_copy, "untranslated", 0),
    ("English output in the JA record", F.english_in_japanese, "language", 0),
    ("Chinese record in the JA file", F.chinese_in_japanese, "language", 0),
    ("emptied JA output", F.emptied_output, "empty", 0),
    ("duplicated group", F.duplicated_group, "duplicate", 1),
)


def rows() -> list[tuple[str, str, str]]:
    """(what, check, figure) rows."""
    table = []
    for check, rate in F.false_flag_rates(F.EN, F.JA).items():
        table.append(("false flags, alpaca-en-ja (175 pairs)", check, f"{rate:.1%}"))
    table += dolly_false_flags()
    for what, fault, check, shift in PLANTED:
        en, ja = F.plant(fault)
        found, _ = F.flagged(en, ja, check)
        want = {p + shift for p in F.POSITIONS}
        extra = len(found - want)
        table.append(
            (f"detected: {what}", check, f"{len(found & want)}/{len(want)} (+{extra} other)")
        )
    en, ja, planted = F.dropped_numbers()
    found, _ = F.flagged(en, ja, "preserved")
    table.append(
        (
            "detected: a number dropped from the JA record",
            "preserved",
            f"{len(found & set(planted))}/{len(planted)}",
        )
    )
    en, ja, planted = F.truncated_outputs()
    found, _ = F.flagged(en, ja, "length-ratio")
    table.append(
        (
            "detected: a JA output cut to a tenth",
            "length-ratio",
            f"{len(found & set(planted))}/{len(planted)}",
        )
    )
    for count, what in ((1, "deleted JA record"), (2, "two JA records deleted in a row")):
        hits = F.deletion_hits(list(range(0, 174 - count)), count)
        near = sum(1 for p, d in hits if d is not None and abs(d - p) <= 1)
        table.append(
            (
                f"{what} located within ±1 (positions 0-{173 - count})",
                "misalignment",
                f"{near}/{len(hits)} ({near / len(hits):.1%})",
            )
        )
    # with --realign, a repair one group off writes a wrong pair and rejects a right one
    for hits, what in (
        (F.deletion_hits(list(range(173))), "deleted JA record"),
        (F.insertion_hits(list(range(173))), "unrelated JA record inserted"),
    ):
        exact = sum(1 for p, d in hits if d == p)
        table.append(
            (
                f"{what} repaired exactly by --realign (positions 0-172)",
                "misalignment",
                f"{exact}/{len(hits)} ({exact / len(hits):.1%})",
            )
        )
    positions = list(range(0, 165, 3))
    for gap in (3, 4, 8):
        for lost_first, what in ((True, "lost, one gained"), (False, "gained, one lost")):
            exact = len(F.short_shift_hits(positions, gap, lost_first))
            table.append(
                (
                    f"JA record {what} {gap} groups later: both repaired exactly by --realign",
                    "misalignment",
                    f"{exact}/{len(positions)} ({exact / len(positions):.1%})",
                )
            )
    return table


def dolly_false_flags() -> list[tuple[str, str, str]]:
    """False flags of each check on the 38 aligned Dolly EN/JA excerpt pairs."""
    counts: dict[str, int] = {}
    total = 0
    for en in sorted((F.DATA / "dolly-en-ja" / "en-excerpts").glob("*.jsonl")):
        ja = (
            F.DATA
            / "dolly-en-ja"
            / "ja-excerpts"
            / en.name.replace("databricks-dolly-15k.en.", "databricks-dolly-15k-ja.")
        )
        report, _ = run_stream(
            StreamJob(sources=[("en", str(en)), ("ja", str(ja))], output="/dev/null")
        )
        total += report.groups_read
        for name, stats in report.checks.items():
            counts[name] = counts.get(name, 0) + stats.warned
    return [
        (f"false flags, Dolly excerpts ({total} pairs)", name, f"{n}/{total}")
        for name, n in counts.items()
    ]


def main() -> None:
    """Print the table."""
    markdown = "--markdown" in sys.argv
    if markdown:
        print("| measure | check | result |\n| --- | --- | --- |")
    for what, check, figure in rows():
        print(f"| {what} | {check} | {figure} |" if markdown else f"{what:55} {check:13} {figure}")


if __name__ == "__main__":
    main()
