"""`convert validate` on Parquet files: values JSON has no type for (timestamps, bytes) get the
reference validator's verdict, and a Parquet file without rows is flagged empty like `[]`."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import ALPACA_EN, ALPACA_JA, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from converter.validation import validator_for

EN = json.loads(ALPACA_EN.read_text(encoding="utf-8"))
CREATED = datetime.datetime(2023, 4, 14, 9, 30)
#: Records of the real EN file given a timestamp or bytes (the others hold null there).
STAMPED, BLOBBED = {3, 100}, {7}
#: The Alpaca fields plus two optional string columns, as a user's schema file might say.
SCHEMA = {
    "type": "object",
    "properties": {
        "instruction": {"type": "string", "minLength": 1},
        "output": {"type": "string"},
        "created": {"type": ["string", "null"]},
        "blob": {"type": ["string", "null"]},
    },
    "required": ["instruction", "input", "output"],
}


@pytest.fixture(scope="module")
def typed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The real EN records as Parquet with a timestamp and a binary column, and a schema file
    that wants strings (or null) there."""
    folder = tmp_path_factory.mktemp("typed")
    created = [CREATED if i in STAMPED else None for i in range(len(EN))]
    blob = [b"\x00\xff" if i in BLOBBED else None for i in range(len(EN))]
    table = pa.Table.from_pylist(EN).append_column("created", pa.array(created))
    table = table.append_column("blob", pa.array(blob, pa.binary()))
    pq.write_table(table, folder / "en.parquet", row_group_size=50)
    (folder / "typed.schema.json").write_text(json.dumps(SCHEMA))
    return folder / "en.parquet", folder / "typed.schema.json"


def test_timestamps_and_bytes_are_findings_and_other_files_keep_their_results(
    typed: tuple[Path, Path],
) -> None:
    parquet, schema = typed
    done = run_cli("validate", ALPACA_EN, parquet, ALPACA_JA, "--schema", schema, "-f", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [(f["status"], f["records"], f["invalid"]) for f in report["files"]] == [
        ("valid", 175, 0),
        ("invalid", 175, 3),
        ("valid", 175, 0),
    ]
    assert [(f["record"], f["pointer"], f["kind"]) for f in report["findings"]] == [
        (3, "/created", "schema/type"),
        (7, "/blob", "schema/type"),
        (100, "/created", "schema/type"),
    ]
    text = run_cli("validate", parquet, "--schema", schema)
    assert text.returncode == 1 and b"Traceback" not in text.stderr
    assert text.stdout.decode().splitlines()[0] == (
        f"{parquet}:record 3: /created: {CREATED!r} is not of type 'string', 'null'"
    )


PARQUET_VALUES = st.one_of(
    st.datetimes(),
    st.dates(),
    st.timedeltas(),
    st.binary(max_size=4),
    st.text(max_size=4),
    st.none(),
    st.integers(),
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["instruction", "input", "output", "created"]), PARQUET_VALUES)
)
def test_verdicts_on_values_the_compiled_validator_cannot_take_are_the_references(
    typed: tuple[Path, Path], row: dict[str, Any]
) -> None:
    validator = validator_for(str(typed[1]))
    assert validator.is_valid(row) == (not validator.violations(row))


def filtered_out(folder: Path, name: str) -> Path:
    """`convert stream` of the real EN/JA pair with every group filtered out (exit 0)."""
    out = folder / name
    done = run_cli(
        "stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "--where", "instruction=no-such-text",
        "-o", out, "-q",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_a_parquet_file_without_rows_is_empty_like_an_empty_array(tmp_path: Path) -> None:
    outputs = [filtered_out(tmp_path, name) for name in ("none.json", "none.parquet")]
    assert pq.ParquetFile(outputs[1]).metadata.num_rows == 0
    done = run_cli("validate", *outputs, "--quiet")
    assert done.returncode == 1
    assert done.stdout.decode().splitlines() == [
        f"{outputs[0]}: empty: the array holds no records",
        f"{outputs[1]}: empty: the Parquet file holds no rows",
    ]
    report = json.loads(run_cli("validate", outputs[1], "-f", "json").stdout)
    assert (report["exit_status"], report["by_kind"]) == (1, {"empty": 1})
    assert report["files"][0]["status"] == "empty"
