"""`convert validate` on the parser conformance suite (nst/JSONTestSuite, 318 files): every
n_* file is malformed or empty, every y_* file reads without a parse error, i_* never crash."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from helpers import SHARED, read_all, run_cli

import converter.readers
from converter.validate import ValidationResult, validate_files

SUITE = SHARED / "jsontestsuite" / "test_parsing"
FILES = sorted(SUITE.glob("*.json"))
PARSE_PROBLEMS = ("malformed", "empty")
POSITION = re.compile(r"\b(line \d+|byte \d+|bytes \d+)")
#: A file refused for its encoding as a whole has no position to give.
WHOLE_FILE = re.compile(r"encoded|empty file|only whitespace|no records")


@pytest.fixture(scope="module")
def suite() -> ValidationResult:
    """The whole suite in one in-process run (one plugin registry, every finding listed)."""
    return validate_files(paths=[str(p) for p in FILES], max_errors=1_000_000)


def findings_of(result: ValidationResult, path: Path) -> list[tuple[str, str]]:
    return [(f.kind, f.message) for f in result.findings if f.path == str(path)]


def test_the_suite_is_all_there() -> None:
    prefixes = [p.name[:2] for p in FILES]
    assert (prefixes.count("n_"), prefixes.count("y_"), prefixes.count("i_")) == (188, 95, 35)


def test_every_n_file_is_malformed_or_empty_with_a_position(suite: ValidationResult) -> None:
    for path, file in zip(FILES, suite.files):
        if not path.name.startswith("n_"):
            continue
        found = findings_of(suite, path)
        problems = [message for kind, message in found if kind in PARSE_PROBLEMS]
        assert problems, (path.name, found)
        for message in problems:
            assert POSITION.search(message) or WHOLE_FILE.search(message), (path.name, message)
        assert file.status in ("malformed", "empty", "invalid"), path.name  # invalid: a bad line


def test_every_y_file_reads_without_a_parse_error(suite: ValidationResult) -> None:
    verdicts = set()
    for path, file in zip(FILES, suite.files):
        if not path.name.startswith("y_"):
            continue
        kinds = {k for k, _ in findings_of(suite, path)}
        assert "malformed" not in kinds, (path.name, kinds)
        if kinds & {"not-container", "empty"}:  # a lone scalar, or an empty array
            assert file.records == 0, path.name
        else:  # arrays and objects are judged by the schema, record by record
            assert file.records >= 1 and all(k.startswith("schema/") for k in kinds), path.name
        verdicts.add(file.status)
    assert verdicts == {"invalid", "not-container", "empty"}


def test_i_files_never_crash(suite: ValidationResult) -> None:
    for path, file in zip(FILES, suite.files):
        if path.name.startswith("i_"):
            assert file.status != "unreadable", path.name
    assert suite.exit_status == 1


def test_a_lone_scalar_is_not_a_record_container(suite: ValidationResult) -> None:
    lonely = SUITE / "y_structure_lonely_int.json"
    [(kind, message)] = findings_of(suite, lonely)
    assert kind == "not-container"
    assert message.startswith("byte 0: top-level number is not a record container")


def test_yajl_leniencies_are_refused(suite: ValidationResult) -> None:
    formfeed = SUITE / "n_structure_whitespace_formfeed.json"  # "[\f]": yajl accepts it
    assert findings_of(suite, formfeed) == [
        ("malformed", "line 1, column 2 (byte 1): raw form feed (U+000C) is not JSON")
    ]
    garbage = SUITE / "n_structure_object_with_trailing_garbage.json"  # {"a": true} "x"
    assert [k for k, _ in findings_of(suite, garbage)] == ["malformed"]


def test_deep_nesting_fails_fast_in_process() -> None:
    """The 100 KB of '[' that take gigabytes through ijson's items(): a clean error at once
    (a guard against the quadratic trap, which takes seconds; not a speed claim)."""
    path = SUITE / "n_structure_100000_opening_arrays.json"
    started = time.perf_counter()
    result = validate_files(paths=[str(path)])
    assert time.perf_counter() - started < 1.0
    [(kind, message)] = [(f.kind, f.message) for f in result.findings]
    assert kind == "malformed" and "nested deeper than 64 levels" in message
    assert POSITION.search(message)


CLI_CASES = [
    ("n_structure_100000_opening_arrays.json", "malformed"),
    ("n_structure_whitespace_formfeed.json", "malformed"),
    ("n_single_space.json", "empty"),
    ("n_object_trailing_comma.json", None),  # JSON Lines: a bad line, with its column
    ("y_structure_lonely_string.json", "not-container"),
    ("y_object_basic.json", None),  # valid JSON, not a converter record
    ("i_string_UTF8_surrogate_U+D800.json", "malformed"),
    ("i_structure_500_nested_arrays.json", "malformed"),
]


def test_cli_on_conformance_files() -> None:
    """One run of the real command over a sample of the suite: one line each, no noise."""
    paths = [SUITE / name for name, _ in CLI_CASES]
    done = run_cli("validate", *paths, "--quiet")
    assert done.returncode == 1
    assert done.stderr == b""  # no traceback, no noise
    lines = done.stdout.decode().splitlines()
    for path, (_, kind) in zip(paths, CLI_CASES):
        mine = [line for line in lines if line.startswith(f"{path}:")]
        expected = f"{path}: {kind}: " if kind else f"{path}:record 0"
        assert mine and mine[-1].startswith(expected), mine


@pytest.mark.parametrize("slice_size", [3, 64, 1 << 16])
def test_array_slices_and_the_event_reader_agree_on_every_array(
    monkeypatch: pytest.MonkeyPatch, slice_size: int
) -> None:
    """orjson slices take what they can, the event reader the rest: the items, their errors
    and the fatal message are those of the event reader alone, for every array of the suite."""
    arrays = [p for p in FILES if p.read_bytes().lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"["]
    assert len(arrays) > 200
    for path in arrays:
        slow = read_all(path, "item")  # the event reader alone
        monkeypatch.setattr(converter.readers, "SLICE", slice_size)
        assert read_all(path) == slow, path.name
        monkeypatch.undo()
