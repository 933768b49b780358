"""`convert stream` end to end on real data: parity with the seed script, sources, formats,
rejects, report, exit statuses and atomic output."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from helpers import (
    ALPACA_EN,
    ALPACA_JA,
    DOLLY_DIR,
    ROOT,
    SAMPLE_EN,
    SAMPLE_JA,
    SEED_DIR,
    run_cli,
)

from converter.report import KEY_NAMES, OTHER_KEYS, SourceStats

RECORD_SCHEMA = json.loads((ROOT / "schemas" / "record.schema.json").read_text())


def seed_script(en: Path, ja: Path, limit: int, out: Path) -> bytes:
    """What the seed's pandas workflow writes for the same inputs."""
    script = ROOT / "bench" / "seed_pandas.py"
    subprocess.run(
        [sys.executable, str(script), str(en), str(ja), str(limit), str(out)], check=True
    )
    return out.read_bytes()


def jsonl_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("limit", [175, 37])
def test_parity_with_the_seed_script_on_the_real_pair(tmp_path: Path, limit: int) -> None:
    expected = seed_script(ALPACA_EN, ALPACA_JA, limit, tmp_path / "seed.json")
    out = tmp_path / "out.json"
    done = run_cli("stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "--limit", limit, "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == expected
    assert not (tmp_path / "out.json.rejects.jsonl").exists()


def test_every_output_record_is_valid_and_interleaved(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert run_cli("stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "-o", out).returncode == 0
    records = jsonl_records(out)
    en = json.loads(ALPACA_EN.read_text())
    ja = json.loads(ALPACA_JA.read_text())
    assert len(records) == 2 * 175
    for record in records:
        jsonschema.validate(record, RECORD_SCHEMA)
    assert records[12] == {
        "seq": "6EN",
        "reasoning": "AI assistant should reply in English language.",
        **en[6],
    }
    assert records[13] == {
        "seq": "6JA",
        "reasoning": "AI assistant should reply in Japanese language.",
        **ja[6],
    }


def test_source_forms_array_jsonl_gzip_and_stdin_give_the_same_records(tmp_path: Path) -> None:
    en = json.loads(ALPACA_EN.read_text())
    jsonl = tmp_path / "en.jsonl"
    jsonl.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in en), encoding="utf-8"
    )
    gz = tmp_path / "ja.json.gz"
    gz.write_bytes(gzip.compress(ALPACA_JA.read_bytes()))
    reference = tmp_path / "reference.jsonl"
    assert run_cli("stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "-o", reference).returncode == 0
    from_jsonl_gz = tmp_path / "a.jsonl"
    assert run_cli("stream", f"en={jsonl}", f"ja={gz}", "-o", from_jsonl_gz).returncode == 0
    from_stdin = run_cli("stream", "en=-", f"ja={ALPACA_JA}", stdin=jsonl.read_bytes())
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_jsonl_gz.read_bytes() == reference.read_bytes()
    assert from_stdin.stdout == reference.read_bytes()  # stdout defaults to JSONL


def test_dolly_excerpts_with_their_japanese_lines(tmp_path: Path) -> None:
    name = "mid_01140-01159"
    en = DOLLY_DIR / "en-excerpts" / f"databricks-dolly-15k.en.{name}.jsonl"
    ja = DOLLY_DIR / "ja-excerpts" / f"databricks-dolly-15k-ja.{name}.jsonl"
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    done = run_cli("stream", f"en={en}", f"ja={ja}", "-o", out, "--report", report, "--keep-tags")
    assert done.returncode == 0, done.stderr
    records = jsonl_records(out)
    source_en = [json.loads(line) for line in en.read_text().splitlines()]
    source_ja = [json.loads(line) for line in ja.read_text().splitlines()]
    assert len(records) == 2 * len(source_en) == 40
    first_en, first_ja = records[0], records[1]
    assert first_en["instruction"] == source_en[0]["instruction"]
    assert first_en["input"] == source_en[0]["context"]
    assert first_en["output"] == source_en[0]["response"]
    assert first_en["tags"] == {"category": source_en[0]["category"]}
    assert first_ja["tags"] == {"category": source_ja[0]["category"], "index": "1140"}
    assert first_en["tags"]["category"] == first_ja["tags"]["category"]
    tag_schema = ROOT / "schemas" / "record-tags.schema.json"
    assert (
        run_cli("stream", f"en={en}", f"ja={ja}", "--keep-tags", "-o", "/dev/null").returncode == 0
    )
    doc = json.loads(report.read_text())
    assert [s["format"] for s in doc["sources"]] == ["dolly", "dolly-ja"]
    assert tag_schema.exists()


def test_dropped_keys_are_counted_not_silent(tmp_path: Path) -> None:
    name = "head_00000-00011"
    en = DOLLY_DIR / "en-excerpts" / f"databricks-dolly-15k.en.{name}.jsonl"
    ja = DOLLY_DIR / "ja-excerpts" / f"databricks-dolly-15k-ja.{name}.jsonl"
    report = tmp_path / "report.json"
    done = run_cli("stream", f"en={en}", f"ja={ja}", "-o", tmp_path / "o.json", "--report", report)
    assert done.returncode == 0
    doc = json.loads(report.read_text())
    assert doc["sources"][0]["dropped_keys"] == {"category": 12}
    assert doc["sources"][1]["dropped_keys"] == {"index": 12, "category": 12}
    assert "input keys not written" in done.stderr.decode()


def test_seed_tasks_format(tmp_path: Path) -> None:
    en = SEED_DIR / "seed_tasks.en.jsonl"
    ja = SEED_DIR / "seed_tasks_jp_cleaned.ja.jsonl"
    out = tmp_path / "out.jsonl"
    done = run_cli("stream", f"en={en}", f"ja={ja}", "-o", out, "--keep-tags")
    assert done.returncode == 0, done.stderr
    records = jsonl_records(out)
    task = json.loads(en.read_text().splitlines()[3])
    assert len(records) == 350
    assert records[6]["seq"] == "3EN"
    assert records[6]["output"] == task["instances"][0]["output"]
    assert records[6]["tags"]["id"] == records[7]["tags"]["id"] == "seed_task_3"


def test_a_bad_jsonl_line_rejects_its_group_and_the_rest_goes_through(tmp_path: Path) -> None:
    en = json.loads(ALPACA_EN.read_text())[:10]
    lines = [json.dumps(r) for r in en]
    lines[4] = lines[4][:-7]  # a truncated line
    en_path = tmp_path / "en.jsonl"
    en_path.write_text("\n".join(lines) + "\n")
    ja_path = tmp_path / "ja.jsonl"
    ja = json.loads(ALPACA_JA.read_text())[:10]
    ja[7]["output"] = None
    ja_path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ja) + "\n")
    out, report = tmp_path / "out.json", tmp_path / "report.json"
    done = run_cli("stream", f"en={en_path}", f"ja={ja_path}", "-o", out, "--report", report)
    assert done.returncode == 1
    written = json.loads(out.read_text())
    assert [r["seq"] for r in written[::2]] == [f"{i}EN" for i in (0, 1, 2, 3, 5, 6, 8, 9)]
    rejects = jsonl_records(tmp_path / "out.json.rejects.jsonl")
    assert [(r["lang"], r["index"]) for r in rejects] == [
        ("en", 4),
        ("ja", 4),
        ("en", 7),
        ("ja", 7),
    ]
    assert rejects[0]["line"] == 5 and rejects[0]["raw"] == lines[4]
    assert rejects[0]["reasons"][0].startswith("invalid JSON")
    assert rejects[1]["record"] == ja[4] and rejects[1]["reasons"][0].startswith(
        "partner rejected: en"
    )
    assert rejects[3]["reasons"] == ["field 'output' is null, not a string"]
    doc = json.loads(report.read_text())
    assert doc["groups"] == {"read": 10, "written": 8, "rejected": 2, "filtered": 0, "skipped": 0}
    for source in doc["sources"]:
        assert source["read"] == source["written"] + source["rejected"] + source["unpaired"]
        assert source["reconciles"]
    assert doc["sources"][1]["rejected_by_reason"] == {
        "partner rejected": 1,
        "field 'output' is null, not a string": 1,
    }
    assert "2 groups rejected" in done.stderr.decode()


