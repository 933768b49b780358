"""``--where`` filters: the parser, the group semantics, and runs on real Dolly data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import DOLLY_DIR, run_cli

from converter.builtin.register import register_of
from converter.errors import UsageError
from converter.filters import first_failure, parse_condition
from converter.model import Record

JA_FULL = DOLLY_DIR / "ja-full" / "databricks-dolly-15k-ja.jsonl"
EXCERPTS = ("head_00000-00011", "mid_01140-01159", "tail_15009-15014")


def jsonl(path: Path) -> list[dict]:
    """Every line of a JSONL file, decoded."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def excerpt_pair(tmp_path: Path) -> tuple[Path, Path]:
    """The 38 Dolly EN excerpt records and their JA lines, each side in one file."""
    en, ja = tmp_path / "en.jsonl", tmp_path / "ja.jsonl"
    en.write_text(
        "".join(
            (DOLLY_DIR / "en-excerpts" / f"databricks-dolly-15k.en.{n}.jsonl")
            .read_text()
            .rstrip("\n")
            + "\n"
            for n in EXCERPTS
        )
    )
    ja.write_bytes(
        b"".join(
            (DOLLY_DIR / "ja-excerpts" / f"databricks-dolly-15k-ja.{n}.jsonl").read_bytes()
            for n in EXCERPTS
        )
    )
    return en, ja


def record(lang: str, tags: dict, output: str = "text") -> Record:
    """A record with the given tags."""
    return Record(lang, 0, "instruction", "", output, tags)


@pytest.mark.parametrize(
    ("text", "field", "op", "value", "length"),
    [
        ("category!=creative_writing", "category", "!=", "creative_writing", False),
        ("register=polite", "register", "=", "polite", False),
        ("input=", "input", "=", "", False),
        ("note=a=b", "note", "=", "a=b", False),
        ("len(output)<=200", "output", "<=", 200, True),
        (" len( instruction ) > 3 ", "instruction", ">", 3, True),
        ("len(output)!=0", "output", "!=", 0, True),
    ],
)
def test_conditions_parse(text: str, field: str, op: str, value: str | int, length: bool) -> None:
    condition = parse_condition(text)
    assert (condition.field, condition.op, condition.value, condition.length) == (
        field,
        op,
        value,
        length,
    )


@pytest.mark.parametrize(
    "text", ["category", "=x", "len(output)", "len(output)<=abc", "category<=3", "len(x)=<3", ""]
)
def test_malformed_conditions_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="is not a condition"):
        parse_condition(text)


def test_a_condition_holds_when_every_record_having_the_field_satisfies_it() -> None:
    polite_ja = [record("en", {"category": "open_qa"}), record("ja", {"register": "polite"})]
    assert parse_condition("register=polite").holds(polite_ja)  # EN has no register: skipped
    assert not parse_condition("register=plain").holds(polite_ja)
    assert not parse_condition("nosuchtag!=x").holds(polite_ja)  # no record has it
    split = [record("en", {"category": "a"}), record("ja", {"category": "b"})]
    assert not parse_condition("category!=a").holds(split)  # one side fails: the group fails
    assert parse_condition("len(output)=4").holds(split)
    assert parse_condition("index=7").holds([record("ja", {"index": 7})])  # JSON spelling
    conditions = [parse_condition("category!=b"), parse_condition("len(output)>9")]
    assert first_failure(conditions, split) == "category!=b"
    assert first_failure(conditions[1:], split) == "len(output)>9"
    assert first_failure([], split) is None


def test_a_malformed_where_exits_2_with_one_line(tmp_path: Path) -> None:
    en, ja = excerpt_pair(tmp_path)
    done = run_cli(
        "stream", f"en={en}", f"ja={ja}", "--where", "len(output)<=x", "-o", tmp_path / "o"
    )
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == [
        "convert: error: --where 'len(output)<=x' is not a condition; write FIELD=VALUE, "
        "FIELD!=VALUE or len(FIELD)<=N (also <, >=, >, =, !=), e.g. category!=creative_writing"
    ]
    assert not (tmp_path / "o").exists()


