"""``convert shard``: every record kept in order, values that round-trip, atomic output."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import orjson
import pytest
from helpers import ALPACA_EN, ALPACA_JA, SHARED, run_cli

from converter.inputs import open_input
from converter.readers import Item, read_items
from converter.scale.plan import source_files
from converter.scale.shard import SHARDS_INDEX, shard

SUITE = SHARED / "jsontestsuite" / "test_parsing"


def items_of(path: Path | str) -> list[Item]:
    source = open_input(str(path), str(path))
    try:
        return list(read_items(source))
    finally:
        source.close()


def shard_items(folder: Path) -> list[Item]:
    return [item for path in source_files(str(folder)) for item in items_of(path)]


def values(items: list[Item]) -> list[str]:
    """Each value's repr: 1 and 1.0 differ."""
    return [repr(item.value) for item in items]


def test_real_array_into_shards(tmp_path: Path) -> None:
    out = tmp_path / "en"
    result = run_cli("shard", ALPACA_EN, "-o", out, "--records", "40")
    assert result.returncode == 0, result.stderr
    assert b"175 records" in result.stderr
    index = json.loads((out / SHARDS_INDEX).read_text())
    assert index["sha256"] == hashlib.sha256(ALPACA_EN.read_bytes()).hexdigest()
    assert index["size"] == ALPACA_EN.stat().st_size
    assert [s["records"] for s in index["shards"]] == [40, 40, 40, 40, 15]
    for entry in index["shards"]:
        data = (out / entry["file"]).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert data.count(b"\n") == entry["records"]
    assert values(shard_items(out)) == values(items_of(ALPACA_EN))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en"]  # no temporary folder left