def test_unequal_counts_fail_and_keep_the_previous_output(tmp_path: Path) -> None:
    short = tmp_path / "ja.json"
    short.write_text(json.dumps(json.loads(ALPACA_JA.read_text())[:100], ensure_ascii=False))
    out = tmp_path / "out.json"
    out.write_text("previous good output")
    done = run_cli("stream", f"en={ALPACA_EN}", f"ja={short}", "-o", out)
    assert done.returncode == 3
    message = done.stderr.decode().strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    assert f"ja={short}: ends after 100 records" in message
    assert out.read_text() == "previous good output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ja.json", "out.json"]


def test_unequal_shortest_reports_the_unpaired(tmp_path: Path) -> None:
    short = tmp_path / "ja.json"
    short.write_text(json.dumps(json.loads(ALPACA_JA.read_text())[:100], ensure_ascii=False))
    report = tmp_path / "r.json"
    done = run_cli(
        "stream",
        f"en={ALPACA_EN}",
        f"ja={short}",
        "--unequal",
        "shortest",
        "-o",
        tmp_path / "o.jsonl",
        "--report",
        report,
    )
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 200
    en = json.loads(report.read_text())["sources"][0]
    assert (en["read"], en["written"], en["unpaired"]) == (175, 100, 75)
    assert "75 records left unpaired" in done.stderr.decode()


