"""Scale-out building blocks: the range planner, the engines (local processes, Ray), part files
with their manifest, merge and resume."""

from __future__ import annotations

import io
import itertools
import multiprocessing
import os
import random
import re
import signal
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import ALPACA_EN, ALPACA_JA, DOLLY_DIR, SEED_DIR, run_cli

from converter.builtin.writers import JsonArrayWriter
from converter.errors import InputError, UsageError
from converter.inputs import open_input
from converter.model import WriterOptions
from converter.plugins import build_manager, build_registry
from converter.readers import read_items
from converter.scale import parts as parts_module
from converter.scale import plan as plan_module
from converter.scale.engines import LocalPool, TaskFailed, run_tasks
from converter.scale.parts import (
    InOrder,
    Manifest,
    PartEntry,
    PartWriter,
    StreamMerge,
    add_counts,
    merge,
    part_name,
    read_blocks,
    read_groups,
    run_parts,
    separator_of,
)
from converter.scale.plan import Plan, plan, source_files
from converter.scale.shard import shard

TESTS = Path(__file__).resolve().parent

# -- the planner ---------------------------------------------------------------------------


def full_read(files: Sequence[str]) -> list[tuple[str, int | None, str]]:
    """Every record of a source's files as the reader gives it: file, line, value (or raw)."""
    records = []
    for path in files:
        source = open_input(path, path)
        try:
            for item in read_items(source):
                shown = repr(item.value) if item.raw is None else repr(item.raw)
                records.append((path, item.line, shown))
        finally:
            source.close()
    return records


def planned(result: Plan, k: int) -> list[list[tuple[str, int | None, str]]]:
    """Per range, the records of source ``k`` read from its spans alone (seek, read lines)."""
    out = []
    for r in result.ranges:
        records = []
        for span in r.spans[k]:
            with open(span.path, "rb") as f:
                f.seek(span.start)
                data = f.read(span.end - span.start)
            lines = data.splitlines(keepends=True)
            taken = 0
            for number, line in enumerate(lines, span.line):
                if line.isspace() or taken == span.records:
                    continue
                taken += 1
                try:
                    shown = repr(orjson.loads(line))
                except orjson.JSONDecodeError:
                    shown = repr(line)
                records.append((span.path, number, shown))
            assert taken == span.records
        assert len(records) == r.stop - r.start
        out.append(records)
    return out


def assert_plan_matches(result: Plan, sources: Sequence[Sequence[str]]) -> None:
    for k, files in enumerate(sources):
        want = full_read(files)
        assert result.sources[k].records == len(want)
        got = planned(result, k)
        assert [rec for rng in got for rec in rng] == want[: result.groups]
        for r, records in zip(result.ranges, got):
            assert records == want[r.start : r.stop]