def test_category_filter_on_the_aligned_dolly_pair(tmp_path: Path) -> None:
    en, ja = excerpt_pair(tmp_path)
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    done = run_cli(
        "stream", f"en={en}", f"ja={ja}", "--where", "category=open_qa", "--keep-tags",
        "-o", out, "--report", report,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    kept = [k for k, r in enumerate(jsonl(ja)) if r["category"] == "open_qa"]
    rows = jsonl(out)
    assert len(kept) == 9 and len(rows) == 2 * len(kept)
    assert {row["tags"]["category"] for row in rows} == {"open_qa"}
    assert [row["seq"] for row in rows] == [f"{k}{s}" for k in kept for s in ("EN", "JA")]
    doc = json.loads(report.read_text())
    assert doc["groups"] == {"read": 38, "written": 9, "rejected": 0, "filtered": 29, "skipped": 0}
    assert doc["filters"] == {"category=open_qa": 29}
    for side in doc["sources"]:
        assert (side["read"], side["written"], side["filtered"]) == (38, 9, 29)
        assert side["reconciles"]
    assert "convert: 29 groups filtered out: category=open_qa (29)" in done.stderr.decode()
    assert not (tmp_path / "out.jsonl.rejects.jsonl").exists()


def test_register_filter_keeps_pairs_whose_japanese_side_is_polite(tmp_path: Path) -> None:
    en, ja = excerpt_pair(tmp_path)
    out = tmp_path / "out.jsonl"
    done = run_cli(
        "stream", f"en={en}", f"ja={ja}", "--tagger", "register", "--where", "register=polite",
        "-o", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    polite = [(k, r) for k, r in enumerate(jsonl(ja)) if register_of(r["output"]) == "polite"]
    rows = jsonl(out)
    assert len(polite) == 17 and len(rows) == 2 * len(polite)
    assert [row["output"] for row in rows[1::2]] == [r["output"] for _, r in polite]
    assert [row["seq"] for row in rows[0::2]] == [f"{k}EN" for k, _ in polite]


def test_single_source_category_filter_on_the_full_japanese_dolly(tmp_path: Path) -> None:
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    done = run_cli(
        "stream", f"ja={JA_FULL}", "--where", "category!=creative_writing", "--keep-tags",
        "-o", out, "--report", report,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = jsonl(out)
    assert len(rows) == 15_015 - 711
    assert "creative_writing" not in {row["tags"]["category"] for row in rows}
    doc = json.loads(report.read_text())
    assert doc["filters"] == {"category!=creative_writing": 711}
    assert doc["groups"] == {
        "read": 15_015,
        "written": 14_304,
        "rejected": 0,
        "filtered": 711,
        "skipped": 0,
    }
    (side,) = doc["sources"]
    assert side["reconciles"] and side["filtered"] == 711
    assert doc["options"]["where"] == ["category!=creative_writing"]


def test_register_and_length_filters_on_the_full_japanese_dolly(tmp_path: Path) -> None:
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    done = run_cli(
        "stream", f"ja={JA_FULL}", "--tagger", "register", "--keep-tags",
        "--where", "register=polite", "--where", "len(output)<=200",
        "-o", out, "--report", report,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    source = jsonl(JA_FULL)
    polite = [r for r in source if register_of(r["output"]) == "polite"]
    short = [r for r in polite if len(r["output"]) <= 200]
    rows = jsonl(out)
    assert [row["output"] for row in rows] == [r["output"] for r in short]
    assert all(row["tags"]["register"] == "polite" for row in rows)
    doc = json.loads(report.read_text())
    assert doc["filters"] == {
        "register=polite": len(source) - len(polite),
        "len(output)<=200": len(polite) - len(short),
    }
    assert doc["sources"][0]["reconciles"]
    assert 0 < len(short) < len(polite) < len(source)
