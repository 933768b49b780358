"""Selection that keeps groups whole: ``--start``/``--stop``, ``--sample``, ``--shuffle`` and
``--split``, on the real Alpaca pair and the full Japanese Dolly file."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import ALPACA_EN, ALPACA_JA, DOLLY_DIR, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from converter import spill
from converter.errors import InputError, UsageError
from converter.pipeline import StreamJob, run_stream
from converter.selection import Selection, parse_split, split_path
from converter.spill import GroupStore

JA_FULL = DOLLY_DIR / "ja-full" / "databricks-dolly-15k-ja.jsonl"
PAIR = [("en", str(ALPACA_EN)), ("ja", str(ALPACA_JA))]
GROUPS = 175


def lines(path: Path) -> list[bytes]:
    """The lines of a JSONL output."""
    return path.read_bytes().splitlines()


def seqs(path: Path) -> list[str]:
    """The ``seq`` of every record of a JSONL output."""
    return [json.loads(line)["seq"] for line in lines(path)]


def run(tmp_path: Path, name: str, checks_off: dict[str, str], **options: Any) -> Any:
    """Run the Alpaca pair to ``name`` (JSONL) with ``options``; return the report."""
    job = StreamJob(PAIR, str(tmp_path / name), checks=checks_off, **options)
    report, status = run_stream(job)
    assert status == 0
    return report


@pytest.fixture
def full(tmp_path: Path, checks_off: dict[str, str]) -> list[bytes]:
    """The whole Alpaca pair's output lines (EN, JA per group)."""
    run(tmp_path, "full.jsonl", checks_off)
    return lines(tmp_path / "full.jsonl")


