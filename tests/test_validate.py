"""`convert validate` on real files: input schemas, converter output and its corrupted copies,
the report formats, --max-errors and the exit statuses."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import ALPACA_EN, ALPACA_JA, DOLLY_DIR, SEED_DIR, SHARED, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import converter.readers
import converter.seqchecks
from converter.errors import UsageError
from converter.validate import ValidationResult, validate_files
from converter.validation import validator_for

FIRST_COMMIT = next((SHARED / "alpaca-ja-unpaired").glob("*first-commit.json"))
HEAD_COMMIT = next((SHARED / "alpaca-ja-unpaired").glob("*head.json"))
DOLLY_EN = sorted((DOLLY_DIR / "en-excerpts").glob("*.jsonl"))
DOLLY_JA_FULL = DOLLY_DIR / "ja-full" / "databricks-dolly-15k-ja.jsonl"
EVERYTHING = 1_000_000  # --max-errors that lists every finding


def pointers(result: ValidationResult, pointer: str) -> set[int | None]:
    """The records with a listed finding at ``pointer``."""
    return {f.record for f in result.findings if f.pointer == pointer}


# --- input schemas on real files -------------------------------------------------------------


def test_alpaca_flags_exactly_the_empty_outputs_and_instructions() -> None:
    result = validate_files(paths=[str(FIRST_COMMIT)], schema="alpaca", max_errors=EVERYTHING)
    assert result.exit_status == 1
    assert result.totals()["records"] == 10_000
    assert result.totals()["invalid"] == 8_544
    assert len(pointers(result, "/output")) == 8_544
    assert len(pointers(result, "/instruction")) == 8_542
    assert min(pointers(result, "/output")) == 1456  # the first 1,456 records are complete
    assert pointers(result, "/input") == set()  # an empty input is fine
    assert result.kinds == {"schema/minLength": 8_544 + 8_542}
    assert str(result.findings[0]) == f"{FIRST_COMMIT}:record 1456: /output: '' should be non-empty"


def test_alpaca_cli_lists_up_to_max_errors_and_counts_everything() -> None:
    done = run_cli("validate", "--schema", "alpaca", "--max-errors", "3", FIRST_COMMIT)
    assert done.returncode == 1
    lines = done.stdout.decode().splitlines()
    assert lines == [
        f"{FIRST_COMMIT}:record 1456: /output: '' should be non-empty",
        f"{FIRST_COMMIT}:record 1457: /output: '' should be non-empty",
        f"{FIRST_COMMIT}:record 1458: /instruction: '' should be non-empty",
    ]
    summary = done.stderr.decode()
    assert "10,000 records" in summary and "1,456 valid, 8,544 invalid" in summary
    assert "listed 3 of 17,086 findings" in summary


@pytest.mark.parametrize(
    ("schema", "paths", "records"),
    [
        ("alpaca", [HEAD_COMMIT, ALPACA_EN, ALPACA_JA], 1456 + 175 + 175),
        ("alpaca", sorted((SHARED / "alpaca-zh").glob("*.json")), 999 + 1000),
        ("dolly", DOLLY_EN, 38),
        ("dolly-ja", [DOLLY_JA_FULL], 15_015),
        ("seed-tasks", sorted(SEED_DIR.glob("*.jsonl")), 5 * 175),
    ],
)
def test_real_files_are_valid_against_their_schema(
    schema: str, paths: list[Path], records: int
) -> None:
    result = validate_files(paths=[str(p) for p in paths], schema=schema)
    assert (result.exit_status, result.totals()["records"]) == (0, records), result.findings[:3]
    assert result.totals()["valid"] == records


@pytest.mark.parametrize(
    ("schema", "path", "pointer", "message"),
    [
        ("dolly", DOLLY_DIR / "ja-excerpts", "", "'context' is a required property"),
        ("dolly-ja", DOLLY_DIR / "en-excerpts", "", "'index' is a required property"),
        ("alpaca", DOLLY_DIR / "en-excerpts", "", "'output' is a required property"),
        ("seed-tasks", DOLLY_DIR / "en-excerpts", "", "'instances' is a required property"),
    ],
)
def test_a_file_against_the_wrong_schema_fails_every_record(
    schema: str, path: Path, pointer: str, message: str
) -> None:
    files = sorted(path.glob("*.jsonl"))
    result = validate_files(paths=[str(p) for p in files], schema=schema, max_errors=EVERYTHING)
    assert result.totals()["invalid"] == result.totals()["records"] == 38
    assert sum(f.message == message and f.pointer == pointer for f in result.findings) == 38
    assert {f.line for f in result.findings} <= set(range(1, 21))  # JSONL: lines are given


@pytest.mark.parametrize("schema", ["alpaca", "dolly", "dolly-ja", "seed-tasks"])
def test_input_schemas_compiled_and_reference_validators_agree(schema: str) -> None:
    validator = validator_for(schema)
    rows: list[Any] = []
    for path in [ALPACA_EN, *DOLLY_EN, *sorted((DOLLY_DIR / "ja-excerpts").glob("*.jsonl"))]:
        text = path.read_text(encoding="utf-8")
        rows += json.loads(text) if path.suffix == ".json" else map(json.loads, text.splitlines())
    rows += [json.loads(line) for line in (SEED_DIR / "seed_tasks.en.jsonl").open()][:20]
    broken = [{**r, k: v} for r in rows[:10] for k in r for v in ("", None, 3, [], {"a": 1})]
    broken += [{**r, "instances": [r["instances"][0]] * 2} for r in rows if "instances" in r]
    verdicts = set()
    for row in rows + broken + ["x", 1, None, []]:
        fast = validator.is_valid(row)
        assert fast == (not validator.violations(row)), row
        verdicts.add(fast)
    assert verdicts == {True, False}


# --- converter output ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair_output(tmp_path_factory: pytest.TempPathFactory, checks_off_args: list[str]) -> Path:
    """The real EN/JA pair through `convert stream` (JSON Lines, 350 records)."""
    out = tmp_path_factory.mktemp("pair") / "pair.jsonl"
    done = run_cli("stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", *checks_off_args, "-o", out)
    assert done.returncode == 0, done.stderr
    return out


def records_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def test_converter_output_is_valid_as_jsonl_array_gzip_and_stdin(
    tmp_path: Path, pair_output: Path, checks_off_args: list[str]
) -> None:
    array = tmp_path / "pair.json"
    done = run_cli("stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", *checks_off_args, "-o", array)
    assert done.returncode == 0
    packed = tmp_path / "pair.jsonl.gz"
    packed.write_bytes(gzip.compress(pair_output.read_bytes()))
    result = validate_files(
        paths=[str(pair_output), str(array), str(packed)], languages=["en", "ja"]
    )
    assert result.exit_status == 0, result.findings
    assert [(f.shape, f.records) for f in result.files] == [
        ("jsonl", 350),
        ("array", 350),
        ("jsonl", 350),
    ]
    done = run_cli("validate", "-", "--languages", "en,ja", stdin=pair_output.read_bytes())
    assert done.returncode == 0 and done.stdout == b""
    assert "350 valid, 0 invalid" in done.stderr.decode()


def corrupt(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """A copy of converter output with one defect of ``kind``."""
    rs = [dict(r) for r in records]
    if kind == "duplicate-seq":
        rs[10] = dict(rs[4])  # 5EN where 5EN was; its partner 5JA is left alone
    elif kind == "missing":
        del rs[21]  # 10JA
    elif kind == "reasoning":
        rs[7]["reasoning"] = rs[6]["reasoning"]  # 3JA says English
    elif kind == "extra-key":
        rs[3]["notes"] = "x" * 10_000
    elif kind == "order":
        rs[40], rs[41] = rs[41], rs[40]  # 20JA before 20EN
    elif kind == "unknown-language":
        rs[9]["seq"] = "4XX"
    return rs


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("duplicate-seq", [(10, "duplicate-seq", "/seq", "'2EN' occurs earlier")]),
        ("missing", [(20, "missing-language", "/seq", "index 10 lacks JA (has EN)")]),
        (
            "reasoning",
            [
                (
                    7,
                    "reasoning",
                    "/reasoning",
                    "'AI assistant should reply in English language.' does not fit Japanese "
                    "(3JA); expected 'AI assistant should reply in Japanese language.'",
                )
            ],
        ),
        (
            "extra-key",
            [
                (
                    3,
                    "schema/additionalProperties",
                    "",
                    "Additional properties are not allowed ('notes' was unexpected)",
                )
            ],
        ),
        ("order", [(40, "languages", "/seq", "index 20 has JA, EN; index 0 has EN, JA")]),
        (
            "unknown-language",
            [
                (
                    9,
                    "unknown-language",
                    "/seq",
                    "suffix 'XX' is no registered language (known: EN, JA)",
                )
            ],
        ),
    ],
)
def test_each_defect_of_converter_output_is_found_exactly(
    tmp_path: Path, pair_output: Path, kind: str, expected: list[tuple[Any, ...]]
) -> None:
    bad = write_jsonl(tmp_path / f"{kind}.jsonl", corrupt(records_of(pair_output), kind))
    result = validate_files(paths=[str(bad)], languages=["en", "ja"] if kind == "missing" else ())
    found = [(f.record, f.kind, f.pointer, f.message) for f in result.findings]
    if kind == "duplicate-seq":  # index 2 lost its partner and index 5 its English record
        assert found[0] == expected[0]
        assert [f[1] for f in found[1:]] == ["languages", "languages"]
    elif kind == "unknown-language":  # 4JA stands alone at index 4 too: listed first (record 8)
        assert found[1] == expected[0] and found[0][:2] == (8, "languages")
    else:
        assert found == expected
    assert all(f.line == f.record + 1 for f in result.findings)  # JSONL: line = record + 1
    assert result.exit_status == 1
    assert len(str(result.findings[0])) < 400  # a 10,000-character value is never dumped


@pytest.mark.parametrize(
    ("fault", "languages", "expected"),
    [
        ("0JA lost", (), [(0, "languages", "index 0 has EN; index 1 has EN, JA")]),
        ("0JA lost", ("en", "ja"), [(0, "missing-language", "index 0 lacks JA (has EN)")]),
        ("0 swapped", (), [(0, "languages", "index 0 has JA, EN; index 1 has EN, JA")]),
        ("1 swapped", (), [(2, "languages", "index 1 has JA, EN; index 0 has EN, JA")]),
        (
            "0 and 1 differ",
            (),
            [
                (0, "languages", "index 0 has EN; index 2 has EN, JA"),
                (1, "languages", "index 1 has JA, EN; index 2 has EN, JA"),
            ],
        ),
        ("last of 2 swapped", (), [(2, "languages", "index 1 has JA, EN; index 0 has EN, JA")]),
    ],
)
def test_a_broken_first_index_is_the_one_flagged(
    tmp_path: Path,
    pair_output: Path,
    fault: str,
    languages: tuple[str, ...],
    expected: list[tuple[int, str, str]],
) -> None:
    """Each index is compared with a reference index: the first whose languages a later one
    repeats. A broken first index is flagged, not every index after it."""
    rs = records_of(pair_output)
    if fault == "0JA lost":
        del rs[1]
    elif fault == "0 swapped":
        rs[0], rs[1] = rs[1], rs[0]
    elif fault == "1 swapped":
        rs[2], rs[3] = rs[3], rs[2]
    elif fault == "0 and 1 differ":  # index 0 lost JA, index 1 is swapped: no two agree
        rs = [rs[0], rs[3], rs[2], *rs[4:]]
    else:
        rs = [rs[0], rs[1], rs[3], rs[2]]
    bad = write_jsonl(tmp_path / "bad.jsonl", rs)
    result = validate_files(paths=[str(bad)], languages=list(languages))
    assert [(f.record, f.kind, f.message) for f in result.findings] == expected
    assert result.exit_status == 1


def test_findings_are_listed_in_file_order_while_the_reference_waits(
    tmp_path: Path, pair_output: Path
) -> None:
    """Index 0 swapped (JA, EN) is only known to be wrong once indexes 1 and 2 agree; record
    2's wrong reasoning is found first. --max-errors 1 lists index 0's finding, the first in
    the file, and the counts hold both."""
    rs = records_of(pair_output)[:8]
    rs[0], rs[1] = rs[1], rs[0]
    rs[2]["reasoning"] = rs[3]["reasoning"]
    bad = write_jsonl(tmp_path / "order.jsonl", rs)
    result = validate_files(paths=[str(bad)], max_errors=1)
    assert [(f.record, f.kind) for f in result.findings] == [(0, "languages")]
    assert result.kinds == {"languages": 1, "reasoning": 1}
    everything = validate_files(paths=[str(bad)])
    assert [(f.record, f.kind) for f in everything.findings] == [(0, "languages"), (2, "reasoning")]
    rs[1]["instruction"] = 5  # index 0's second record: its own finding comes before the group's
    bad = write_jsonl(tmp_path / "order2.jsonl", rs)
    result = validate_files(paths=[str(bad)], max_errors=1)
    assert [(f.record, f.kind) for f in result.findings] == [(0, "languages")]
    everything = validate_files(paths=[str(bad)])
    assert [(f.record, f.kind) for f in everything.findings] == [
        (0, "languages"),
        (1, "schema/type"),
        (2, "reasoning"),
    ]


FRENCH_PLUGIN = """
from converter import hookimpl
from converter.model import Language