@pytest.mark.parametrize("every", [1, 7, 50, 1000])
def test_plan_real_jsonl(every: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module, "SCAN_BYTES", 4096)  # many blocks, lines cut across them
    en, ja = str(SEED_DIR / "seed_tasks.en.jsonl"), str(SEED_DIR / "seed_tasks_japanese.ja.jsonl")
    result = plan([("en", en), ("ja", ja)], every)
    result.check_equal()
    assert result.groups == 175 and len(result.ranges) == -(-175 // every)
    assert_plan_matches(result, [[en], [ja]])


def test_plan_dolly_full_and_shards(tmp_path: Path) -> None:
    """16 MB of real Dolly JA: a plain file and its shards plan to the same records."""
    path = str(DOLLY_DIR / "ja-full" / "databricks-dolly-15k-ja.jsonl")
    shard(path, str(tmp_path / "shards"), records=4000)
    shards = source_files(str(tmp_path / "shards"))
    result = plan([("ja", path), ("ja2", str(tmp_path / "shards" / "shards.json"))], 3000)
    assert result.groups == result.sources[0].records > 15_000
    assert len(result.ranges[1].spans[1]) == 2  # range 1 crosses from shard 0 into shard 1
    assert_plan_matches(result, [[path], shards])


def generated_jsonl(path: Path, seed: int, records: int) -> None:
    """JSON Lines with what the reader skips or keeps: a BOM and leading blank lines, blank and
    whitespace-only lines, CRLF, lines that do not parse, no final newline (some seeds)."""
    rng = random.Random(seed)
    lines = [b"\xef\xbb\xbf \n\n  \t" if seed % 2 else b"\n \r\n"]
    for i in range(records):
        while i and rng.random() < 0.2:  # (a leading \x0b would not be JSON whitespace)
            lines.append(rng.choice([b"\n", b" \n", b"\t\r\n", b"\x0b\x0c \n", b"\r\n"]))
        text = "x" * rng.randrange(0, 300)
        line = orjson.dumps({"i": i, "t": text})
        if i and rng.random() < 0.05:
            line = line[:-3]  # does not parse
        lines.append(line + (b"\r\n" if rng.random() < 0.1 else b"\n"))
    if seed % 3 == 0:
        lines[-1] = lines[-1].rstrip(b"\r\n")
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize("seed", range(6))
def test_plan_generated(tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module, "SCAN_BYTES", 97 + seed * 301)
    files = []
    for n, count in enumerate([400, 7, 250]):
        files.append(tmp_path / f"s{n}.jsonl")
        generated_jsonl(files[-1], seed * 10 + n, count)
    other = tmp_path / "other.jsonl"
    generated_jsonl(other, seed + 100, 657)
    result = plan([("a", [str(f) for f in files]), ("b", str(other))], [1, 3, 64, 500][seed % 4])
    result.check_equal()
    assert_plan_matches(result, [[str(f) for f in files], [str(other)]])


def test_plan_unequal_and_limit(tmp_path: Path) -> None:
    short, long = tmp_path / "short.jsonl", tmp_path / "long.jsonl"
    generated_jsonl(short, 1, 90)
    generated_jsonl(long, 2, 100)
    result = plan([("en", str(short)), ("ja", str(long))], 40)
    with pytest.raises(InputError) as caught:
        result.check_equal()
    assert str(caught.value) == (
        f"en={short}: ends after 90 records but ja={long} has more; "
        "pair the first 90 with --unequal shortest (or --limit 90)"
    )
    assert result.groups == 90 and result.unpaired() == {"en": 0, "ja": 10}
    assert [(r.start, r.stop) for r in result.ranges] == [(0, 40), (40, 80), (80, 90)]
    assert_plan_matches(result, [[str(short)], [str(long)]])
    limited = plan([("en", str(short)), ("ja", str(long))], 40, limit=45)
    assert [(r.start, r.stop) for r in limited.ranges] == [(0, 40), (40, 45)]
    assert_plan_matches(limited, [[str(short)], [str(long)]])


def test_plan_refuses_what_it_cannot_split(tmp_path: Path) -> None:
    """JSON arrays are cut into ranges now; compressed files, other shapes and (pairing by
    key) arrays are not."""
    assert plan([("en", str(ALPACA_EN))], 10).groups == 175
    gz = tmp_path / "x.jsonl.gz"
    gz.write_bytes(b"")
    with pytest.raises(UsageError, match="compressed; ranges need plain files to seek in"):
        plan([("en", str(gz))], 10)
    with pytest.raises(InputError, match="no such file"):
        plan([("en", str(tmp_path / "missing" / "shards.json"))], 10)
    concatenated = tmp_path / "objects.json"  # pretty-printed objects one after another
    concatenated.write_text('{\n  "a": 1\n}\n{\n  "a": 2\n}\n')
    with pytest.raises(UsageError, match="is concatenated JSON values, not JSON Lines"):
        plan([("en", str(concatenated))], 10)
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = tmp_path / "t.parquet"
    pq.write_table(pa.table({"instruction": ["i"], "input": [""], "output": ["o"]}), table)
    with pytest.raises(UsageError, match="is Parquet, not JSON Lines: convert shard"):
        plan([("en", str(table))], 10)
    with pytest.raises(UsageError, match="is a JSON array, not JSON Lines: convert shard"):
        plan([("en", str(ALPACA_EN))], 10, first_only=True)


# -- engines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Square:
    n: int

    def __call__(self) -> int:
        return self.n * self.n


@dataclass(frozen=True)
class DieOnce:
    """Dies the first time (exit or SIGKILL), answers the second."""

    marker: str
    n: int
    kill: bool = False

    def __call__(self) -> int:
        if not os.path.exists(self.marker):
            Path(self.marker).touch()
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(7)
        return -self.n


@dataclass(frozen=True)
class AlwaysDie:
    def __call__(self) -> None:
        os._exit(9)


@dataclass(frozen=True)
class Fail:
    def __call__(self) -> None:
        raise InputError("x.json: line 3: broken")


@dataclass(frozen=True)
class FailAfter:
    """Raises ``message`` after ``seconds``."""

    seconds: float
    message: str

    def __call__(self) -> None:
        time.sleep(self.seconds)
        raise InputError(self.message)


def test_local_engine_in_order_and_retried(tmp_path: Path) -> None:
    tasks: list[Callable[[], int]] = [Square(n) for n in range(7)]
    tasks[2] = DieOnce(str(tmp_path / "a"), 2)
    tasks[5] = DieOnce(str(tmp_path / "b"), 5, kill=True)
    assert run_tasks(tasks, "local", jobs=2, retries=1) == [0, 1, -2, 9, 16, -5, 36]


def test_a_pool_started_ahead_runs_task_lists_and_ends_its_workers(tmp_path: Path) -> None:
    """A pool started with one worker runs two task lists (the plan's, then the ranges'),
    grows up to ``jobs`` as tasks wait, hands a dead worker's task out again, and ends every
    worker on close."""
    pool = LocalPool(2).start(1)
    try:
        assert len(pool.workers) == 1
        assert run_tasks([Square(3)], jobs=2, pool=pool) == [9]
        assert len(pool.workers) == 1  # one task: no second worker
        tasks = [Square(1), DieOnce(str(tmp_path / "a"), 2), Square(4), Square(5)]
        assert run_tasks(tasks, jobs=2, pool=pool) == [1, -2, 16, 25]
        assert 1 <= len(pool.workers) <= 2  # grown to two, less the one that died (if spare)
    finally:
        pool.close()
    assert pool.workers == [] and not multiprocessing.active_children()


def _signal_masks(pid: int) -> dict[str, int]:
    """A process's blocked and ignored signals, as bit masks (from /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {k: int(v, 16) for k, v in re.findall(r"^(SigBlk|SigIgn):\s*([0-9a-f]+)$", status, re.M)}


def _has(mask: int, signums: tuple[int, ...]) -> bool:
    return all(mask >> (signum - 1) & 1 for signum in signums)


def test_workers_start_with_the_stop_signals_held_and_then_ignore_the_terminal_s() -> None:
    """Ctrl-C, a hang-up or Ctrl-\\ reach every process of the terminal's group: a worker
    holds them from its first instant (one still starting printed a KeyboardInterrupt
    traceback), then ignores them and holds none; the parent answers them as before."""
    group = (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
    pool = LocalPool(1).start()
    try:
        fresh = _signal_masks(pool.workers[0].process.pid)
        assert _has(fresh["SigBlk"] | fresh["SigIgn"], group)
        assert run_tasks([Square(3)], jobs=1, pool=pool) == [9]
        served = _signal_masks(pool.workers[0].process.pid)
        assert _has(served["SigIgn"], group)
        assert not served["SigBlk"] >> (signal.SIGTERM - 1) & 1
    finally:
        pool.close()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_the_first_task_to_raise_is_the_one_raised_and_the_pool_goes_on() -> None:
    """Task 0 raises after task 1 did: task 0's exception is raised (a run in order meets it
    first); a worker still busy with a later task is ended, so the pool runs the next list."""
    pool = LocalPool(2).start()
    try:
        tasks: list[Callable[[], Any]] = [FailAfter(0.5, "first"), FailAfter(0, "second")]
        with pytest.raises(InputError, match=r"^first"):
            run_tasks(tasks, jobs=2, pool=pool)
        with pytest.raises(InputError, match=r"^first"):
            run_tasks([FailAfter(0.2, "first"), FailAfter(2, "late")], jobs=2, pool=pool)
        assert run_tasks([Square(2)], jobs=2, pool=pool) == [4]  # not the late task's reply
    finally:
        pool.close()


def test_local_engine_gives_up_and_reraises(tmp_path: Path) -> None:
    with pytest.raises(
        TaskFailed, match=r"task 1 failed: its worker died 3 times \(last: exit 9\)"
    ):
        run_tasks([Square(1), AlwaysDie()], "local", jobs=2, retries=2)
    with pytest.raises(InputError, match=r"x\.json: line 3: broken"):
        run_tasks([Square(1), Fail(), Square(2)], "local", jobs=1)
    with pytest.raises(UsageError, match="unknown engine"):
        run_tasks([], "slurm")


# -- parts, merge, resume ------------------------------------------------------------------


@dataclass(frozen=True)
class MakePart:
    """Writes part ``number`` from its groups, joined with ``separator``; with ``die`` set,
    dies half-way the first time."""

    folder: str
    number: int
    groups: tuple[tuple[bytes, ...], ...]
    die: str | None = None
    separator: bytes = b""

    def __call__(self) -> PartEntry:
        with ExitStack() as stack:
            part = PartWriter(stack, self.folder, self.number, {"out": self.separator})
            for n, group in enumerate(self.groups):
                if self.die and n == len(self.groups) // 2 and not os.path.exists(self.die):
                    Path(self.die).touch()
                    os.kill(os.getpid(), signal.SIGKILL)
                part.add("out", group)
            counts = {"groups": len(self.groups), "reasons": {"empty": self.number}, "ok": True}
            return part.commit(counts)


def writer_maker(name: str) -> Callable[[Any], Any]:
    spec = build_registry(build_manager(autoload=False)).writers[name]
    return lambda stream: spec.make(stream, WriterOptions())


def split(groups: list[tuple[bytes, ...]], parts: int, seed: int) -> list[tuple[Any, ...]]:
    """``groups`` cut at random places into ``parts`` (some may be empty)."""
    cuts = sorted(random.Random(seed).choices(range(len(groups) + 1), k=parts - 1))
    bounds = [0, *cuts, len(groups)]
    return [tuple(groups[a:b]) for a, b in itertools.pairwise(bounds)]


def joined_with(fmt: str) -> bytes:
    """The separator a range joins the chunks of a part for writer ``fmt`` with."""
    return separator_of(writer_maker(fmt)(io.BytesIO())) or b""


def make_and_merge(
    folder: Path,
    groups: list[tuple[bytes, ...]],
    fmt: str,
    seed: int,
    separator: bytes = b"",
    **engine: Any,
) -> bytes:
    """``groups`` cut into parts (their chunks joined with ``separator``) on ``engine``
    (here without one), merged into one ``fmt`` output: its bytes."""
    pieces = split(groups, 6, seed)
    manifest = Manifest.open(str(folder), {"format": fmt, "seed": seed}, len(pieces))
    tasks = [MakePart(str(folder), n, pieces[n], separator=separator) for n in range(6)]
    if engine:
        run_parts(manifest, tasks.__getitem__, **engine)
    else:
        for task in tasks:
            manifest.add(task())
    output = folder / f"merged.{fmt}"
    assert merge(manifest, "out", str(output), writer_maker(fmt)) == len(groups)
    return output.read_bytes()


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real run's outputs (en/ja Alpaca), and its encoded groups for each writer."""
    folder = tmp_path_factory.mktemp("real")
    outputs = {}
    for fmt in ("jsonl", "json", "template", "template-text", "parquet"):
        out = folder / f"out.{fmt}"
        result = run_cli("stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "-f", fmt, "-o", out)
        assert result.returncode == 0, result.stderr
        outputs[fmt] = out.read_bytes()
    lines = outputs["jsonl"].splitlines(keepends=True)
    texts = [orjson.loads(line)["text"] for line in outputs["template"].splitlines()]
    chunks = {
        "jsonl": lines,
        "parquet": lines,
        "json": [JsonArrayWriter.encode(None, orjson.loads(line)) for line in lines],  # type: ignore[arg-type]
        "template-text": [text.encode() + b"\n" for text in texts],
    }
    groups = {fmt: [tuple(c[i : i + 2]) for i in range(0, len(c), 2)] for fmt, c in chunks.items()}
    return {"outputs": outputs, "groups": groups}


@pytest.mark.parametrize("fmt", ["json", "jsonl", "template-text", "parquet"])
@pytest.mark.parametrize("seed", [1, 2])
def test_merge_is_byte_identical(
    real_run: dict[str, Any], tmp_path: Path, fmt: str, seed: int
) -> None:
    """Parts made in worker processes, as ranges make them (joined with the writer's
    separator, none for Parquet), and parts joined plainly (cut into groups and batched)."""
    groups = real_run["groups"][fmt]
    assert len(groups) == 175
    joined = make_and_merge(tmp_path / "a", groups, fmt, seed, joined_with(fmt), jobs=2)
    assert joined == real_run["outputs"][fmt]
    assert make_and_merge(tmp_path / "b", groups, fmt, seed) == real_run["outputs"][fmt]


def _written(make: Callable[[Any], Any], batches: list[list[bytes]]) -> bytes:
    stream = io.BytesIO()
    writer = make(stream)
    for batch in batches:
        writer.write(batch)
    writer.close()
    return stream.getvalue()


@pytest.mark.parametrize("fmt", sorted(build_registry(build_manager()).writers))
def test_a_writers_separator_keeps_its_promise(fmt: str) -> None:
    """Every writer that says its separator writes the same bytes for its chunks batched any
    way and for them joined with it (what merging a part's payload relies on)."""
    make = writer_maker(fmt)
    joins = separator_of(make(io.BytesIO()))
    if joins is None:
        pytest.skip(f"{fmt} says no separator: its parts are merged group by group")
    chunks = [f'{{"n": {i}}}\n'.encode() for i in range(7)]
    batched = _written(make, [chunks[:3], [], chunks[3:4], chunks[4:]])
    assert batched == _written(make, [[joins.join(chunks[:5])], [joins.join(chunks[5:])]])


def test_a_writer_whose_write_is_its_own_is_merged_by_groups() -> None:
    """A subclass that frames chunks in its own write() does not inherit the separator."""

    class Framed(JsonArrayWriter):
        def write(self, chunks: list[bytes]) -> None:
            super().write([b"<" + chunk + b">" for chunk in chunks])

    class Declared(Framed):
        separator = b"|"

        def write(self, chunks: list[bytes]) -> None:
            self.stream.write(b"|".join(chunks))

    assert separator_of(JsonArrayWriter(io.BytesIO(), WriterOptions())) == b",\n  "
    assert separator_of(Framed(io.BytesIO(), WriterOptions())) is None
    assert separator_of(Declared(io.BytesIO(), WriterOptions())) == b"|"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "template-text", "parquet"])