def test_sharded_sources_convert_to_the_same_output(tmp_path: Path) -> None:
    """Shards joined back into one JSON Lines file give the run's exact output."""
    joined = []
    for lang, source in (("en", ALPACA_EN), ("ja", ALPACA_JA)):
        assert run_cli("shard", source, "-o", tmp_path / lang, "--records", "30").returncode == 0
        files = source_files(str(tmp_path / lang))
        path = tmp_path / f"{lang}.jsonl"
        path.write_bytes(b"".join(Path(f).read_bytes() for f in files))
        joined.append(f"{lang}={path}")
    direct = run_cli("stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "-o", tmp_path / "a.json")
    sharded = run_cli("stream", *joined, "-o", tmp_path / "b.json")
    assert direct.returncode == sharded.returncode == 0, sharded.stderr
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_numbers_round_trip(tmp_path: Path) -> None:
    """Every y_ number of JSONTestSuite reads back from the shards with its type and value."""
    numbers = [*sorted(SUITE.glob("y_number*.json")), SUITE / "y_object_extreme_numbers.json"]
    records = b",".join(b'{"n": %s}' % p.read_bytes().strip() for p in numbers)
    source = tmp_path / "numbers.json"
    source.write_bytes(b"[" + records + b"]")
    shard(str(source), str(tmp_path / "out"), records=3)
    assert values(shard_items(tmp_path / "out")) == values(items_of(source))
    assert len(items_of(source)) == len(numbers)


def test_bad_lines_kept_at_their_index(tmp_path: Path) -> None:
    """A line that does not parse is copied as is; blank lines are not records."""
    lines = [b'{"a": 1}', b"", b'{"a": 2,}', b"  ", b"[1, 2]", b'{"a": 3}', b"7", b'{"a": 4}']
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    shard(str(source), str(tmp_path / "out"), records=1)
    got, want = shard_items(tmp_path / "out"), items_of(source)
    assert [i.error is None for i in got] == [i.error is None for i in want]
    assert values(got) == values(want)
    assert got[1].raw == b'{"a": 2,}\n'
    # shards start only at a line that reads as JSON Lines, never with one record at the end
    starts = [Path(f).read_bytes().split(b"\n", 1)[0] for f in source_files(str(tmp_path / "out"))]
    assert starts == [b'{"a":1}', b'{"a": 2,}', b'{"a":3}']


def test_lone_surrogate_rejected_at_the_same_index(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_bytes(b'[{"a": "x"}, {"a": "bad \\udc80 \\ud800!"}, {"a": "\\ud83d\\ude00"}]')
    shard(str(source), str(tmp_path / "out"), records=5)
    got = shard_items(tmp_path / "out")
    assert [i.error is not None for i in got] == [False, True, False]
    assert b"\\udc80" in got[1].raw and b"\\ud800" in got[1].raw  # the escapes, not U+FFFF
    assert got[2].value == {"a": "\U0001f600"}


@pytest.mark.parametrize("suffix", [".gz", ".zst", "-"])
def test_compressed_and_stdin(tmp_path: Path, suffix: str) -> None:
    data = ALPACA_JA.read_bytes()
    if suffix == "-":
        result = run_cli("shard", "-", "-o", tmp_path / "out", "--records", "100", stdin=data)
        name = "stdin"
    else:
        source = tmp_path / f"ja.json{suffix}"
        if suffix == ".gz":
            source.write_bytes(gzip.compress(data))
        else:
            from converter.compression import zstd

            source.write_bytes(zstd.compress(data))
        result = run_cli("shard", source, "-o", tmp_path / "out", "--records", "100")
        name = "ja"
    assert result.returncode == 0, result.stderr
    index = json.loads((tmp_path / "out" / SHARDS_INDEX).read_text())
    assert index["shards"][0]["file"] == f"{name}-00000.jsonl"
    assert values(shard_items(tmp_path / "out")) == values(items_of(ALPACA_JA))


def test_fatal_input_error_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "cut.json"
    source.write_bytes(ALPACA_EN.read_bytes()[:50_000])
    result = run_cli("shard", source, "-o", tmp_path / "out", "--records", "10")
    assert result.returncode == 3
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"convert: error: {source}:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.json"]


def test_refuses_a_folder_in_use_and_a_first_record_that_is_no_object(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("keep")
    result = run_cli("shard", ALPACA_EN, "-o", tmp_path / "out")
    assert result.returncode == 3
    assert b"exists and is not an empty folder" in result.stderr
    assert (tmp_path / "out" / "x").read_text() == "keep"
    source = tmp_path / "scalars.json"
    source.write_bytes(orjson.dumps([5, {"a": 1}]))
    result = run_cli("shard", source, "-o", tmp_path / "new")
    assert result.returncode == 3 and b"record 0 is not a JSON object" in result.stderr
    assert not (tmp_path / "new").exists()


def test_records_orjson_cannot_write_are_sharded_exactly(tmp_path: Path) -> None:
    """A JSON Lines integer beyond 64 bits and a record nested 600 levels deep (orjson writes
    255) go into the shards by the stdlib encoder, exactly, not as an internal error."""
    deep = "[" * 600 + "]" * 600
    source = tmp_path / "en.jsonl"
    source.write_text(
        '{"instruction": "a", "input": "", "output": "b", "n": 18446744073709551616}\n'
        f'{{"instruction": "c", "input": "", "output": "d", "x": {deep}}}\n'
        '{"instruction": "e", "input": "", "output": "f"}\n'
    )
    done = run_cli("shard", source, "-o", tmp_path / "sh")
    assert done.returncode == 0, done.stderr
    (shard,) = (tmp_path / "sh").glob("*.jsonl")
    assert [json.loads(line) for line in shard.read_text().splitlines()] == [
        json.loads(line) for line in source.read_text().splitlines()
    ]


@pytest.mark.parametrize("name", ["../victim", "a/b", "..", ""])
def test_a_shard_name_with_a_folder_is_a_usage_error(tmp_path: Path, name: str) -> None:
    (tmp_path / "victim-00000.jsonl").write_text("precious\n")
    (tmp_path / "in").mkdir()
    done = run_cli("shard", ALPACA_EN, "-o", tmp_path / "in" / "out", "--name", name)
    assert done.returncode == 2, done.stderr
    assert f"--name {name!r} must be a file name, without a folder" in done.stderr.decode()
    assert (tmp_path / "victim-00000.jsonl").read_text() == "precious\n"
    assert list((tmp_path / "in").iterdir()) == []


@pytest.mark.parametrize("fault", ["swapped", "outside", "missing", "link", "bytes-text"])
def test_a_shard_folder_changed_since_it_was_made_is_refused(tmp_path: Path, fault: str) -> None:
    """Two shards swapped (their sizes then differ from the index), a file name leading out
    of the folder, a shard gone: one line, exit 3, nothing written."""
    for lang, source in (("en", ALPACA_EN), ("ja", ALPACA_JA)):
        done = run_cli("shard", source, "-o", tmp_path / lang, "--records", "50")
        assert done.returncode == 0, done.stderr
    folder = tmp_path / "ja"
    first, second = sorted(folder.glob("*-0000[12].jsonl"))
    if fault == "swapped":
        held = first.read_bytes()
        first.write_bytes(second.read_bytes())
        second.write_bytes(held)
    elif fault == "outside":
        index = folder / "shards.json"
        index.write_text(index.read_text().replace(first.name, "../" + first.name))
    elif fault == "link":  # a link to a file of the same size outside the folder
        outside = tmp_path / "outside.jsonl"
        outside.write_bytes(first.read_bytes())
        first.unlink()
        first.symlink_to(outside)
    elif fault == "bytes-text":
        index = folder / "shards.json"
        document = json.loads(index.read_text())
        document["shards"][1]["bytes"] = str(document["shards"][1]["bytes"])
        index.write_text(json.dumps(document))
    else:
        first.unlink()
    out = tmp_path / "out" / "o.jsonl"
    out.parent.mkdir()
    done = run_cli("stream", f"en={tmp_path / 'en'}", f"ja={folder}", "-o", out, "--jobs", "2")
    said = done.stderr.decode()
    assert done.returncode == 3 and said.count("\n") == 1, said
    assert said.startswith(f"convert: error: {folder / 'shards.json'}: shard ")
    assert list(out.parent.iterdir()) == []


def test_dash_is_stdin_whatever_folder_is_named_so(tmp_path: Path) -> None:
    """`convert shard -o -` is refused (it made a folder named `-`), and `en=-` reads stdin
    even beside a shard folder named `-` (which took it over: a usage error)."""
    done = run_cli("shard", ALPACA_EN, "-o", "-", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "convert: error: -o -: convert shard writes a folder of files, not stdout: name it\n"
    )
    assert list(tmp_path.iterdir()) == []
    shard(str(ALPACA_EN), str(tmp_path / "-"))
    done = run_cli("stream", "en=-", "-o", "out.jsonl", stdin=ALPACA_EN.read_bytes(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 175