@hookimpl
def register_languages(register):
    register(Language("fr", "French", "FR", "AI assistant should reply in French language."))
"""


def test_languages_option_names_what_every_index_must_have(
    tmp_path: Path, pair_output: Path
) -> None:
    plugin = tmp_path / "french.py"
    plugin.write_text(FRENCH_PLUGIN)
    result = validate_files(
        paths=[str(pair_output)], languages=["en", "fr"], plugins=[str(plugin)], max_errors=2
    )
    assert result.kinds == {"missing-language": 175}
    assert result.totals()["invalid"] == 0  # a group finding: no record is invalid by itself
    assert [f.message for f in result.findings] == [
        "index 0 lacks FR (has EN, JA)",
        "index 1 lacks FR (has EN, JA)",
    ]
    done = run_cli("validate", pair_output, "--languages", "fr", "--plugin", plugin, "-q")
    assert done.returncode == 1 and len(done.stdout.splitlines()) == 100  # the default listing


def test_stages_and_gaps_are_checked_per_stage_prefix(tmp_path: Path, pair_output: Path) -> None:
    records = records_of(pair_output)
    staged = [{**r, "seq": f"init/{r['seq']}"} for r in records[:6]]
    staged += [r for r in records[10:14] if r["seq"].endswith("EN")]  # stage "": EN only
    staged += [{**r, "seq": f"init/{r['seq']}"} for r in records[20:22]]  # a gap at init/3..9
    result = validate_files(paths=[str(write_jsonl(tmp_path / "s.jsonl", staged))])
    assert result.exit_status == 0, result.findings
    staged.append({**records[0], "seq": "init/0EN"})
    result = validate_files(paths=[str(write_jsonl(tmp_path / "t.jsonl", staged))])
    found = [(f.kind, f.message) for f in result.findings]
    assert found == [
        ("duplicate-seq", "'init/0EN' occurs earlier"),
        ("languages", "stage 'init', index 0 has EN; index 0 has EN, JA"),
    ]


def test_duplicates_are_found_past_the_bitmap_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(converter.seqchecks, "BITMAP_BUDGET", 1 << 15)  # indexes < 32,768 fit
    reasoning = "AI assistant should reply in English language."
    seqs = [f"{i}EN" for i in (5, 40_000, 70_000, 5, 70_000, 100)]
    row = {"reasoning": reasoning, "instruction": "i", "input": "", "output": "o"}
    path = write_jsonl(tmp_path / "big.jsonl", [{"seq": s, **row} for s in seqs])
    result = validate_files(paths=[str(path)])
    dups = [(f.record, f.message) for f in result.findings if f.kind == "duplicate-seq"]
    assert dups == [(3, "'5EN' occurs earlier"), (4, "'70000EN' occurs earlier")]


def test_keep_tags_output_needs_the_record_tags_schema(
    tmp_path: Path, checks_off_args: list[str]
) -> None:
    out = tmp_path / "tags.json"
    ja = sorted((DOLLY_DIR / "ja-excerpts").glob("*.jsonl"))[0]  # records 0-11, like DOLLY_EN[0]
    done = run_cli(
        "stream", f"en={DOLLY_EN[0]}", f"ja={ja}", "--keep-tags", *checks_off_args, "-o", out
    )
    assert done.returncode == 0, done.stderr
    assert validate_files(paths=[str(out)], schema="record-tags").exit_status == 0
    plain = validate_files(paths=[str(out)], schema="record", max_errors=0)
    assert plain.kinds == {"schema/additionalProperties": 24}
    assert plain.findings == []  # --max-errors 0: nothing listed, everything counted


# --- report formats and exit statuses --------------------------------------------------------


def test_a_file_malformed_late_counts_the_records_before_the_error(
    tmp_path: Path, pair_output: Path
) -> None:
    """40 records (the first with a wrong reasoning), then a syntax error: 40 records counted,
    39 valid, 1 invalid, and the file malformed (the counts never go negative)."""
    records = records_of(pair_output)[:40]
    records[0]["reasoning"] = "x"
    text = json.dumps(records, ensure_ascii=False, indent=2)
    path = tmp_path / "late.json"
    path.write_text(text[: text.rindex("}") + 1] + ',\n  {"seq": tru}\n]', "utf-8")
    result = validate_files(paths=[str(path)], max_errors=EVERYTHING)
    assert result.files[0].status == "malformed"
    totals = result.totals()
    assert (totals["records"], totals["valid"], totals["invalid"]) == (40, 39, 1)
    assert result.exit_status == 1


def test_json_report_is_one_object_for_ci(tmp_path: Path, pair_output: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", corrupt(records_of(pair_output), "reasoning"))
    missing = tmp_path / "missing.json"
    done = run_cli("validate", bad, pair_output, missing, "--format", "json")
    assert done.returncode == 3  # one file could not be read: that wins
    assert done.stderr == b""
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["exit_status"] == 3
    assert report["totals"] == {
        "files": 3,
        "records": 700,
        "valid": 699,
        "invalid": 1,
        "group_findings": 0,
        "findings": 2,
        "listed": 2,
    }
    assert report["by_kind"] == {"reasoning": 1, "unreadable": 1}
    assert [f["status"] for f in report["files"]] == ["invalid", "valid", "unreadable"]
    first, second = report["findings"]
    assert first == {
        "file": str(bad),
        "record": 7,
        "line": 8,
        "pointer": "/reasoning",
        "kind": "reasoning",
        "message": first["message"],
    }
    assert second == {
        "file": str(missing),
        "record": None,
        "line": None,
        "pointer": None,
        "kind": "unreadable",
        "message": "no such file",
    }


WHOLE_FILE_PROBLEMS = [
    (b"", "empty", "empty file"),
    (b" \n\t", "empty", "file holds only whitespace"),
    (b"[]", "empty", "the array holds no records"),
    (b'"a record?"', "not-container", "byte 0: top-level string is not a record container"),
    (b'[{"seq": "0EN"},\n {"a": 1,]', "malformed", "line 2, column"),
    (b"\xff\xfe[\x00]\x00", "malformed", "UTF-16"),
    (b"[\x00{\x00", "malformed", "looks UTF-16 (little-endian) encoded"),
    (b'["a\x00a"]', "malformed", "line 1, column 4 (byte 3): control character 0x00"),
    ("日本語\n".encode(), "malformed", "byte 0: character '日' cannot start JSON"),
    (b"\xc0abc", "malformed", "byte 0: byte 0xc0 (not UTF-8) cannot start JSON"),
    (b"PAR1\x15\x04", "malformed", "looks like Parquet, which converter reads from a file named"),
    (b'{\n  "seq": "0EN"\n}\n{"seq": "1EN"}\n3', "malformed", "a top-level int among the objects"),
]


def test_whole_file_problems_are_told_apart_with_exit_1(tmp_path: Path) -> None:
    paths = []
    for number, (content, _, _) in enumerate(WHOLE_FILE_PROBLEMS):
        paths.append(tmp_path / f"f{number}.json")
        paths[-1].write_bytes(content)
    done = run_cli("validate", *paths, "--quiet")
    assert done.returncode == 1 and done.stderr == b""
    lines = done.stdout.decode().splitlines()
    for path, (_, kind, message) in zip(paths, WHOLE_FILE_PROBLEMS):
        [line] = [x for x in lines if x.startswith(f"{path}: ")]  # one line per file
        assert line.startswith(f"{path}: {kind}: ") and message in line


def test_unreadable_files_exit_3_and_the_others_are_still_checked(
    tmp_path: Path, pair_output: Path
) -> None:
    done = run_cli("validate", tmp_path / "nope.json", tmp_path, pair_output)
    assert done.returncode == 3
    assert done.stdout.decode().splitlines() == [
        f"{tmp_path / 'nope.json'}: unreadable: no such file",
        f"{tmp_path}: unreadable: is a directory, not a file",
    ]
    assert "350 valid" in done.stderr.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schema", "nope"], "no schema 'nope'"),
        (["--languages", "en,xx"], "unknown language 'xx'"),
        (["--max-errors", "-1"], "--max-errors"),
        (["--format", "xml"], "--format"),
    ],
)
def test_bad_command_lines_exit_2(pair_output: Path, args: list[str], message: str) -> None:
    done = run_cli("validate", pair_output, *args)
    assert done.returncode == 2
    assert message in done.stderr.decode() and b"Traceback" not in done.stderr


def test_api_refuses_what_the_command_line_would() -> None:
    with pytest.raises(UsageError, match="once"):
        validate_files(paths=["-", "-"])
    with pytest.raises(UsageError, match="at least one"):
        validate_files(paths=[])
    with pytest.raises(UsageError, match="--languages checks converter output"):
        validate_files(paths=[str(ALPACA_EN)], schema="alpaca", languages=["en"])
    with pytest.raises(UsageError, match="--max-errors"):
        validate_files(paths=[str(ALPACA_EN)], max_errors=-1)


def test_a_schema_file_with_a_ref_to_its_neighbour(tmp_path: Path) -> None:
    (tmp_path / "text.json").write_text('{"type": "string", "minLength": 2}')
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"instruction": {"$ref": "text.json"}},
        "required": ["instruction"],
    }
    (tmp_path / "mine.schema.json").write_text(json.dumps(schema))
    short = write_jsonl(tmp_path / "short.jsonl", [{"instruction": "ok"}, {"instruction": "x"}])
    result = validate_files(
        paths=[str(ALPACA_EN), str(short)], schema=str(tmp_path / "mine.schema.json")
    )
    assert [f.invalid for f in result.files] == [0, 1]
    assert [str(f) for f in result.findings] == [
        f"{short}:record 1 (line 2): /instruction: 'x' is too short"
    ]


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("missing.json", "{folder}/missing.json: cannot read schema: No such file or directory"),
        ("text.json#/nope", "Pointer '/nope' does not exist"),
        ("#/$defs/nope", "Pointer '/$defs/nope' does not exist"),
        (
            "https://example.com/x.json",
            "'https://example.com/x.json' is not a file beside the schema",
        ),
    ],
)
def test_an_unresolvable_ref_is_one_line_naming_the_schema_and_the_reference(
    tmp_path: Path, ref: str, reason: str
) -> None:
    (tmp_path / "text.json").write_text('{"type": "string"}')
    schema = tmp_path / "mine.schema.json"
    schema.write_text(json.dumps({"properties": {"instruction": {"$ref": ref}}}))
    done = run_cli("validate", ALPACA_EN, "--schema", schema)
    assert done.returncode == 2 and done.stdout == b""
    reason = reason.format(folder=tmp_path.resolve())
    assert done.stderr.decode() == f"convert: error: {schema}: unresolvable reference: {reason}\n"


def test_seq_checks_go_on_for_records_the_schema_rejects(tmp_path: Path) -> None:
    english, japanese = (
        f"AI assistant should reply in {name} language." for name in ("English", "Japanese")
    )
    rows = [
        {"seq": "0EN", "instruction": "a", "input": "", "output": "b"},  # no reasoning
        {"seq": "0JA", "reasoning": japanese, "instruction": "a", "input": "", "output": 1},
        {"seq": "1EN", "reasoning": english, "instruction": "a", "input": "", "output": "b"},
        {
            "seq": "1JA",
            "reasoning": english,
            "instruction": "a",
            "input": "",
            "output": "b",
            "x": 1,
        },
    ]
    result = validate_files(paths=[str(write_jsonl(tmp_path / "m.jsonl", rows))])
    assert [(f.record, f.kind, f.pointer) for f in result.findings] == [
        (0, "schema/required", ""),  # said once: no second finding about the reasoning
        (1, "schema/type", "/output"),
        (3, "schema/additionalProperties", ""),
        (3, "reasoning", "/reasoning"),  # the schema passes it; the language check does not
    ]
    assert result.totals()["invalid"] == 3


# --- batches: the same findings as record by record -------------------------------------------

REASONING = {
    "EN": "AI assistant should reply in English language.",
    "JA": "AI assistant should reply in Japanese language.",
}
GROUPS = [["EN", "JA"]] * 8 + [["EN"], ["JA", "EN"], ["EN", "JA", "EN"], ["EN", "XX"], ["JA"]]


@st.composite
def converter_outputs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Converter output, mostly regular: gaps, repeats, stages, odd groups, bad records."""
    records: list[dict[str, Any]] = []
    number = 0
    for _ in range(draw(st.integers(0, 40))):
        number = max(0, number + draw(st.sampled_from([1, 1, 1, 1, 1, 2, 7, 0, -2])))
        stage = draw(st.sampled_from(["", "", "", "", "init/"]))
        for suffix in draw(st.sampled_from(GROUPS)):
            record = {
                "seq": f"{stage}{number}{suffix}",
                "reasoning": REASONING.get(suffix, "?"),
                "instruction": "i",
                "input": "",
                "output": "o",
            }
            fault = draw(st.integers(0, 40))
            if fault == 0:
                record["reasoning"] = REASONING["JA" if suffix == "EN" else "EN"]
            elif fault == 1:
                del record["output"]
            records.append(record)
    return records


