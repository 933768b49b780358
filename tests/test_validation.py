"""The compiled validator (jsonschema-rs) agrees with the reference (jsonschema) on every row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import ALPACA_EN, ALPACA_JA, SAMPLE_EN, SAMPLE_JA, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from converter.errors import UsageError
from converter.validation import bundled_schema_names, cut, validator_for


def real_rows() -> list[dict[str, Any]]:
    rows = []
    for suffix, name, path in (("EN", "English", ALPACA_EN), ("JA", "Japanese", ALPACA_JA)):
        for i, record in enumerate(json.loads(path.read_text())):
            reasoning = f"AI assistant should reply in {name} language."
            rows.append({"seq": f"{i}{suffix}", "reasoning": reasoning, **record})
    return rows


def mutations(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows that break the schema in each way it forbids (and a few it allows)."""
    missing = dict(row)
    del missing["input"]
    return [
        {**row, "seq": "6en"},
        {**row, "seq": "06EN"},
        {**row, "seq": "stage-1/6EN"},
        {**row, "seq": "Stage/6EN"},
        {**row, "seq": "6"},
        {**row, "reasoning": ""},
        {**row, "instruction": None},
        {**row, "output": 42},
        {**row, "extra": "x"},
        {**row, "tags": {"category": "qa"}},
        missing,
    ]


@pytest.mark.parametrize("schema", ["record", "record-tags"])
def test_compiled_and_reference_validators_agree_on_real_and_broken_rows(schema: str) -> None:
    validator = validator_for(schema)
    rows = real_rows()
    rows += [m for row in rows[:20] for m in mutations(row)]
    rows += [{**row, "tags": {}} for row in rows[:50]]
    verdicts = {True: 0, False: 0}
    for row in rows:
        fast = validator.is_valid(row)
        assert fast == (not validator.violations(row)), row
        verdicts[fast] += 1
    assert verdicts[True] and verdicts[False]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["seq", "reasoning", "instruction", "input", "output", "tags", "x"]),
        st.one_of(
            st.text(max_size=12),
            st.integers(),
            st.none(),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        ),
    )
)
def test_compiled_and_reference_validators_agree_on_anything(row: dict[str, Any]) -> None:
    for schema in ("record", "record-tags"):
        validator = validator_for(schema)
        assert validator.is_valid(row) == (not validator.violations(row))


def test_violations_name_the_field_and_cut_huge_values() -> None:
    validator = validator_for("record")
    row = {
        "seq": "0EN",
        "reasoning": "r",
        "instruction": "i",
        "input": 7,
        "output": "x" * 100_000,
        "y": 1,
    }
    found = [str(v) for v in validator.violations(row)]
    assert "/input: 7 is not of type 'string'" in found
    assert any(v.startswith("/: Additional properties") for v in found)
    assert all(len(v) < 300 for v in found)
    assert len(cut("a" * 1000)) <= 200


def test_violations_are_in_document_order(tmp_path: Path) -> None:
    """Item 2 before item 10, keys in the record's order (they were sorted as text)."""
    schema = tmp_path / "s.schema.json"
    strings = {"type": "string"}
    properties = {"b": strings, "items": {"type": "array", "items": strings}, "a": strings}
    schema.write_text(json.dumps({"type": "object", "properties": properties}))
    row = {"b": 1, "items": [1 if i in (2, 10) else "x" for i in range(12)], "a": 2}
    found = [v.pointer for v in validator_for(str(schema)).violations(row)]
    assert found == ["/b", "/items/2", "/items/10", "/a"]


def test_bundled_schemas_are_listed() -> None:
    assert {"record", "record-tags"} <= set(bundled_schema_names())


def test_a_run_whose_records_all_pass_never_loads_the_reference(tmp_path: Path) -> None:
    """jsonschema (the reference, ~10 MiB and ~80 ms to import) loads only to explain a record."""
    script = (
        "import sys, runpy\n"
        f"sys.argv = ['convert', 'stream', 'en={SAMPLE_EN}', 'ja={SAMPLE_JA}', "
        f"'-o', r'{tmp_path / 'out.json'}']\n"
        "try:\n"
        "    runpy.run_module('converter', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print('jsonschema' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().split() == ["False"]
    assert len(json.loads((tmp_path / "out.json").read_bytes())) == 10


def test_a_users_invalid_schema_is_refused_by_the_reference_before_any_record(
    tmp_path: Path,
) -> None:
    schema = tmp_path / "bad.schema.json"
    schema.write_text('{"type": "object", "properties": {"seq": {"type": 5}}}')
    with pytest.raises(UsageError, match=r"bad\.schema\.json: invalid schema: 5 is not valid"):
        validator_for(str(schema))
    done = run_cli("validate", SAMPLE_EN, "--schema", schema)
    assert done.returncode == 2, done.stderr
    assert b"invalid schema: 5 is not valid" in done.stderr
    assert b"Traceback" not in done.stderr