@pytest.mark.parametrize(("limit", "unpaired"), [(100, 0), (101, 1), (130, 30), (400, 75)])
def test_unequal_shortest_counts_the_unpaired_within_the_limit(
    tmp_path: Path, limit: int, unpaired: int
) -> None:
    """With --limit past the shorter source, EN's records from its end up to the limit are
    unpaired; those past the limit are neither read nor counted."""
    short = tmp_path / "ja.json"
    short.write_text(json.dumps(json.loads(ALPACA_JA.read_text())[:100], ensure_ascii=False))
    report = tmp_path / "r.json"
    sources = (f"en={ALPACA_EN}", f"ja={short}", "--unequal", "shortest", "--limit", str(limit))
    done = run_cli("stream", *sources, "-o", tmp_path / "o.jsonl", "--report", report)
    assert done.returncode == 0, done.stderr
    en, ja = json.loads(report.read_text())["sources"]
    assert (en["read"], en["written"], en["unpaired"]) == (100 + unpaired, 100, unpaired)
    assert (ja["read"], ja["unpaired"]) == (100, 0)
    assert (f"{unpaired} records left unpaired" in done.stderr.decode()) == (unpaired > 1)


def test_limit_reads_only_the_first_records(tmp_path: Path) -> None:
    done = run_cli("stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "--limit", "3")
    lines = done.stdout.decode().splitlines()
    assert done.returncode == 0
    assert [json.loads(line)["seq"] for line in lines] == ["0EN", "0JA", "1EN", "1JA", "2EN", "2JA"]


def test_report_holds_checksums_versions_and_counts(tmp_path: Path) -> None:
    import hashlib

    report = tmp_path / "r.json"
    done = run_cli(
        "stream",
        f"en={SAMPLE_EN}",
        f"ja={SAMPLE_JA}",
        "-o",
        tmp_path / "o.json",
        "--report",
        report,
        "--limit",
        "2",
    )
    assert done.returncode == 0
    doc = json.loads(report.read_text())
    assert doc["tool"]["name"] == "langpair-converter" and doc["tool"]["version"]
    assert doc["sources"][0]["sha256"] == hashlib.sha256(SAMPLE_EN.read_bytes()).hexdigest()
    assert doc["sources"][1]["bytes"] == SAMPLE_JA.stat().st_size
    assert doc["output"]["records"] == 4 and doc["exit_status"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stream", "fr=x.json"], "unknown language 'fr'"),
        (["stream", "en.json"], "a source is LANG=PATH"),
        (["stream", f"en={ALPACA_EN}", "--format", "yaml"], "unknown format 'yaml'"),
        (["stream", f"en={ALPACA_EN}", "--check", "nosuch=warn"], "unknown check 'nosuch'"),
        (
            ["stream", f"en={ALPACA_EN}", "--check", "empty=loud"],
            "must be one of off, warn, reject",
        ),
        (["stream", f"en={ALPACA_EN}", f"en={ALPACA_JA}"], "language 'en' is given twice"),
        (["stream", f"en={ALPACA_EN}", "--limit", "-1"], "--limit"),
        (["stream", f"en={ALPACA_EN}", "--input-format", "en=csv"], "unknown input format 'csv'"),
        (
            [
                "stream",
                f"en={ALPACA_EN}",
                "--input-format",
                "en=alpaca",
                "--input-format",
                "en=dolly",
            ],
            "--input-format gives en two values, alpaca and dolly: keep one",
        ),
        (
            ["stream", f"en={ALPACA_EN}", "--check", "empty=off", "--check", "empty = reject"],
            "--check gives empty two values, off and reject",
        ),
    ],
)
def test_bad_command_lines_exit_2_with_one_line(args: list[str], message: str) -> None:
    done = run_cli(*args)
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("mode", [[], ["--jobs", "2"]], ids=["single", "ranges"])
def test_missing_input_exits_3_naming_the_file(tmp_path: Path, mode: list[str]) -> None:
    """Named as given on the command line, in range mode as in a single run."""
    done = run_cli(
        "stream",
        f"en={ALPACA_EN}",
        f"ja={tmp_path / 'nope.json'}",
        "-o",
        tmp_path / "o.json",
        *mode,
    )
    assert done.returncode == 3
    assert (
        done.stderr.decode().strip() == f"convert: error: ja={tmp_path / 'nope.json'}: no such file"
    )
    assert list(tmp_path.iterdir()) == []