def findings_of(path: Path) -> tuple[list[str], dict[str, int]]:
    result = validate_files(paths=[str(path)], languages=["en"], max_errors=EVERYTHING)
    return [str(f) for f in result.findings], result.totals()


@settings(max_examples=150, deadline=None)
@given(records=converter_outputs(), slice_size=st.sampled_from([200, 700, 3000]))
def test_batches_find_what_record_by_record_finds(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]], slice_size: int
) -> None:
    folder = tmp_path_factory.mktemp("batches")
    lines = write_jsonl(folder / "out.jsonl", records)
    array = folder / "out.json"
    array.write_text(json.dumps(records, indent=2, ensure_ascii=False), "utf-8")
    with pytest.MonkeyPatch.context() as patch:  # one batch per file, checked record by record
        patch.setattr(converter.seqchecks.SeqChecks, "check_batch", lambda *args: False)
        expected = [findings_of(lines), findings_of(array)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(converter.readers, "SLICE", slice_size)
        assert [findings_of(lines), findings_of(array)] == expected


def test_regular_output_is_checked_in_batches(
    pair_output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batched = []
    check_batch = converter.seqchecks.SeqChecks.check_batch

    def spy(self: converter.seqchecks.SeqChecks, *args: Any) -> bool:
        batched.append(check_batch(self, *args))
        return batched[-1]

    monkeypatch.setattr(converter.seqchecks.SeqChecks, "check_batch", spy)
    monkeypatch.setattr(converter.readers, "SLICE", 2000)
    result = validate_files(paths=[str(pair_output)], languages=["en", "ja"])
    assert result.exit_status == 0 and result.totals()["records"] == 350
    # the first batches only: the reference index is taken once the next one agrees with it
    assert batched.count(True) > 50 and batched[2:].count(False) == 0


def test_a_record_nested_a_thousand_levels_is_a_finding_not_an_internal_error(
    tmp_path: Path, pair_output: Path
) -> None:
    """orjson reads JSON Lines values 1,024 levels deep; jsonschema's message for one (its repr)
    used to run out of stack and end the whole run. Files after it are still validated."""
    row = records_of(pair_output)[0]
    deep = write_jsonl(tmp_path / "deep.jsonl", [{**row, "input": "x"}])
    deep.write_text(deep.read_text().replace('"input": "x"', '"input": ' + "[" * 1000 + "]" * 1000))
    result = validate_files(paths=[str(deep), str(pair_output)])
    (finding,) = result.findings
    assert (finding.path, finding.record, finding.pointer) == (str(deep), 0, "/input")
    assert finding.message.endswith("is not of type 'string'") and len(finding.message) < 300
    assert result.totals()["records"] == 351


@pytest.mark.parametrize(
    ("levels", "says"),
    [(200, "cannot compile schema"), (2000, "cannot read schema: nested too deep")],
)
def test_a_schema_nested_too_deep_is_a_usage_error(tmp_path: Path, levels: int, says: str) -> None:
    path = tmp_path / "deep.schema.json"
    text = '{"type": "object"}'
    for _ in range(levels):  # (json.dumps itself cannot write 2,000 levels)
        text = '{"type": "object", "properties": {"a": ' + text + "}}"
    path.write_text(text)
    done = run_cli("validate", ALPACA_EN, "--schema", path)
    assert done.returncode == 2
    assert done.stderr.decode().startswith(f"convert: error: {path}: {says}")


def test_findings_quoting_what_stdout_cannot_encode_are_escaped(tmp_path: Path) -> None:
    """An ASCII-only stdout (LC_ALL=C): a finding quoting Japanese is written with escapes, as
    on stderr (it was an internal error, exit 3)."""
    record = {
        "seq": "日本語",
        "reasoning": "r",
        "instruction": "日本語",
        "input": "",
        "output": "x",
    }
    (tmp_path / "jp.json").write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "converter", "validate", "jp.json"],
        cwd=tmp_path, capture_output=True, check=False,
        env={**os.environ, "PYTHONIOENCODING": "ascii:strict", "CONVERTER_LOAD_PLUGINS": ""},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stdout.decode("ascii").startswith(
        "jp.json:record 0: /seq: '\\u65e5\\u672c\\u8a9e' does not match"
    )


def test_findings_appended_to_a_file_validated_are_refused(tmp_path: Path) -> None:
    """`convert validate a.jsonl >> a.jsonl` read its own findings back as records, on and
    on (a 3-line file grew to 100,003 lines)."""
    (tmp_path / "a.jsonl").write_bytes(ALPACA_EN.read_bytes())
    with open(tmp_path / "a.jsonl", "ab") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "converter", "validate", "a.jsonl", "--schema", "record"],
            cwd=tmp_path, stdout=stdout, stderr=subprocess.PIPE, check=False, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "convert: error: stdout would write into a.jsonl, which it validates: write it elsewhere\n"
    )
    assert (tmp_path / "a.jsonl").read_bytes() == ALPACA_EN.read_bytes()


def test_a_wrapped_file_is_validated_with_the_items_path_its_finding_names(
    tmp_path: Path,
) -> None:
    """The finding for records wrapped in an object names --items-path, which validate takes
    too (it was stream's option only: "No such option")."""
    wrapped = tmp_path / "wrapped.json"
    records = json.loads(ALPACA_EN.read_text())[:5]
    wrapped.write_text(json.dumps({"data": records}))
    plain = run_cli("validate", wrapped, "--schema", "alpaca")
    assert plain.returncode == 1
    assert b"read them with --items-path data.item" in plain.stdout
    done = run_cli("validate", wrapped, "--schema", "alpaca", "--items-path", "data.item")
    assert done.returncode == 0, done.stdout + done.stderr
    assert b"5 records against alpaca" in done.stderr and b"5 valid, 0 invalid" in done.stderr