def groups_of(records: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Consecutive EN/JA records as groups, checking that each pair is one group."""
    pairs = list(zip(records[::2], records[1::2]))
    assert len(records) % 2 == 0
    for en, ja in pairs:
        en_seq, ja_seq = json.loads(en)["seq"], json.loads(ja)["seq"]
        assert (en_seq[:-2], en_seq[-2:], ja_seq[-2:]) == (ja_seq[:-2], "EN", "JA")
    return pairs


def no_leftovers(folder: Path, *keep: str) -> None:
    """Only ``keep`` is in ``folder``: no temporary, spill or partial file."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(keep)


def test_start_stop_is_the_slice_of_the_full_run(
    tmp_path: Path, full: list[bytes], checks_off: dict[str, str]
) -> None:
    report = run(tmp_path, "part.jsonl", checks_off, start=20, stop=60)
    assert lines(tmp_path / "part.jsonl") == full[40:120]
    assert (report.groups_read, report.groups_written, report.groups_skipped) == (60, 40, 20)
    assert report.selection["before_start"] == 20
    assert all(s.to_json()["reconciles"] and s.skipped == 20 for s in report.sources)


def test_limit_counts_from_start_and_stop_past_the_end_is_the_rest(
    tmp_path: Path, full: list[bytes], checks_off: dict[str, str]
) -> None:
    run(tmp_path, "limited.jsonl", checks_off, start=170, limit=3)
    assert lines(tmp_path / "limited.jsonl") == full[340:346]
    run(tmp_path, "rest.jsonl", checks_off, start=170, stop=1000)
    assert lines(tmp_path / "rest.jsonl") == full[340:]
    run(tmp_path, "none.jsonl", checks_off, start=200)
    assert lines(tmp_path / "none.jsonl") == []


@pytest.mark.parametrize(("start", "stop"), [(5, 5), (8, 3), (0, 0)])
def test_a_stop_not_past_start_is_refused(tmp_path: Path, start: int, stop: int) -> None:
    """It would select no group: exit 2 before anything is written."""
    out = tmp_path / "out.jsonl"
    done = run_cli(
        "stream", f"en={ALPACA_EN}", "-o", out, "--start", str(start), "--stop", str(stop)
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        f"convert: error: --stop {stop} is not past --start {start}: that selects no group"
    )
    assert not out.exists()


def test_start_and_stop_on_the_command_line(tmp_path: Path, checks_off_args: list[str]) -> None:
    out, report = tmp_path / "out.json", tmp_path / "report.json"
    done = run_cli(
        "stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "-o", out, "--start", "5",
        "--stop", "8", "--report", report, *checks_off_args,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [r["seq"] for r in json.loads(out.read_bytes())] == [
        f"{i}{s}" for i in (5, 6, 7) for s in ("EN", "JA")
    ]
    assert b"5 groups skipped (before start 5)" in done.stderr
    doc = json.loads(report.read_text())
    assert doc["groups"] == {"read": 8, "written": 3, "rejected": 0, "filtered": 0, "skipped": 5}
    assert [s["reconciles"] for s in doc["sources"]] == [True, True]


def test_sample_is_exact_whole_seeded_and_in_input_order(
    tmp_path: Path, full: list[bytes], checks_off: dict[str, str]
) -> None:
    report = run(tmp_path, "a.jsonl", checks_off, sample=50, seed=7)
    run(tmp_path, "b.jsonl", checks_off, sample=50, seed=7)
    run(tmp_path, "c.jsonl", checks_off, sample=50, seed=8)
    sample = lines(tmp_path / "a.jsonl")
    assert len(groups_of(sample)) == 50
    assert sample == lines(tmp_path / "b.jsonl")
    assert sample != lines(tmp_path / "c.jsonl")
    assert set(groups_of(sample)) <= set(groups_of(full))
    positions = [full.index(record) for record in sample]
    assert positions == sorted(positions)
    assert (report.groups_written, report.selection["not_sampled"]) == (50, GROUPS - 50)
    assert all(s.to_json()["reconciles"] for s in report.sources)


def test_sample_larger_than_the_input_keeps_everything(
    tmp_path: Path, full: list[bytes], checks_off: dict[str, str]
) -> None:
    run(tmp_path, "all.jsonl", checks_off, sample=1000, seed=1)
    assert lines(tmp_path / "all.jsonl") == full
    run(tmp_path, "none.jsonl", checks_off, sample=0, seed=1)
    assert lines(tmp_path / "none.jsonl") == []


def spy_on_spills(monkeypatch: pytest.MonkeyPatch, limit: int) -> list[int]:
    """Lower the spill threshold to ``limit`` bytes; the returned list grows at each spill."""
    spills: list[int] = []
    spill_to_disk = GroupStore._spill

    def counted(store: GroupStore) -> None:
        spills.append(len(store.memory))
        spill_to_disk(store)

    monkeypatch.setattr(spill, "SPILL_BYTES", limit)
    monkeypatch.setattr(GroupStore, "_spill", counted)
    return spills


def test_sample_and_shuffle_spill_to_disk_with_the_same_result(
    tmp_path: Path, checks_off: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = tmp_path / "memory"
    disk = tmp_path / "disk"
    memory.mkdir()
    disk.mkdir()
    for folder in (memory, disk):
        if folder is disk:
            spills = spy_on_spills(monkeypatch, 20_000)
        run(folder, "sample.jsonl", checks_off, sample=120, seed=3)
        run(folder, "shuffle.jsonl", checks_off, shuffle=True, seed=3)
        run(folder, "both.jsonl", checks_off, sample=60, shuffle=True, seed=3)
    assert len(spills) == 3
    for name in ("sample.jsonl", "shuffle.jsonl", "both.jsonl"):
        assert (disk / name).read_bytes() == (memory / name).read_bytes()
    no_leftovers(disk, "sample.jsonl", "shuffle.jsonl", "both.jsonl")


def test_shuffle_is_a_seeded_permutation_of_whole_groups(
    tmp_path: Path, full: list[bytes], checks_off: dict[str, str]
) -> None:
    for name, seed in (("a.jsonl", 5), ("b.jsonl", 5), ("c.jsonl", 6)):
        run(tmp_path, name, checks_off, shuffle=True, seed=seed)
    shuffled = lines(tmp_path / "a.jsonl")
    assert Counter(groups_of(shuffled)) == Counter(groups_of(full))
    assert shuffled != full
    assert shuffled == lines(tmp_path / "b.jsonl")
    assert shuffled != lines(tmp_path / "c.jsonl")


def test_split_partitions_whole_groups_deterministically(
    tmp_path: Path, full: list[bytes], checks_off: dict[str, str]
) -> None:
    split = parse_split("train=0.8,eval=0.2")
    report = run(tmp_path, "out.jsonl", checks_off, split=split, seed=11)
    train, evals = lines(tmp_path / "out.train.jsonl"), lines(tmp_path / "out.eval.jsonl")
    assert sorted(groups_of(train) + groups_of(evals)) == sorted(groups_of(full))
    assert not set(groups_of(train)) & set(groups_of(evals))
    assert [full.index(r) for r in train] == sorted(full.index(r) for r in train)
    assert report.splits["train"]["groups"] == len(train) // 2
    assert report.splits["eval"]["records"] == len(evals)
    again = tmp_path / "again"
    again.mkdir()
    run(again, "out.jsonl", checks_off, split=split, seed=11)
    assert lines(again / "out.train.jsonl") == train
    no_leftovers(tmp_path, "full.jsonl", "out.train.jsonl", "out.eval.jsonl", "again")


def test_a_group_lands_in_the_same_split_whatever_the_slice(
    tmp_path: Path, checks_off: dict[str, str]
) -> None:
    split = parse_split("a=1,b=1,c=1")
    run(tmp_path, "all.jsonl", checks_off, split=split, seed=2)
    run(tmp_path, "part.jsonl", checks_off, split=split, seed=2, start=40, stop=90)
    for name in ("a", "b", "c"):
        everything = seqs(tmp_path / f"all.{name}.jsonl")
        part = seqs(tmp_path / f"part.{name}.jsonl")
        assert part == [s for s in everything if 40 <= int(s[:-2]) < 90]


def test_split_ratio_on_the_full_japanese_dolly(tmp_path: Path) -> None:
    out = tmp_path / "dolly.jsonl"
    job = StreamJob(
        [("ja", str(JA_FULL))],
        str(out),
        checks={"all": "off"},
        split=parse_split("train=0.98,eval=0.02"),
        seed=0,
    )
    report, _ = run_stream(job)
    evals = report.splits["eval"]["groups"]
    assert report.splits["train"]["groups"] + evals == 15_015
    # 2% of 15,015 is 300.3, with a standard deviation of about 17.
    assert abs(evals - 300.3) < 5 * 17.2
    assert len(lines(tmp_path / "dolly.eval.jsonl")) == evals


def test_split_on_the_command_line_with_json_and_parquet(
    tmp_path: Path, checks_off_args: list[str]
) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pair = (f"en={ALPACA_EN}", f"ja={ALPACA_JA}")
    for out in ("out.json", "out.parquet"):
        done = run_cli(
            "stream", *pair, "-o", tmp_path / out, "--split", "train=0.9,eval=0.1",
            "--seed", "4", *checks_off_args,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert b"convert: split train: " in done.stderr
    train = json.loads((tmp_path / "out.train.json").read_bytes())
    evals = json.loads((tmp_path / "out.eval.json").read_bytes())
    assert len(train) + len(evals) == 2 * GROUPS
    table = pq.read_table(tmp_path / "out.train.parquet")
    assert table.column("seq").to_pylist() == [r["seq"] for r in train]
    no_leftovers(
        tmp_path, "out.train.json", "out.eval.json", "out.train.parquet", "out.eval.parquet"
    )


def test_split_file_names_keep_compression_suffixes() -> None:
    assert split_path("out.json", "train") == "out.train.json"
    assert split_path("d/out.jsonl.gz", "eval") == "d/out.eval.jsonl.gz"
    assert split_path("data.v2/out", "train") == "data.v2/out.train"
    assert split_path("out.parquet", "eval") == "out.eval.parquet"


def test_failures_leave_no_partial_outputs(
    tmp_path: Path, checks_off: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spills = spy_on_spills(monkeypatch, 5_000)
    short = tmp_path / "short.json"
    short.write_bytes(json.dumps(json.loads(ALPACA_JA.read_bytes())[:100]).encode())
    out = tmp_path / "out" / "o.jsonl"
    out.parent.mkdir()
    job = StreamJob(
        [("en", str(ALPACA_EN)), ("ja", str(short))],
        str(out),
        checks=checks_off,
        split=parse_split("train=0.5,eval=0.5"),
        shuffle=True,
    )
    with pytest.raises(InputError, match="ends after 100 records"):
        run_stream(job)
    assert spills
    no_leftovers(out.parent)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "train=0.9"], b"at least two parts"),
        (["--split", "train=0.9,eval=x"], b"positive shares"),
        (["--split", "train=1,train=2"], b"twice"),
        (["--split", "train=1e308,eval=1e308"], b"and so must their sum"),
        (["--sample", "-1"], b"--sample"),
        (["--start", "-2"], b"--start"),
    ],
)
def test_bad_selection_options_exit_2_with_one_line(
    tmp_path: Path, args: list[str], message: bytes
) -> None:
    done = run_cli("stream", f"en={ALPACA_EN}", "-o", tmp_path / "o.jsonl", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert b"Traceback" not in done.stderr


def test_split_shares_that_are_infinite_in_a_recipe_or_the_api_are_refused(
    tmp_path: Path,
) -> None:
    """(The command line refuses inf itself; a recipe's TOML or the API can give it.)"""
    for split in ((("train", float("inf")), ("eval", 1.0)), (("a", 1e308), ("b", 1e308))):
        with pytest.raises(UsageError, match="must be > 0 and finite"):
            run_stream(StreamJob(PAIR, output=str(tmp_path / "o.jsonl"), split=split))
    assert list(tmp_path.iterdir()) == []


def test_split_needs_an_output_file() -> None:
    with pytest.raises(UsageError, match="give -o FILE"):
        run_stream(StreamJob(PAIR, split=parse_split("a=1,b=1")))


def synthetic(n: int, stages: int) -> list[tuple[int, int, list[bytes]]]:
    """``n`` groups spread over ``stages`` stages, one or two records each."""
    return [(i % stages, i // stages, [b"x%d" % i] * (1 + i % 2)) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 200),
    stages=st.integers(1, 3),
    seed=st.integers(0, 2**32),
    shares=st.lists(st.floats(0.01, 10), min_size=2, max_size=4),
    sample=st.none() | st.integers(0, 250),
    shuffle=st.booleans(),
    limit=st.sampled_from([0, 300, 10**9]),
)
def test_selection_keeps_each_group_once(
    tmp_path_factory: pytest.TempPathFactory,
    n: int,
    stages: int,
    seed: int,
    shares: list[float],
    sample: int | None,
    shuffle: bool,
    limit: int,
) -> None:
    groups = synthetic(n, stages)
    split = tuple((f"s{k}", share) for k, share in enumerate(shares))
    selection = Selection(seed, sample, shuffle, split)
    names = [f"stage{k}" for k in range(stages)]
    store = GroupStore(str(tmp_path_factory.getbasetemp()), limit)
    try:
        chosen = list(selection.select(iter(groups), names, store))
    finally:
        store.close()
    picked = [group for _, group in chosen]
    assert len(picked) == (n if sample is None else min(sample, n))
    assert len(set(map(repr, picked))) == len(picked)
    assert all(group in groups for group in picked)
    assert all(0 <= where < len(split) for where, _ in chosen)
    if not shuffle:
        order = [groups.index(group) for group in picked]
        assert order == sorted(order)
    again = GroupStore(None, limit)
    try:
        assert list(selection.select(iter(groups), names, again)) == chosen
    finally:
        again.close()


def test_dataset_info_gets_one_entry_per_split(tmp_path: Path, checks_off: dict[str, str]) -> None:
    info = tmp_path / "dataset_info.json"
    split = parse_split("train=0.9,eval=0.1")
    run(tmp_path, "out.json", checks_off, split=split, dataset_info=str(info))
    entries = json.loads(info.read_bytes())
    assert {name: e["file_name"] for name, e in entries.items()} == {
        "out.train": "out.train.json",
        "out.eval": "out.eval.json",
    }


def test_groups_on_disk_are_written_and_read_a_few_mib_at_a_time(tmp_path: Path) -> None:
    """Huge groups (1 MiB each) once on disk: the inserts waiting in memory, and the rows read
    back at once, hold a few MiB, not ``ROWS`` groups (1,024 MiB: the memory of --shuffle grew
    with the records' size); every group comes back, in order."""
    store = GroupStore(str(tmp_path), limit=0)
    big = [bytes([k]) * (1 << 20) for k in range(12)]
    try:
        for k, data in enumerate(big):
            store.add(k, float(-k), data)
            assert store.inserted <= spill.ROWS_BYTES
        store.remove(3)
        kept = [data for k, data in enumerate(big) if k != 3]
        assert list(store.items(by_key=True)) == kept[::-1]  # keys -k: the last first
        assert list(store.items(by_key=False)) == kept
    finally:
        store.close()
