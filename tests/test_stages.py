"""Multi-stage runs (converter.stages): stages concatenated or mixed by weights, ``seq``
prefixes, per-stage filters, rejects and report sections, dry runs; on the real Alpaca pair
and the Dolly excerpts."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import ALPACA_EN, ALPACA_JA, DOLLY_DIR, run_cli
from test_filters import excerpt_pair

from converter.errors import UsageError
from converter.pipeline import StreamJob, run_stream
from converter.selection import parse_split
from converter.stages import BATCH, BATCH_BYTES, Stage, WriteBatch, run_stages

PAIR = [("en", str(ALPACA_EN)), ("ja", str(ALPACA_JA))]


def records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL output."""
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def stages_of(tmp_path: Path, checks_off: dict[str, str]) -> list[Stage]:
    """``init``: the Alpaca pair; ``main``: the open_qa groups of the 38 Dolly excerpts."""
    en, ja = excerpt_pair(tmp_path)
    dolly = StreamJob(
        [("en", str(en)), ("ja", str(ja))],
        checks=checks_off,
        where=("category=open_qa",),
    )
    return [
        Stage("init", StreamJob(PAIR, checks=checks_off), weight=1.0),
        Stage("main", dolly, weight=3.0),
    ]


def alone(tmp_path: Path, stage: Stage, name: str) -> list[dict[str, Any]]:
    """The stage run by itself with ``convert stream``."""
    out = tmp_path / name
    assert run_stream(replace(stage.job, output=str(out)))[1] == 0
    return records(out)


def prefixed(rows: list[dict[str, Any]], stage: str) -> list[dict[str, Any]]:
    """``rows`` with the stage prefix on each ``seq``."""
    return [{**row, "seq": f"{stage}/{row['seq']}"} for row in rows]


def test_two_stages_concatenated_in_order(tmp_path: Path, checks_off: dict[str, str]) -> None:
    stages = stages_of(tmp_path, checks_off)
    out, report_path = tmp_path / "out.jsonl", tmp_path / "report.json"
    report, status = run_stages(stages, StreamJob([], str(out), report=str(report_path)))
    assert status == 0
    init, main = alone(tmp_path, stages[0], "init.jsonl"), alone(tmp_path, stages[1], "main.jsonl")
    assert records(out) == prefixed(init, "init") + prefixed(main, "main")
    assert (records(out)[0]["seq"], records(out)[-1]["seq"]) == ("init/0EN", "main/35JA")
    doc = json.loads(report_path.read_text())
    assert [s["name"] for s in doc["stages"]] == ["init", "main"]
    assert doc["stages"][1]["filters"] == {"category=open_qa": 29}
    assert doc["stages"][1]["groups"]["written"] == 9
    assert doc["groups"] == {"read": 175 + 38, "written": 175 + 9, "rejected": 0, "filtered": 29,
                             "skipped": 0}  # fmt: skip
    assert doc["output"]["records"] == len(init) + len(main)
    assert len(doc["sources"]) == 4 and all(s["reconciles"] for s in doc["sources"])
    assert b"stage main: groups 38 read, 9 written" in report.summary().encode()


def test_stages_mixed_by_weights_keep_every_group_and_each_stage_order(
    tmp_path: Path, checks_off: dict[str, str]
) -> None:
    stages = stages_of(tmp_path, checks_off)
    outputs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2), ("concat", 1)):
        out = tmp_path / f"{name}.jsonl"
        mix = "concat" if name == "concat" else "weights"
        assert run_stages(stages, StreamJob([], str(out)), mix, seed)[1] == 0
        outputs[name] = records(out)
    mixed = outputs["a"]
    assert mixed == outputs["b"]
    assert mixed != outputs["c"]
    assert mixed != outputs["concat"]
    key = json.dumps
    assert Counter(map(key, mixed)) == Counter(map(key, outputs["concat"]))
    for stage in ("init", "main"):
        assert [r for r in mixed if r["seq"].startswith(stage)] == [
            r for r in outputs["concat"] if r["seq"].startswith(stage)
        ]
    # main (9 groups, weight 3) is drawn early: its last group comes well before init's.
    last = {r["seq"].split("/")[0]: k for k, r in enumerate(mixed)}
    assert last["main"] < last["init"]


def test_rejects_name_their_stage_and_reasons_stay_per_stage(
    tmp_path: Path, checks_off: dict[str, str]
) -> None:
    broken = tmp_path / "ja.jsonl"
    rows = json.loads(ALPACA_JA.read_bytes())[:20]
    broken.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    with broken.open("r+b") as f:  # cut record 3's line in half
        text = f.read().split(b"\n")
        text[3] = text[3][:20]
        f.seek(0)
        f.write(b"\n".join(text))
        f.truncate()
    stage = Stage("ja", StreamJob([("ja", str(broken))], checks=checks_off))
    other = Stage("en", StreamJob([("en", str(ALPACA_EN))], checks=checks_off, limit=5))
    out = tmp_path / "out.jsonl"
    report, status = run_stages([other, stage], StreamJob([], str(out)))
    assert status == 1
    rejects = records(tmp_path / "out.jsonl.rejects.jsonl")
    assert [(r["stage"], r["index"]) for r in rejects] == [("ja", 3)]
    assert [s["groups"]["rejected"] for s in report.stages] == [0, 1]
    assert report.stages[1]["rejects"] == 1 and report.rejects_written == 1
    assert len(records(out)) == 5 + 19