def test_malformed_array_is_fatal_with_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "en.json"
    text = ALPACA_EN.read_text()
    cut = text.index('"output"', 2000)
    bad.write_text(text[:cut] + "oops" + text[cut:])
    line = text[:cut].count("\n") + 1
    column = cut - text.rfind("\n", 0, cut)
    done = run_cli("stream", f"en={bad}", f"ja={ALPACA_JA}", "-o", tmp_path / "o.json")
    assert done.returncode == 3
    assert f"line {line}, column {column} (byte {cut})" in done.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.json"]


def test_quiet_prints_nothing_and_format_overrides_the_suffix(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = run_cli(
        "stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "-o", out, "--format", "jsonl", "--quiet"
    )
    assert done.returncode == 0 and done.stderr == b""
    assert len(jsonl_records(out)) == 10


def test_python_m_and_console_script_agree(tmp_path: Path) -> None:
    script = shutil.which("langpair-convert", path=str(Path(sys.executable).parent))
    assert script, "the second console script is installed beside python"
    done = subprocess.run(
        [script, "stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}"], capture_output=True
    )
    assert done.returncode == 0
    assert done.stdout == run_cli("stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}").stdout


def test_rejected_by_reason_counts_a_record_once_a_kind(tmp_path: Path) -> None:
    """Three sources, both translations of group 1 bad: the English record carries two
    `partner rejected` reasons and counts once under that kind, as each record counts once in
    `rejected`."""
    good = {"instruction": "Name a colour.", "input": "", "output": "Blue."}
    files = {
        "en": [good, good | {"output": "Red."}],
        "ja": [good, good | {"output": None}],
        "zh": [good, {"input": "", "output": "红色。"}],
    }
    sources = []
    for lang, records in files.items():
        (tmp_path / f"{lang}.json").write_text(json.dumps(records, ensure_ascii=False))
        sources.append(f"{lang}={tmp_path / f'{lang}.json'}")
    report = tmp_path / "r.json"
    done = run_cli(
        "stream", *sources, "--plugin", "converter_zh", "--check", "all=off",
        "-o", tmp_path / "o.jsonl", "--report", report,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    counted = [
        (s["rejected"], s["rejected_by_reason"]) for s in json.loads(report.read_text())["sources"]
    ]
    assert counted == [
        (1, {"partner rejected": 1}),
        (1, {"field 'output' is null, not a string": 1}),
        (1, {"missing field 'instruction'": 1}),
    ]


#: The real English seed tasks, a JSON line each.
ALPACA_EN_LINES = [json.dumps(r) + "\n" for r in json.loads(ALPACA_EN.read_text())]


@pytest.mark.parametrize("mode", [(), ("--jobs", "2")])
@pytest.mark.parametrize(("en_records", "ja_records"), [(3, 4), (4, 3)])
def test_unequal_sources_say_which_end_and_which_have_more(
    tmp_path: Path, mode: tuple[str, ...], en_records: int, ja_records: int
) -> None:
    """Three sources, one or two of them shorter: "ends"/"end", "has"/"have" as they are."""
    en, ja = tmp_path / "en.jsonl", tmp_path / "ja.jsonl"
    en.write_text("".join(ALPACA_EN_LINES[:en_records]))
    ja.write_text("".join(ALPACA_EN_LINES[:ja_records]))
    done = run_cli(
        "stream", f"en={en}", f"ja={ja}", f"zh={ja}", "--plugin", "converter_zh",
        "-o", tmp_path / "o.jsonl", *mode,
    )  # fmt: skip
    assert done.returncode == 3
    said = (
        f"en={en}: ends after 3 records but ja={ja}, zh={ja} have more"
        if en_records == 3
        else f"ja={ja}, zh={ja}: end after 3 records but en={en} has more"
    )
    assert done.stderr.decode() == (
        f"convert: error: {said}; pair the first 3 with --unequal shortest (or --limit 3)\n"
    )


def test_input_keys_not_written_are_counted_by_name_up_to_key_names() -> None:
    """Names unique to each record (ids as keys) grew the counts, and the report, without
    bound: past KEY_NAMES names the others are counted together."""
    stats = SourceStats("en", "en.jsonl")
    for k in range(KEY_NAMES + 50):
        stats.count_dropped({f"id_{k}": "v", "id": 1}.keys())
    assert len(stats.dropped_keys) == KEY_NAMES + 1
    assert stats.dropped_keys["id"] == KEY_NAMES + 50
    assert stats.dropped_keys["id_0"] == 1 and "id_999" not in stats.dropped_keys
    assert stats.dropped_keys[OTHER_KEYS] == 51
    stats.count_dropped({"id": 5, "id_2000": 7})  # a range's counts, merged
    assert (stats.dropped_keys["id"], stats.dropped_keys[OTHER_KEYS]) == (KEY_NAMES + 55, 58)
