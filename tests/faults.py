"""Plant known faults into the real EN/JA pair and measure what the checks find.

Used by tests/test_pair_quality.py (which asserts the rates) and bench/pair_quality.py (which
prints them for bench/RESULTS.md).
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from converter.builtin.checks import BUILTIN_CHECKS, looks_like_code
from converter.pipeline import StreamJob, run_stream

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
EN = json.loads((DATA / "alpaca-en-ja" / "alpaca_seed_tasks.en.json").read_text())
JA = json.loads((DATA / "alpaca-en-ja" / "alpaca_seed_tasks.ja.json").read_text())
ZH = json.loads((DATA / "alpaca-zh" / "alpaca_zh_demo.json").read_text())
CHECKS = tuple(check.name for check in BUILTIN_CHECKS)
#: Positions faults are planted at: spread over the file, a few groups apart.
POSITIONS = list(range(3, 170, 12))
_NUMBER = re.compile(r"(?<![0-9.])[0-9]{2,}(?![0-9])")

Records = list[dict[str, Any]]


def flagged(
    en: Records, ja: Records, check: str, realign: bool = False
) -> tuple[set[int], dict[str, Any]]:
    """Run the pair with ``check`` set to reject (the others off); the rejected indexes and the report."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, records in (("en", en), ("ja", ja)):
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
            paths.append((name, str(path)))
        policies = {name: "off" for name in CHECKS}
        policies[check] = "reject"
        job = StreamJob(
            sources=paths,
            output=str(Path(tmp) / "out.jsonl"),
            report=str(Path(tmp) / "report.json"),
            checks=policies,
            unequal="shortest",
            realign=realign,
        )
        run_stream(job)
        rejects = Path(tmp) / "out.jsonl.rejects.jsonl"
        lines = rejects.read_text().splitlines() if rejects.exists() else []
        indexes = {json.loads(line)["index"] for line in lines if json.loads(line)["lang"] == "en"}
        report = json.loads((Path(tmp) / "report.json").read_text())
    return indexes, report


def false_flag_rates(en: Records, ja: Records) -> dict[str, float]:
    """Share of groups each check flags on data with no planted fault."""
    return {check: len(flagged(en, ja, check)[0]) / len(en) for check in CHECKS}


def plant(fault: Callable[[Records, Records, int], None]) -> tuple[Records, Records]:
    """Copies of the pair with ``fault`` planted at every position of POSITIONS."""
    en, ja = copy.deepcopy(EN), copy.deepcopy(JA)
    for p in POSITIONS:
        fault(en, ja, p)
    return en, ja


def untranslated_copy(en: Records, ja: Records, p: int) -> None:
    """The Japanese record is the English one, untouched."""
    ja[p] = dict(en[p])


def english_in_japanese(en: Records, ja: Records, p: int) -> None:
    """The Japanese output is English prose (the answer of the next record that has some)."""
    ja[p]["output"] = next(r["output"] for r in EN[p + 1 :] + EN if _prose(r["output"]))


def _prose(text: str) -> bool:
    return len(text.split()) >= 8 and not looks_like_code(text)


def chinese_in_japanese(en: Records, ja: Records, p: int) -> None:
    """The Japanese record is a Chinese one."""
    ja[p] = {
        "instruction": ZH[p]["instruction"],
        "input": ja[p]["input"],
        "output": ZH[p]["output"],
    }


def emptied_output(en: Records, ja: Records, p: int) -> None:
    """The Japanese output is empty."""
    ja[p]["output"] = ""


def truncated_outputs() -> tuple[Records, Records, list[int]]:
    """Every fourth Japanese output of 120 characters or more is cut to a tenth of its length
    (a translation that stopped short)."""
    en, ja = copy.deepcopy(EN), copy.deepcopy(JA)
    planted = [p for p, record in enumerate(ja) if len(record["output"]) >= 120][::4]
    for p in planted:
        ja[p]["output"] = ja[p]["output"][: len(ja[p]["output"]) // 10]
    return en, ja, planted


def duplicated_group(en: Records, ja: Records, p: int) -> None:
    """Group p+1 repeats group p."""
    en[p + 1], ja[p + 1] = dict(en[p]), dict(ja[p])


def dropped_numbers() -> tuple[Records, Records, list[int]]:
    """A number (or URL) that both sides share is deleted from the Japanese record."""
    en, ja = copy.deepcopy(EN), copy.deepcopy(JA)
    planted = []
    for p, (e, j) in enumerate(zip(en, ja)):
        text_en, text_ja = json.dumps(e), json.dumps(j, ensure_ascii=False)
        shared = [n for n in _NUMBER.findall(text_en) if n in _NUMBER.findall(text_ja)]
        if not shared:
            continue
        for field in ("instruction", "input", "output"):
            if shared[0] in j[field]:
                j[field] = re.sub(rf"(?<![0-9.]){shared[0]}(?![0-9])", "", j[field])
                planted.append(p)
                break
    return en, ja, planted


def deletion_hits(positions: list[int], count: int = 1) -> list[tuple[int, int | None]]:
    """For each position, delete that Japanese record (and the ``count - 1`` after it) and
    return (position, detected index) of the first repair by ``count``."""
    return [(p, _repaired_at(JA[:p] + JA[p + count :], count)) for p in positions]


def insertion_hits(positions: list[int]) -> list[tuple[int, int | None]]:
    """For each position, put an unrelated Japanese record there (the one 70 further on) and
    return (position, detected index) of the first repair of the extra record."""
    return [(p, _repaired_at([*JA[:p], JA[(p + 70) % len(JA)], *JA[p:]], -1)) for p in positions]


def short_shift(p: int, gap: int, lost_first: bool = True) -> Records:
    """The Japanese records with record ``p`` lost and an unrelated one (the one 70 further
    on) put in ``gap`` records later (``lost_first``), or the other way round: a shift by one
    that ends ``gap`` groups after it starts."""
    q, unrelated = p + gap, JA[(p + 70) % len(JA)]
    if lost_first:
        return [*JA[:p], *JA[p + 1 : q], unrelated, *JA[q:]]
    return [*JA[:p], unrelated, *JA[p:q], *JA[q + 1 :]]


def short_shift_hits(positions: list[int], gap: int, lost_first: bool = True) -> list[int]:
    """The positions of ``positions`` whose :func:`short_shift` ``--realign`` repairs exactly:
    the shift where it starts and the way back where it ends, nothing else."""
    exact = []
    for p in positions:
        _, report = flagged(EN, short_shift(p, gap, lost_first), "misalignment", realign=True)
        repairs = [(r["shift"], r["from_index"]) for r in report["repairs"]]
        sign = 1 if lost_first else -1
        if repairs == [(sign, p), (-sign, p + gap)]:
            exact.append(p)
    return exact


def _repaired_at(ja: Records, shift: int) -> int | None:
    """Where ``--realign`` repairs the first shift by ``shift`` of ``ja`` against EN (None:
    it repairs none): the index of the first group it pairs shifted."""
    _, report = flagged(EN, ja, "misalignment", realign=True)
    found = [r["from_index"] for r in report["repairs"] if r["shift"] == shift]
    return found[0] if found else None