def test_dry_run_counts_and_writes_nothing(tmp_path: Path, checks_off: dict[str, str]) -> None:
    stages = stages_of(tmp_path, checks_off)
    folder = tmp_path / "out"
    folder.mkdir()
    output = StreamJob(
        [], str(folder / "o.json"), split=parse_split("train=0.9,eval=0.1"), seed=3, shuffle=True
    )
    dry, status = run_stages(stages, output, "weights", dry_run=True)
    assert status == 0
    assert list(folder.iterdir()) == []
    real, _ = run_stages(stages, output, "weights")
    assert dry.splits == real.splits
    assert dry.groups_written == real.groups_written == 175 + 9
    assert sorted(p.name for p in folder.iterdir()) == ["o.eval.json", "o.train.json"]


def test_split_and_sample_across_stages(tmp_path: Path, checks_off: dict[str, str]) -> None:
    stages = stages_of(tmp_path, checks_off)
    output = StreamJob(
        [], str(tmp_path / "o.jsonl"), sample=100, seed=9, split=(("a", 1), ("b", 1))
    )
    report, _ = run_stages(stages, output)
    a, b = records(tmp_path / "o.a.jsonl"), records(tmp_path / "o.b.jsonl")
    assert len(a) + len(b) == 200
    seqs = [r["seq"] for r in a + b]
    assert len(set(seqs)) == 200
    assert {s[:-2] for s in seqs if s.endswith("EN")} == {s[:-2] for s in seqs if s.endswith("JA")}
    per_stage = [sum(v["groups"] for v in s["splits"].values()) for s in report.stages]
    assert sum(per_stage) == 100
    assert [s["selection"]["not_sampled"] for s in report.stages] == [175 - per_stage[0],
                                                                      9 - per_stage[1]]  # fmt: skip
    assert all(s["reconciles"] for stage in report.stages for s in stage["sources"])


def test_stage_ranges_and_the_dolly_tail(tmp_path: Path, checks_off: dict[str, str]) -> None:
    name = "tail_15009-15014"
    en = DOLLY_DIR / "en-excerpts" / f"databricks-dolly-15k.en.{name}.jsonl"
    ja = DOLLY_DIR / "ja-excerpts" / f"databricks-dolly-15k-ja.{name}.jsonl"
    tail = StreamJob([("en", str(en)), ("ja", str(ja))], checks=checks_off, start=2)
    head = StreamJob(PAIR, checks=checks_off, stop=2)
    out = tmp_path / "o.jsonl"
    run_stages([Stage("a", head), Stage("b-2", tail)], StreamJob([], str(out)))
    assert [r["seq"] for r in records(out)][::2] == ["a/0EN", "a/1EN"] + [
        f"b-2/{i}EN" for i in (2, 3, 4, 5)
    ]


@pytest.mark.parametrize(
    ("names", "weights", "mix", "message"),
    [
        (["Init"], [1.0], "concat", "must match"),
        (["a", "a"], [1.0, 1.0], "concat", "given twice"),
        (["a/b"], [1.0], "concat", "must match"),
        (["a"], [0.0], "weights", "weight must be > 0"),
        (["a", "b"], [math.inf, 1.0], "weights", "weight must be > 0 and finite, not inf"),
        (["a"], [1.0], "random", "mix must be one of"),
    ],
)
def test_bad_stages_are_usage_errors(
    names: list[str], weights: list[float], mix: Any, message: str
) -> None:
    stages = [Stage(n, StreamJob(PAIR), w) for n, w in zip(names, weights)]
    with pytest.raises(UsageError, match=message):
        run_stages(stages, StreamJob([]), mix)


def test_two_stages_reading_stdin_are_refused_before_anything_is_read() -> None:
    """The first stage would read all of stdin, the second an empty file (found only then)."""
    on_stdin = StreamJob([("en", "-"), ("ja", str(ALPACA_JA))])
    stages = [Stage("a", on_stdin), Stage("b", on_stdin)]
    with pytest.raises(UsageError, match="only one source can read stdin: stage 'a': en=-, "):
        run_stages(stages, StreamJob([]), "concat")


def test_huge_weights_mix_as_their_shares(tmp_path: Path, checks_off: dict[str, str]) -> None:
    """Weights of 1e308 each mix as weights of 1 do (they added up to infinity: every draw
    took the last stage, and the stages came out one after the other)."""
    outputs = []
    for weight in (1.0, 1e308):
        stages = [replace(stage, weight=weight) for stage in stages_of(tmp_path, checks_off)]
        out = tmp_path / f"{weight}.jsonl"
        assert run_stages(stages, StreamJob([], str(out)), "weights", 1)[1] == 0
        outputs.append(records(out))
    assert outputs[0] == outputs[1]


def test_mixed_shuffled_split_output_validates(tmp_path: Path, checks_off: dict[str, str]) -> None:
    stages = stages_of(tmp_path, checks_off)
    output = StreamJob(
        [], str(tmp_path / "o.json"), shuffle=True, seed=5, split=parse_split("a=3,b=1")
    )
    assert run_stages(stages, output, "weights", seed=5)[1] == 0
    files = [tmp_path / "o.a.json", tmp_path / "o.b.json"]
    done = run_cli("validate", "--languages", "en,ja", *files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_write_batch_is_full_at_batch_records_or_batch_bytes() -> None:
    """A write gathers BATCH records, or fewer once they hold BATCH_BYTES (512 records of
    1 MiB each were held at once: memory grew with the records' size)."""
    records = WriteBatch()
    assert not any(records.add([b"{}", b"{}"]) for _ in range(BATCH // 2 - 1))
    assert records.add([b"{}", b"{}"])
    assert len(records.take()) == BATCH and records.take() == []
    huge = WriteBatch()
    assert not huge.add([b"x" * (BATCH_BYTES // 2)])
    assert huge.add([b"x" * (BATCH_BYTES // 2)])
    assert len(huge.take()) == 2
