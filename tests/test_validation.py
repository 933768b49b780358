"""The compiled validator (jsonschema-rs) agrees with the reference (jsonschema) on every row."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import ALPACA_EN, ALPACA_JA
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_bundled_schemas_are_listed() -> None:
    assert {"record", "record-tags"} <= set(bundled_schema_names())