def test_merge_of_parts_in_small_blocks(
    real_run: dict[str, Any], tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts of many blocks (a block every 300 bytes or so) merge to the same bytes."""
    monkeypatch.setattr(parts_module, "BLOCK_BYTES", 300)
    merged = make_and_merge(tmp_path, real_run["groups"][fmt], fmt, 3, joined_with(fmt))
    assert merged == real_run["outputs"][fmt]
    assert Manifest.open(str(tmp_path), {"format": fmt, "seed": 3}, 6).totals()["groups"] == 175
    entry = orjson.loads((tmp_path / part_name(2, "json")).read_bytes())
    assert entry["files"]["out"]["separator"] == joined_with(fmt).decode()


def test_merge_parquet_of_several_row_groups(tmp_path: Path, checks_off_args: list[str]) -> None:
    """Row groups close where a single run's batches close: 9 MB of rows, 3 row groups."""
    sources = []
    for lang, word in (("en", "word "), ("ja", "言葉、")):
        rows = [
            {"instruction": f"{lang} {i}", "input": "", "output": word * 700} for i in range(900)
        ]
        sources.append(f"{lang}={tmp_path / lang}.jsonl")
        (tmp_path / f"{lang}.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    for fmt in ("jsonl", "parquet"):
        result = run_cli("stream", *sources, *checks_off_args, "-o", tmp_path / f"ref.{fmt}")
        assert result.returncode == 0, result.stderr
    lines = (tmp_path / "ref.jsonl").read_bytes().splitlines(keepends=True)
    groups = [tuple(lines[i : i + 2]) for i in range(0, len(lines), 2)]
    merged = make_and_merge(tmp_path / "parts", groups, "parquet", 3)
    assert merged == (tmp_path / "ref.parquet").read_bytes()
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "ref.parquet").num_row_groups >= 2


def test_resume_redoes_corrupt_and_missing_parts(real_run: dict[str, Any], tmp_path: Path) -> None:
    groups = real_run["groups"]["jsonl"]
    pieces = split(groups, 5, 4)
    job = {"inputs": "alpaca", "every": 40}
    folder = str(tmp_path)
    manifest = Manifest.open(folder, job, len(pieces))
    assert run_parts(manifest, lambda n: MakePart(folder, n, pieces[n]), jobs=2) == [0, 1, 2, 3, 4]
    assert manifest.totals() == {"groups": 175, "reasons": {"empty": 10}, "ok": True}
    with open(tmp_path / part_name(1, "out"), "r+b") as f:  # one byte changed
        f.seek(40)
        byte = f.read(1)
        f.seek(40)
        f.write(bytes([byte[0] ^ 1]))
    os.unlink(tmp_path / part_name(3, "out"))
    with pytest.raises(InputError, match="size or checksum differs"):
        list(read_groups(str(tmp_path / part_name(1, "out")), manifest.entries[1].files["out"]))
    again = Manifest.open(folder, job, len(pieces))
    assert again.pending() == [1, 3]
    assert run_parts(again, lambda n: MakePart(folder, n, pieces[n]), jobs=2) == [1, 3]
    merge(again, "out", str(tmp_path / "out.jsonl"), writer_maker("jsonl"))
    assert (tmp_path / "out.jsonl").read_bytes() == real_run["outputs"]["jsonl"]
    with pytest.raises(UsageError, match="holds the parts of another job"):
        Manifest.open(folder, {**job, "every": 41}, len(pieces))


def test_truncated_old_and_foreign_parts_are_refused(
    real_run: dict[str, Any], tmp_path: Path
) -> None:
    """A part cut short (at a block's end or inside one) or of the older format is refused
    by the merge and made again on resume; one joined for another writer is refused."""
    groups = real_run["groups"]["json"]
    pieces = split(groups, 3, 7)
    folder, job = str(tmp_path), {"inputs": "alpaca"}
    separator = joined_with("json")
    tasks = [MakePart(folder, n, pieces[n], separator=separator) for n in range(3)]
    manifest = Manifest.open(folder, job, 3)
    run_parts(manifest, tasks.__getitem__, jobs=1)
    whole = [(tmp_path / part_name(n, "out")).read_bytes() for n in range(3)]
    (tmp_path / part_name(0, "out")).write_bytes(whole[0][:-10])
    with pytest.raises(InputError, match="size or checksum differs"):
        merge(manifest, "out", str(tmp_path / "o.json"), writer_maker("json"))
    (tmp_path / part_name(0, "out")).write_bytes(whole[0] + whole[0][len(parts_module.MAGIC) :])
    with pytest.raises(InputError, match="size or checksum differs"):
        merge(manifest, "out", str(tmp_path / "o.json"), writer_maker("json"))
    (tmp_path / part_name(1, "out")).write_bytes(b"converter-part 1\n" + whole[1][17:])
    with pytest.raises(InputError, match="not a converter part file"):
        list(read_groups(str(tmp_path / part_name(1, "out")), manifest.entries[1].files["out"]))
    old = orjson.loads((tmp_path / part_name(2, "json")).read_bytes())
    old["files"]["out"]["sha256"] = old["files"]["out"].pop("crc32")  # an entry of format 1
    (tmp_path / part_name(2, "json")).write_bytes(orjson.dumps(old))
    assert not os.path.exists(tmp_path / "o.json")
    again = Manifest.open(folder, job, 3)
    assert again.pending() == [0, 1, 2]
    run_parts(again, tasks.__getitem__, jobs=1)
    merge(again, "out", str(tmp_path / "o.json"), writer_maker("json"))
    assert (tmp_path / "o.json").read_bytes() == real_run["outputs"]["json"]
    with pytest.raises(InputError, match="made for another output format"):
        merge(again, "out", str(tmp_path / "o.txt"), writer_maker("template-text"))


def test_a_part_cut_anywhere_is_refused(
    real_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut in a block's head, its index or its payload, a part is refused with one clear
    error, never read as fewer groups or failing otherwise (blocks of ~300 bytes)."""
    monkeypatch.setattr(parts_module, "BLOCK_BYTES", 300)
    made = MakePart(str(tmp_path), 0, tuple(real_run["groups"]["json"][:40]))()  # in-process
    path, entry = tmp_path / part_name(0, "out"), made.files["out"]
    whole = path.read_bytes()
    assert sum(1 for _ in read_blocks(str(path), entry)) > 10
    for cut in range(len(parts_module.MAGIC), len(whole), 3):
        path.write_bytes(whole[:cut])
        with pytest.raises(InputError, match="size or checksum differs"):
            list(read_groups(str(path), entry))


def killed_part_retried(
    real_run: dict[str, Any], tmp_path: Path, engine: str, seed: int, killed: int
) -> str:
    """Make 4 parts of the real run's JSON output on ``engine``, part ``killed`` dying once
    midway; the merge is the real output. Returns the parts folder."""
    pieces = split(real_run["groups"]["json"], 4, seed)
    folder = str(tmp_path / "parts")
    die = str(tmp_path / "died")
    manifest = Manifest.open(folder, {}, len(pieces))
    tasks = {n: MakePart(folder, n, pieces[n], die if n == killed else None) for n in range(4)}
    run_parts(manifest, tasks.__getitem__, engine=engine, jobs=2, retries=1)
    assert os.path.exists(die)
    merge(manifest, "out", str(tmp_path / "out.json"), writer_maker("json"))
    assert (tmp_path / "out.json").read_bytes() == real_run["outputs"]["json"]
    return folder


def test_part_killed_midway_is_retried(real_run: dict[str, Any], tmp_path: Path) -> None:
    folder = killed_part_retried(real_run, tmp_path, "local", 5, 2)
    assert not [n for n in os.listdir(folder) if n.endswith(".tmp")]


def test_merge_refuses_an_unfinished_job(tmp_path: Path) -> None:
    manifest = Manifest.open(str(tmp_path), {}, 2)
    with pytest.raises(UsageError, match=r"parts \[0, 1\] are not made yet"):
        merge(manifest, "out", str(tmp_path / "o.jsonl"), writer_maker("jsonl"))


def test_add_counts() -> None:
    a = {"read": 3, "reasons": {"empty": 1}, "repairs": [1], "writer": "json"}
    b = {"read": 4, "reasons": {"empty": 2, "language": 1}, "repairs": [2], "writer": "json"}
    assert add_counts(a, b) == {
        "read": 7,
        "reasons": {"empty": 3, "language": 1},
        "repairs": [1, 2],
        "writer": "json",
    }
    with pytest.raises(ValueError, match="'writer' differs"):
        add_counts(a, {"writer": "jsonl"})


# -- Ray (a local instance; skipped when the ray extra is not installed) -------------------


@pytest.fixture
def ray_workers_see_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray workers import the task classes of this module by name: put it on their path."""
    pytest.importorskip("ray")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )


@pytest.mark.usefixtures("ray_workers_see_tests")
def test_ray_engine_runs_and_retries(tmp_path: Path) -> None:
    tasks: list[Callable[[], Any]] = [Square(n) for n in range(4)]
    tasks[1] = DieOnce(str(tmp_path / "a"), 1, kill=True)
    assert run_tasks(tasks, "ray", jobs=2, retries=1) == [0, -1, 4, 9]
    with pytest.raises(InputError, match=r"x\.json: line 3: broken"):
        run_tasks([Square(1), Fail()], "ray", jobs=2)
    with pytest.raises(InputError, match=r"^first"):  # the first task's, though it ends later
        run_tasks([FailAfter(1.0, "first"), FailAfter(0, "second")], "ray", jobs=2)


@pytest.mark.usefixtures("ray_workers_see_tests")
def test_ray_parts_merge_identical(real_run: dict[str, Any], tmp_path: Path) -> None:
    killed_part_retried(real_run, tmp_path, "ray", 6, 1)


def test_local_engine_hands_each_result_on_as_it_comes() -> None:
    came: list[tuple[int, int]] = []
    results = run_tasks(
        [Square(n) for n in range(5)], "local", jobs=2, done=lambda *r: came.append(r)
    )
    assert results == [0, 1, 4, 9, 16]
    assert sorted(came) == [(n, n * n) for n in range(5)]

    def refuse(number: int, _result: int) -> None:
        raise InputError(f"out.jsonl: cannot take result {number}")

    with pytest.raises(InputError, match="cannot take result"):  # raised here, workers ended
        run_tasks([Square(n) for n in range(3)], "local", jobs=1, done=refuse)


def test_parts_are_taken_in_order_as_they_are_made(tmp_path: Path) -> None:
    groups = [(f"{n}\n".encode(),) for n in range(30)]
    pieces = split(groups, 4, 1)
    manifest = Manifest.open(str(tmp_path), {"job": 1}, len(pieces))
    taken: list[int] = []
    in_order = InOrder(manifest, lambda entry: taken.append(entry.number))
    for number, seen in [(2, []), (0, [0]), (3, [0]), (1, [0, 1, 2, 3])]:
        manifest.add(MakePart(str(tmp_path), number, pieces[number])())
        in_order()
        assert taken == seen
    with ExitStack() as stack:
        merged = StreamMerge(
            stack, str(tmp_path), "out", str(tmp_path / "o.jsonl"), writer_maker("jsonl")
        )
        InOrder(manifest, merged.add)()
        merged.finish().commit()
        assert merged.groups == len(groups)
    assert (tmp_path / "o.jsonl").read_bytes() == b"".join(g[0] for g in groups)
    with ExitStack() as stack:  # not committed: nothing is left
        StreamMerge(stack, str(tmp_path), "out", str(tmp_path / "x.jsonl"), writer_maker("jsonl"))
    assert not [name for name in os.listdir(tmp_path) if "x.jsonl" in name]
