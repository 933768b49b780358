"""Robustness of ``convert stream``: bad input, faults and signals.

Every fatal case must give exactly one ``convert: error: ...`` line naming the file (and the
position where there is one), exit status 3 (130/143 for signals), no traceback and nothing
written — no output, no rejects, no report, no temporary file. Every non-fatal case must reject
whole groups with their reasons, write the rest, and account for every record it read.

Most cases run the CLI's ``main()`` in-process (the same function the console script calls,
~50x faster than a subprocess); faults that need a real process (signals, pipes, /dev/full,
memory limits) run ``python -m converter``.
"""

from __future__ import annotations

import codecs
import datetime
import decimal
import errno
import gzip
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import ALPACA_EN, ALPACA_JA, SEED_DIR, SHARED, read_all, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import converter.readers
from converter.cli import main
from converter.errors import ConverterError
from converter.inputs import open_input
from converter.output import commit_all, open_output
from converter.pipeline import StreamJob, run_stream
from converter.readers import read_items

SUITE = SHARED / "jsontestsuite" / "test_parsing"
SEED_EN = SEED_DIR / "seed_tasks.en.jsonl"
SEED_JA = SEED_DIR / "seed_tasks_jp_cleaned.ja.jsonl"
EN = ALPACA_EN.read_bytes()
JA = ALPACA_JA.read_bytes()
EN_RECORDS: list[dict[str, Any]] = json.loads(EN)
POSITION = re.compile(r"line (\d+), column (\d+) \(byte (\d+)\)")


@dataclass
class Run:
    """One CLI run: exit status, stderr, and the folder it ran in."""

    status: int
    err: str
    folder: Path


@pytest.fixture
def convert(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run ``convert ARGS`` in-process in ``tmp_path``; give back status and stderr."""
    monkeypatch.chdir(tmp_path)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def run(*args: str | Path) -> Run:
        with pytest.raises(SystemExit) as exited:
            main([str(a) for a in args])
        return Run(int(exited.value.code or 0), capsys.readouterr().err, tmp_path)

    yield run
    for number, handler in handlers.items():
        signal.signal(number, handler)


def put(folder: Path, name: str, data: bytes | list[Any]) -> Path:
    """Write an input file (a list is written as a JSON array)."""
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else orjson.dumps(data))
    return path


def stream(
    convert: Callable[..., Run],
    en: bytes | list[Any],
    ja: bytes | list[Any] = JA,
    *extra: str,
    suffix: str = ".json",
) -> Run:
    """In the current folder: ``convert stream en=en.json ja=ja.json -o out.json --report
    report.json EXTRA`` (``.jsonl`` names with ``suffix=".jsonl"``)."""
    put(Path.cwd(), "en" + suffix, en)
    put(Path.cwd(), "ja" + suffix, ja)
    args = [f"en=en{suffix}", f"ja=ja{suffix}", "-o", "out.json", "--report", "report.json"]
    return convert("stream", *args, *extra)


def fatal(run: Run, *names: str, status: int = 3) -> str:
    """Assert one clean error line, the exit status and that nothing was written."""
    assert run.status == status, run.err
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("convert: "), run.err
    assert "Traceback" not in run.err
    for name in names:
        assert name in lines[0], lines[0]
    nothing_written(run.folder)
    return lines[0]


def nothing_written(folder: Path) -> None:
    """No output, rejects, report or temporary file in ``folder`` (inputs are en.*/ja.*)."""
    written = [p.name for p in folder.iterdir() if not p.name.startswith(("en.", "ja."))]
    assert written == [], written


def position(line: str, data: bytes) -> int:
    """The byte offset an error line names, after checking its line and column agree."""
    found = POSITION.search(line)
    assert found, line
    line_no, column, offset = map(int, found.groups())
    assert line_no == data[:offset].count(b"\n") + 1, line
    assert column == offset - (data.rfind(b"\n", 0, offset) + 1) + 1, line
    return offset


def reconciled(folder: Path) -> dict[str, Any]:
    """Load the run's report and check read = written + rejected + unpaired for every source."""
    report = json.loads((folder / "report.json").read_bytes())
    for source in report["sources"]:
        assert source["reconciles"] is True, source
        assert source["read"] == source["written"] + source["rejected"] + source["unpaired"]
    return report


def value_at(data: bytes, index: int, key: bytes = b"instruction") -> int:
    """Offset of the first character of record ``index``'s ``key`` string value."""
    at = -1
    for _ in range(index + 1):
        at = data.index(b'"' + key + b'": "', at + 1)
    return at + len(key) + 5


def insert(data: bytes, at: int, text: bytes) -> bytes:
    """``data`` with ``text`` inserted at ``at``."""
    return data[:at] + text + data[at:]


# --- malformed JSON arrays: fatal, with the exact position ---------------------------------

AT = value_at(EN, 3)
KEY_AT = AT - len(b'"instruction": "')
MALFORMED = {
    "trailing-garbage": (EN.rstrip() + b" xyz", len(EN.rstrip()) + 1, "trailing garbage"),
    "control-character": (insert(EN, AT, b"\x01"), AT, "control character 0x01"),
    "raw-newline-in-string": (insert(EN, AT, b"\n"), AT, "control character 0x0A"),
    "nan": (insert(EN, KEY_AT, b'"x": NaN, '), KEY_AT + 5, "JSON has no NaN or Infinity"),
    "infinity": (insert(EN, KEY_AT, b'"x": Infinity, '), KEY_AT + 5, "JSON has no NaN"),
    "minus-infinity": (insert(EN, KEY_AT, b'"x": -Infinity, '), KEY_AT + 5, "JSON has no NaN"),
    "invalid-escape": (insert(EN, AT, b"\\q"), AT, "'\\' occurs before a character"),
    "invalid-utf8": (insert(EN, AT, b"\xff"), AT, "not valid UTF-8: byte 0xFF"),
    "huge-integer": (
        insert(EN, KEY_AT, b'"id": 123456789012345678901, '),
        KEY_AT + 6,
        "number 123456789012345678901 is too large",
    ),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_array_is_fatal_at_its_position(convert, case: str) -> None:
    data, offset, what = MALFORMED[case]
    line = fatal(stream(convert, data), "en=en.json: ", what)
    assert position(line, data) == offset


def test_an_array_cut_inside_a_character_is_truncated_not_legacy_encoded(convert) -> None:
    """The real JA array cut after the first byte of a three-byte character: truncated JSON at
    that byte, not "not valid UTF-8 ... Latin-1?"."""
    cut = JA.index("翻".encode()) + 1
    line = fatal(
        stream(convert, EN, JA[:cut]),
        "ja=ja.json",
        "truncated JSON (the input ends inside a character)",
    )
    assert position(line, JA) == cut - 1


def test_a_json_lines_file_cut_inside_a_character_rejects_its_last_line_as_truncated(
    tmp_path: Path,
) -> None:
    lines = [orjson.dumps(r) for r in json.loads(JA)[:3]]
    cut = lines[2].index("。".encode()) + 1
    (tmp_path / "ja.jsonl").write_bytes(b"\n".join(lines)[: -len(lines[2]) + cut])
    items, error = read_all(tmp_path / "ja.jsonl")
    assert error is None and [item[2] for item in items[:2]] == [None, None]
    assert items[2][1:] == (3, f"invalid JSON: line 3, column {cut}: truncated (the input "
                            "ends inside a character)")  # fmt: skip


# --- the array reader's orjson slices hand over to the event reader at the exact byte -------


SLICES = [64, 700, 5000]


@pytest.mark.parametrize("slice_size", SLICES)
@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_array_is_placed_exactly_after_many_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, slice_size: int
) -> None:
    data, offset, what = MALFORMED[case]
    path = tmp_path / "en.json"
    path.write_bytes(data)
    _, slow = read_all(path, "item")  # the event reader alone
    monkeypatch.setattr(converter.readers, "SLICE", slice_size)
    _, fast = read_all(path)
    assert fast is not None and what in fast
    assert position(fast, data) == offset
    assert fast == slow


def nested(levels: int) -> bytes:
    return b"[" * levels + b"1" + b"]" * levels


CODE_RECORDS = [{"instruction": "f({a: 1}, 2)", "input": "},{" * 40, "output": '"},"'}] * 30
ODD_ARRAYS = {
    "real": EN,
    "cuts-in-strings": json.dumps(CODE_RECORDS).encode(),
    "pretty-cuts-in-strings": json.dumps(CODE_RECORDS, indent=2).encode(),
    "lone-surrogate": insert(EN, value_at(EN, 40), b"\\ud800"),
    "escaped-backslash-before-u": insert(EN, value_at(EN, 40), b"\\\\ud800"),
    "deep-but-allowed": insert(EN, KEY_AT + 3000, b'"x": ' + nested(63) + b", "),
    "too-deep": insert(EN, value_at(EN, 60) - 16, b'"x": ' + nested(64) + b", "),
    "float-like-big-integer": insert(EN, value_at(EN, 20) - 16, b'"x": 1e19, '),
    "uint64": insert(EN, value_at(EN, 20) - 16, b'"x": 18446744073709551615, '),
    "scalars-and-arrays": b'[1, "two", [3, {"four": 4}], {"five": [5]}, null, true, -0.5e3]',
    "spaces": b'[ {"a": "b"} ,\t{"c": "d"}\r\n, {"e": {}} ]  \n',
    "trailing-comma": EN.rstrip()[:-1].rstrip() + b",\n]",
    "empty": b"[ ]",
    "two-arrays": EN.rstrip() + b" []",
    "form-feed": EN.rstrip()[:-1] + b"\x0c]",
}


@pytest.mark.parametrize("slice_size", [*SLICES, 1 << 20])
@pytest.mark.parametrize("case", ODD_ARRAYS, ids=list(ODD_ARRAYS))
def test_array_slices_read_what_the_event_reader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, slice_size: int
) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(ODD_ARRAYS[case])
    slow_items, slow = read_all(path, "item")
    monkeypatch.setattr(converter.readers, "SLICE", slice_size)
    items, fast = read_all(path)
    if case == "too-deep":  # the byte range named depends on the chunks read
        assert slow and fast and "nested deeper than 64 levels" in fast
        return
    assert (items, fast) == (slow_items, slow)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(st.sampled_from('ab},{[]"\\\n\x00é語\ud800')),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)
DAMAGE = st.sampled_from(
    [b"", b"{", b"}", b",", b'"', b"\\", b"\n", b"\x00", b"\xff", b"]", b"\x0c"]
)


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(JSON_VALUES, max_size=12),
    indent=st.sampled_from([None, 2]),
    damage=DAMAGE,
    where=st.floats(0, 1),
    slice_size=st.integers(1, 400),
)
def test_array_slices_read_what_the_event_reader_reads_on_random_damage(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[Any],
    indent: int | None,
    damage: bytes,
    where: float,
    slice_size: int,
) -> None:
    text = json.dumps(records, indent=indent, ensure_ascii=False).encode("utf-8", "surrogatepass")
    at = int(where * len(text))
    path = tmp_path_factory.mktemp("fuzz") / "in.json"
    path.write_bytes(text[:at] + damage + text[at:] if damage else text[:at])
    if path.read_bytes().lstrip()[:1] != b"[":
        return
    expected = read_all(path, "item")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(converter.readers, "SLICE", slice_size)
        assert unplaced(read_all(path)) == unplaced(expected)


PLACE = re.compile(r"line \d+, column \d+ \(byte \d+\)|between bytes \d+ and \d+")


def unplaced(read: tuple[list[Any], str | None]) -> tuple[list[Any], str | None]:
    """``read`` without the position in its error. Positions are checked exactly where they
    are unambiguous (MALFORMED); here the chunks differ (they start where the event reader took
    over), and an error yajl gives no context for (a NUL byte) is named "between bytes" of the
    chunk it failed in."""
    items, error = read
    return items, error and PLACE.sub("<position>", error)


def test_text_holding_cuts_stays_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "code.json"
    path.write_bytes(json.dumps(CODE_RECORDS * 20, indent=2).encode())
    monkeypatch.setattr(converter.readers, "SLICE", 2000)
    monkeypatch.setattr(converter.readers, "event_items", None)  # not called
    items, error = read_all(path)
    assert error is None and [value for value, _, _ in items] == CODE_RECORDS * 20


def test_jsonl_blocks_keep_line_numbers_and_bad_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [orjson.dumps(r) for r in EN_RECORDS[:40]]
    lines[5] = b"   "
    lines[9] = b'{"instruction": "cut'
    lines[12] = b""
    lines[20] = orjson.dumps({"long": "x" * 3000})
    lines[30] = lines[30] + b"\r"
    data = b"\n".join(lines)  # no newline at the end
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    expected = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            value = None if number == 10 else orjson.loads(line)
            expected.append((value, number))
    for slice_size in SLICES:
        monkeypatch.setattr(converter.readers, "SLICE", slice_size)
        items, error = read_all(path)
        assert error is None
        assert [(value, line) for value, line, _ in items] == expected
        assert [(line, e) for _, line, e in items if e] == [
            (10, "invalid JSON: line 10, column 21: unexpected control character in string")
        ]


def test_truncated_array_names_the_end_of_input(convert) -> None:
    data = EN[: value_at(EN, 5) + 20]
    line = fatal(stream(convert, data), "en=en.json: ", "truncated JSON")
    assert f"end of input (byte {len(data)})" in line


def test_latin1_array_is_reported_as_not_utf8(convert) -> None:
    records = [dict(r) for r in EN_RECORDS[:5]]
    records[2]["instruction"] = "Recommend a café for breakfast."
    data = json.dumps(records, ensure_ascii=False, indent=2).encode("latin-1")
    line = fatal(stream(convert, data, JA, "--limit", "5"), "en=en.json", "not valid UTF-8")
    assert "Latin-1" in line
    assert position(line, data) == data.index("é".encode("latin-1"))


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("bom", [True, False], ids=["bom", "no-bom"])
def test_utf16_and_utf32_are_named(convert, codec: str, bom: bool) -> None:
    boms = {
        "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE,
        "utf-32-be": codecs.BOM_UTF32_BE,
    }
    data = (boms[codec] if bom else b"") + EN.decode().encode(codec)
    width, order = codec.split("-")[1:]
    name = f"UTF-{width} ({'little' if order == 'le' else 'big'}-endian)"
    fatal(stream(convert, data), "en=en.json", name, "UTF-8 only")


def test_utf8_bom_is_accepted(convert) -> None:
    plain = stream(convert, EN)
    expected = (plain.folder / "out.json").read_bytes()
    with_bom = stream(convert, codecs.BOM_UTF8 + EN)
    assert (with_bom.status, plain.status) == (0, 0)
    assert (with_bom.folder / "out.json").read_bytes() == expected


# --- wrong shapes --------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"42", b'"text"', b"true", b"null", b"-1.5"])
def test_top_level_scalar_is_fatal(convert, data: bytes) -> None:
    fatal(stream(convert, data), "en=en.json: byte 0: ", "not a record container")


def wrapped(records: list[Any], pretty: bool) -> bytes:
    """``{"meta": ..., "data": records}`` as one line or pretty-printed over many."""
    document = {"meta": {"source": "test"}, "data": records}
    return json.dumps(document, ensure_ascii=False, indent=2 if pretty else None).encode()


@pytest.mark.parametrize("pretty", [True, False], ids=["pretty", "one-line"])
def test_wrapped_array_suggests_items_path(convert, pretty: bool) -> None:
    fatal(stream(convert, wrapped(EN_RECORDS, pretty)), "en=en.json", "--items-path data.item")


@pytest.mark.parametrize("pretty", [True, False], ids=["pretty", "one-line"])
def test_items_path_streams_a_wrapped_array(convert, pretty: bool) -> None:
    plain = stream(convert, EN)
    expected = (plain.folder / "out.json").read_bytes()
    run = stream(convert, wrapped(EN_RECORDS, pretty), JA, "--items-path", "en=data.item")
    assert run.status == plain.status == 0, run.err
    assert (run.folder / "out.json").read_bytes() == expected
    both = stream(
        convert,
        wrapped(EN_RECORDS, pretty),
        wrapped(json.loads(JA), pretty),
        "--items-path",
        "data.item",
    )
    assert both.status == 0, both.err
    assert (both.folder / "out.json").read_bytes() == expected
    reconciled(both.folder)


def test_items_path_that_matches_nothing_names_the_array_there(convert) -> None:
    """The hint names the top-level key that holds an array (here data, not rows)."""
    fatal(
        stream(convert, wrapped(EN_RECORDS, True), JA, "--items-path", "en=rows.item"),
        "en=en.json",
        "--items-path rows.item matches nothing in this file "
        "(an array at 'data' is read with data.item)",
    )


@pytest.mark.parametrize(
    ("document", "hint"),
    [
        (b'{"data": {"x": 1}}', "no top-level key --items-path can name holds an array)"),
        (b'{"a.b": [1], "": [2]}', "no top-level key --items-path can name holds an array)"),
        (b'{"rows": [1]}\n{"rows": [2]}', "an array at 'rows' is read with rows.item)"),
        (b'[{"instruction": "a"}]', "the file is an array: its records are read without"),
        (b'{"a": [1], "b": {"c": [2]}, "d": []}', "an array at 'a' is read with a.item; an array"),
    ],
    ids=["object-of-objects", "unnamable-keys", "json-lines", "top-level-array", "two-arrays"],
)
def test_items_path_that_matches_nothing_says_what_is_there(
    convert, document: bytes, hint: str
) -> None:
    """data.item on a file that has no array there: the hint says what the top level holds
    (it used to say "no array is there" even of a top-level array)."""
    fatal(
        stream(convert, document, JA, "--items-path", "en=data.item"),
        "en=en.json",
        f"--items-path data.item matches nothing in this file ({hint}",
    )


def test_items_path_for_an_unknown_source_is_a_usage_error(convert) -> None:
    run = stream(convert, EN, JA, "--items-path", "zh=data.item")
    assert (run.status, run.err) == (
        2,
        "convert: error: --items-path names 'zh', which is not a source\n",
    )
    nothing_written(run.folder)


# --- groups rejected whole, with reasons; the rest written; everything accounted for ------


def edited(records: list[Any], edits: dict[int, Callable[[dict[str, Any]], Any]]) -> list[Any]:
    """A copy of ``records`` with record ``i`` replaced by ``edits[i](record)``."""
    return [edits[i](dict(r)) if i in edits else r for i, r in enumerate(records)]


def jsonl_with(path: Path, edits: dict[int, Callable[[bytes], bytes]]) -> bytes:
    """The lines of ``path`` with line ``i`` (0-based) replaced by ``edits[i](line)``."""
    lines = path.read_bytes().splitlines(keepends=True)
    return b"".join(edits[i](line) if i in edits else line for i, line in enumerate(lines))


def without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda r: {k: v for k, v in r.items() if k != key}


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda r: {**r, key: value}


def latin1_line(line: bytes) -> bytes:
    return line.decode().replace('"instruction": "', '"instruction": "Café: ', 1).encode("latin-1")


LATIN1_COLUMN = latin1_line(SEED_EN.read_bytes().splitlines()[3]).index(b"\xe9") + 1


# name -> (EN data, JA data, suffix, {rejected index: reason in the EN rejects line})
REJECTED: dict[str, tuple[Any, Any, str, dict[int, str]]] = {
    "not-objects": (
        edited(
            EN_RECORDS, {2: lambda r: 42, 5: lambda r: "text", 7: lambda r: None, 9: lambda r: [r]}
        ),
        JA,
        ".json",
        {
            2: "record is a number, not an object",
            5: "record is a string, not an object",
            7: "record is null, not an object",
            9: "record is an array, not an object",
        },
    ),
    "bad-fields": (
        edited(
            EN_RECORDS,
            {
                1: without("output"),
                4: setting("input", None),
                6: setting("instruction", 7),
                8: setting("output", ["a"]),
            },
        ),
        JA,
        ".json",
        {
            1: "missing field 'output'",
            4: "field 'input' is null, not a string",
            6: "field 'instruction' is a number, not a string",
            8: "field 'output' is an array, not a string",
        },
    ),
    "lone-surrogate-array": (
        insert(EN, value_at(EN, 3), b"\\ud800"),
        JA,
        ".json",
        {3: "lone surrogate: \\ud800 at line"},
    ),
    "lone-low-surrogate-array": (
        insert(EN, value_at(EN, 6), b"\\uDC00x"),
        JA,
        ".json",
        {6: "lone surrogate: \\uDC00 at line"},
    ),
    "corrupt-jsonl-line": (
        jsonl_with(SEED_EN, {9: lambda line: line[:60] + b"\n"}),
        SEED_JA.read_bytes(),
        ".jsonl",
        {9: "invalid JSON: line 10, column"},
    ),
    "corrupt-first-jsonl-line": (  # told from pretty-printed JSON by the lines after it
        jsonl_with(SEED_EN, {0: lambda line: line[:60] + b"\n"}),
        SEED_JA.read_bytes(),
        ".jsonl",
        {0: "invalid JSON: line 1, column"},
    ),
    "corrupt-first-line-no-final-newline": (  # the whole file read to tell: its last line too
        b'{"instruction": "a", "input": "", "output": "b"\n'
        b'{"instruction": "c", "input": "", "output": "d"}',
        b'{"instruction": "x", "input": "", "output": "y"}\n'
        b'{"instruction": "z", "input": "", "output": "w"}\n',
        ".jsonl",
        {0: "invalid JSON: line 1, column"},
    ),
    "corrupt-long-first-line-no-final-newline": (  # the first line read past the first block
        b'{"instruction": "' + b"x" * 70_000 + b'", "inpu\n'
        b'{"instruction": "c", "input": "", "output": "d"}',
        b'{"instruction": "x", "input": "", "output": "y"}\n'
        b'{"instruction": "z", "input": "", "output": "w"}\n',
        ".jsonl",
        {0: "invalid JSON: line 1, column"},
    ),
    "lone-surrogate-jsonl": (
        jsonl_with(
            SEED_EN,
            {4: lambda line: line.replace(b'"instruction": "', b'"instruction": "\\ud800', 1)},
        ),
        SEED_JA.read_bytes(),
        ".jsonl",
        {4: "lone surrogate: \\ud800 at line 5"},
    ),
    "latin1-jsonl-line": (
        jsonl_with(SEED_EN, {3: latin1_line}),
        SEED_JA.read_bytes(),
        ".jsonl",
        {3: f"not valid UTF-8: line 4, column {LATIN1_COLUMN}: byte 0xE9; is the file Latin-1"},
    ),
}


@pytest.mark.parametrize("case", REJECTED, ids=list(REJECTED))
def test_bad_records_reject_their_group_and_the_rest_goes_through(convert, case: str) -> None:
    en, ja, suffix, expected = REJECTED[case]
    run = stream(convert, en, ja, suffix=suffix)
    assert run.status == 1, run.err
    assert "Traceback" not in run.err
    lines = [
        orjson.loads(x) for x in (run.folder / "out.json.rejects.jsonl").read_bytes().splitlines()
    ]
    assert sorted({line["index"] for line in lines}) == sorted(expected)
    for line in lines:
        assert {"source", "lang", "index", "reasons"} <= line.keys()
        assert ("raw" in line) != ("record" in line)
        if line["lang"] == "en":
            assert line["source"] == "en" + suffix
            assert expected[line["index"]] in line["reasons"][0], line["reasons"]
        else:
            assert line["reasons"][0].startswith("partner rejected: en: "), line
    if suffix == ".jsonl":  # the raw line, as read, for lines that did not parse
        raw_lines = [line for line in lines if "raw" in line]
        assert len(raw_lines) == len(expected)
        source_lines = en.splitlines()
        for line in raw_lines:
            assert line["raw"] == source_lines[line["index"]].decode("utf-8", "backslashreplace")
    written = orjson.loads((run.folder / "out.json").read_bytes())
    n = len(orjson.loads(ja) if suffix == ".json" else ja.splitlines())
    assert [r["seq"] for r in written[::2]] == [f"{i}EN" for i in range(n) if i not in expected]
    report = reconciled(run.folder)
    kept, rejected = n - len(expected), len(expected)
    assert report["groups"] == {
        "read": n,
        "written": kept,
        "rejected": rejected,
        "filtered": 0,
        "skipped": 0,
    }


def test_extra_keys_become_tags_and_are_counted(convert) -> None:
    records = edited(EN_RECORDS, {i: setting("id", i) for i in range(3)})
    records = [{**r, "category": "seed"} for r in records]
    run = stream(convert, records)
    assert run.status == 0, run.err
    report = reconciled(run.folder)
    assert report["sources"][0]["dropped_keys"] == {"category": 175, "id": 3}
    assert report["sources"][1]["dropped_keys"] == {}
    kept = stream(convert, records, JA, "--keep-tags")
    rows = orjson.loads((kept.folder / "out.json").read_bytes())
    assert rows[0]["tags"] == {"id": 0, "category": "seed"}
    assert rows[6]["tags"] == {"category": "seed"}
    assert reconciled(kept.folder)["sources"][0]["dropped_keys"] == {}


# --- extreme values ------------------------------------------------------------------------


def limited_memory(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


@pytest.mark.parametrize(
    "name", ["n_structure_100000_opening_arrays.json", "n_structure_open_array_object.json"]
)
def test_deep_nesting_fails_fast_in_little_memory(tmp_path: Path, name: str) -> None:
    # ijson.items() needs over 4 GB on these files; the address space here is 1 GiB.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "converter",
            "stream",
            f"en={SUITE / name}",
            f"ja={ALPACA_JA}",
            "-o",
            tmp_path / "out.json",
        ],
        capture_output=True,
        timeout=30,
        preexec_fn=limited_memory(1 << 30),
        env={**os.environ, "CONVERTER_LOAD_PLUGINS": ""},
    )
    fatal(Run(proc.returncode, proc.stderr.decode(), tmp_path), name, "nested deeper than 64")


def test_very_long_strings_go_through(tmp_path: Path, checks_off_args: list[str]) -> None:
    long_en = "All work and no play. " * 2_300_000  # 50.6 MB
    long_ja = "仕事ばかりで遊ばない。" * 600_000
    put(tmp_path, "en.json", [{"instruction": "Repeat.", "input": long_en, "output": "ok"}])
    put(
        tmp_path,
        "ja.jsonl",
        orjson.dumps({"instruction": "繰り返す。", "input": long_ja, "output": "はい"}) + b"\n",
    )
    proc = run_cli(
        "stream", "en=en.json", "ja=ja.jsonl", "-o", "out.jsonl", *checks_off_args, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    en_row, ja_row = map(orjson.loads, (tmp_path / "out.jsonl").read_bytes().splitlines())
    assert en_row["input"] == long_en and ja_row["input"] == long_ja


def test_json_lines_integers_beyond_64_bits_are_read_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """orjson reads an integer longer than 64 bits as a float; such a line is read again
    exactly, so a kept tag that JSON output cannot hold rejects its record with the number
    intact in the rejects file, instead of writing 1.8446744073709552e+19. A float stays one."""
    big, bigger = 18446744073709551616, -12345678901234567890123
    lines = [
        b'{"instruction": "a", "input": "", "output": "b", "n": 1e20}',
        b'{"instruction": "c", "input": "", "output": "d", "n": %d, "m": [[%d]]}' % (big, bigger),
        b'{"instruction": "e", "input": "", "output": "f", "n": 18446744073709551615}',
    ]
    path = tmp_path / "en.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for block in (64, 1 << 16):  # a block of lines at a time, and the whole file in one
        monkeypatch.setattr(converter.readers, "SLICE", block)
        items, fatal_error = read_all(path)
        assert fatal_error is None
        assert [value["n"] for value, _, _ in items] == [1e20, big, (1 << 64) - 1]
        assert type(items[0][0]["n"]) is float and items[1][0]["m"] == [[bigger]]
    done = run_cli("stream", f"en={path}", "--keep-tags", "-o", tmp_path / "out.jsonl")
    assert done.returncode == 1, done.stderr
    written = [orjson.loads(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert [row["tags"]["n"] for row in written] == [1e20, (1 << 64) - 1]
    (rejected,) = map(json.loads, (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines())
    assert rejected["line"] == 2 and rejected["record"]["n"] == big
    assert rejected["reasons"] == ["cannot encode: en: Integer exceeds 64-bit range"]


@pytest.mark.parametrize(("levels", "options"), [(1000, ()), (1020, ("--keep-tags",))])
def test_a_json_lines_record_nested_a_thousand_levels_is_rejected_alone(
    tmp_path: Path, levels: int, options: tuple[str, ...]
) -> None:
    """orjson reads 1,024 levels: such a record (null output, or a kept tag too deep to write)
    goes to the rejects file whole, its partner with it; the other group is written."""
    en = b'{"instruction":"Say hi","input":"","output":"Hello"}\n' * 2
    output = b"null" if not options else b'"x"'
    deep = b"[" * levels + b"]" * levels
    ja = b'{"instruction":"a","input":"","output":"b"}\n'
    ja += b'{"instruction":"c","input":"","output":%s,"x":%s}\n' % (output, deep)
    (tmp_path / "en.jsonl").write_bytes(en)
    (tmp_path / "ja.jsonl").write_bytes(ja)
    out = tmp_path / "out.jsonl"
    done = run_cli(
        "stream", "en=en.jsonl", "ja=ja.jsonl", "-o", out, "--check", "all=off", *options,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr.decode()
    assert len(out.read_bytes().splitlines()) == 2
    en_line, ja_line = map(orjson.loads, Path(f"{out}.rejects.jsonl").read_bytes().splitlines())
    assert (en_line["index"], ja_line["index"], ja_line["line"]) == (1, 1, 2)
    depth, value = 0, ja_line["record"]["x"]
    while value:
        depth, value = depth + 1, value[0]
    assert depth == levels - 1  # the innermost array is empty


def test_json_test_suite_never_crashes_the_readers() -> None:
    # Known leniencies: yajl takes a form feed as whitespace; a '{'-first file holding two
    # values is read as concatenated JSON (the string is then rejected as not an object).
    lenient = {
        "n_structure_whitespace_formfeed.json",
        "n_structure_object_with_trailing_garbage.json",
    }
    for path in sorted(SUITE.iterdir()):
        started = time.perf_counter()
        try:
            source = open_input(path.name, str(path))
            try:
                items = list(read_items(source))
            finally:
                source.close()
        except ConverterError as exc:
            assert str(exc).startswith(path.name), exc
            items = None
        assert time.perf_counter() - started < 5, path.name
        if path.name.startswith("n_") and path.name not in lenient:
            assert items is None or any(item.error for item in items), path.name


# --- empty files and unequal counts --------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b"", b" \n\t\r\n", codecs.BOM_UTF8], ids=["empty", "spaces", "bom"]
)
def test_empty_file_is_fatal(convert, data: bytes) -> None:
    line = fatal(stream(convert, data), "en=en.json: ")
    assert "empty file" in line or "only whitespace" in line


def test_empty_arrays_give_an_empty_output(convert) -> None:
    run = stream(convert, b"[]", b"[ ]\n")
    assert run.status == 0, run.err
    assert (run.folder / "out.json").read_bytes() == b"[]"
    assert reconciled(run.folder)["groups"]["read"] == 0


def test_unequal_counts_name_the_shorter_file(convert) -> None:
    short_ja = json.loads(JA)[:100]
    line = fatal(stream(convert, EN, short_ja), "ja=ja.json: ends after 100 records")
    assert "en=en.json" in line and "--unequal shortest" in line


def test_unequal_counts_after_a_repair_count_the_records_not_the_groups(convert) -> None:
    """JA lost records 100-101 and its last; --realign repairs a shift by two at 100 (two gap
    groups), so the sources part after 174 groups: JA's 172 records, and --limit 174 pairs
    what there is; the line says groups (it said "ends after 172 records ... pair the first
    174", an outside review's finding)."""
    ja = json.loads(JA)
    del ja[100:102]
    ja.pop()
    line = fatal(stream(convert, EN, ja, "--realign"), "ja=ja.json: ends after 172 records")
    assert line.endswith("pair the first 174 groups with --unequal shortest (or --limit 174)")


def test_unequal_shortest_reports_unpaired_records(convert) -> None:
    run = stream(convert, EN, json.loads(JA)[:100], "--unequal", "shortest")
    assert run.status == 0, run.err
    assert "en: 75 records left unpaired" in run.err
    en, ja = reconciled(run.folder)["sources"]
    assert (en["read"], en["written"], en["unpaired"]) == (175, 100, 75)
    assert (ja["read"], ja["written"], ja["unpaired"]) == (100, 100, 0)


# --- I/O faults ----------------------------------------------------------------------------


def test_missing_input(convert) -> None:
    put(Path.cwd(), "ja.json", JA)
    fatal(
        convert("stream", "en=en.json", "ja=ja.json", "-o", "out.json"), "en=en.json: no such file"
    )


def test_directory_as_input(convert) -> None:
    (Path.cwd() / "en.d").mkdir()
    put(Path.cwd(), "ja.json", JA)
    run = convert("stream", "en=en.d", "ja=ja.json", "-o", "out.json")
    assert run.status == 3 and run.err == "convert: error: en=en.d: is a directory, not a file\n"


def unreadable(folder: Path) -> str:
    """A path this process may not read: a chmod 000 file, or (as root) a guarded /proc file."""
    if os.geteuid() != 0:
        path = put(folder, "en.json", EN)
        path.chmod(0)
        return str(path)
    for candidate in ("/proc/1/environ", "/proc/1/mem"):
        try:
            os.close(os.open(candidate, os.O_RDONLY))
        except PermissionError:
            return candidate
        except OSError:
            continue
    pytest.skip("running as root with no unreadable file to test with")


def test_unreadable_input(convert) -> None:
    path = unreadable(Path.cwd())
    put(Path.cwd(), "ja.json", JA)
    fatal(convert("stream", f"en={path}", "ja=ja.json", "-o", "out.json"), "permission denied")


def test_output_folder_missing(convert) -> None:
    put(Path.cwd(), "en.json", EN)
    put(Path.cwd(), "ja.json", JA)
    fatal(
        convert("stream", "en=en.json", "ja=ja.json", "-o", "no/such/out.json"),
        "no/such/out.json: folder",
        "does not exist",
    )


def test_full_device_is_a_clean_error(tmp_path: Path) -> None:
    proc = run_cli(
        "stream",
        f"en={ALPACA_EN}",
        f"ja={ALPACA_JA}",
        "-o",
        "/dev/full",
        "--rejects",
        "r.jsonl",
        cwd=tmp_path,
    )
    fatal(
        Run(proc.returncode, proc.stderr.decode(), tmp_path),
        "/dev/full: cannot write: No space left on device",
    )


@pytest.mark.parametrize(
    ("command", "companion"),
    [
        (["stream", "--report"], "/dev/full"),
        (["stream", "--jobs", "2", "--report"], "/dev/full"),
        (["stream", "--dataset-info"], "/dev/zero"),
        (["run", "--report"], "/dev/full"),
        (["run", "--card"], "/dev/full"),
    ],
    ids=["report", "report-ranges", "dataset-info", "recipe-report", "recipe-card"],
)
def test_a_companion_file_that_fails_keeps_the_previous_outputs(
    tmp_path: Path, command: list[str], companion: str
) -> None:
    """The report, card and dataset_info.json go into place with the output and the rejects,
    all or none: one of them failing (a full disk; a dataset_info.json that never ends) keeps
    the earlier output and rejects file as they were."""
    (tmp_path / "ja.json").write_bytes(JA.replace(b'"output": "', b'"output": 7, "x": "', 1))
    for name in ("out.json", "out.json.rejects.jsonl"):
        (tmp_path / name).write_bytes(b"previous\n")
    sources = f"en={ALPACA_EN}", f"ja={tmp_path / 'ja.json'}"
    if command[0] == "run":
        en, ja = (source.split("=", 1)[1] for source in sources)
        stage = f'[[stage]]\nname = "a"\nsources = {{ en = "{en}", ja = "{ja}" }}\n'
        (tmp_path / "r.toml").write_text(stage)
        args = ["run", "r.toml", "-o", "out.json", *command[1:], companion]
    else:
        args = ["stream", *sources, "-o", "out.json", *command[1:], companion]
    proc = run_cli(*args, cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode in (2, 3), err
    assert len(err.splitlines()) == 1 and companion in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["ja.json", "out.json", "out.json.rejects.jsonl", *(["r.toml"] if "run" in command else [])]
    )
    assert (tmp_path / "out.json").read_bytes() == b"previous\n"
    assert (tmp_path / "out.json.rejects.jsonl").read_bytes() == b"previous\n"


def test_signals_wait_while_the_files_go_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGINT arriving while a run's files are put in place (here: as the first one is) is
    held until all of them are, then delivered: never some files placed and others not."""
    outs = [open_output(str(tmp_path / name)) for name in ("a", "b")]
    for out in outs:
        out.stream.write(b"new")
    replace = os.replace

    def interrupted(source: str, target: str) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        replace(source, target)

    monkeypatch.setattr(os, "replace", interrupted)
    with ExitStack() as stack, pytest.raises(KeyboardInterrupt):
        commit_all(stack, outs, lambda _finished: [(str(tmp_path / "report.json"), b"{}")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "report.json"]
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == b"new"


def test_a_value_json_cannot_hold_rejects_its_group_with_a_readable_line(tmp_path: Path) -> None:
    """A Parquet binary column kept as a tag cannot be written as JSON: its group goes to the
    rejects file (the value shown as Python writes it), the others are written."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = {"instruction": ["a", "b"], "input": ["", ""], "output": ["x", "y"]}
    pq.write_table(
        pa.table({**table, "blob": pa.array([b"\x00\xff", None])}), tmp_path / "en.parquet"
    )
    proc = run_cli("stream", "en=en.parquet", "--keep-tags", "-o", "out.jsonl", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert [json.loads(line)["seq"] for line in (tmp_path / "out.jsonl").open()] == ["1EN"]
    (rejected,) = map(json.loads, (tmp_path / "out.jsonl.rejects.jsonl").open())
    assert rejected["reasons"] == ["cannot encode: en: Type is not JSON serializable: bytes"]
    assert rejected["record"]["blob"] == repr(b"\x00\xff")


NOT_GZIP = "Not a gzipped file"
NOT_ZSTD = "zstd: Unable to decompress Zstandard data: Unknown frame descriptor"


@pytest.mark.parametrize(
    ("content", "suffix", "said"),
    [
        (
            b"PAR1\x15\x04" + bytes(64),
            ".json.gz",
            f"{NOT_GZIP} (b'PA'); it looks like Parquet, which converter reads from a file named "
            ".parquet",
        ),
        (
            EN,
            ".json.gz",
            f"{NOT_GZIP} (b'[\\n'); it looks like uncompressed JSON: name it without .gz",
        ),
        (
            b"\n  " + EN,
            ".json.zst",
            f"{NOT_ZSTD}; it looks like uncompressed JSON: name it without .zst",
        ),
        (
            gzip.compress(EN),
            ".json.zst",
            f"{NOT_ZSTD}; it looks gzip-compressed: name it .gz (compression is told by the suffix)",
        ),
        (b"plain text", ".json.gz", f"{NOT_GZIP} (b'pl')"),
        (
            gzip.compress(EN)[:2000],
            ".json.gz",
            "Compressed file ended before the end-of-stream marker was reached",
        ),
    ],
    ids=["parquet", "plain-gz", "plain-zst", "gzip-as-zst", "neither", "cut-short"],
)
def test_a_file_that_does_not_unpack_as_named_says_what_it_holds(
    convert, content: bytes, suffix: str, said: str
) -> None:
    """A Parquet file, plain JSON or gzip data named .gz/.zst: the decompressor's complaint,
    then what the first bytes look like (a Parquet file named .json.gz was told only "Not a
    gzipped file (b'PA')")."""
    line = fatal(stream(convert, content, content, suffix=suffix))
    assert line == f"convert: error: en=en{suffix}: cannot read: {said}"


def test_a_parquet_field_that_is_no_string_is_named_for_what_it_is(tmp_path: Path) -> None:
    """A binary instruction column and a date output column: each record is rejected naming
    the value's kind (binary data was called "a string, not a string")."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    columns = {
        "instruction": pa.array([b"hello", b"x"], pa.binary()),
        "input": ["", ""],
        "output": ["y", "z"],
    }
    pq.write_table(pa.table(columns), tmp_path / "bin.parquet")
    dated = {"instruction": ["a"], "input": [""], "output": [datetime.date(2020, 1, 2)]}
    pq.write_table(pa.table(dated), tmp_path / "date.parquet")
    priced = {"instruction": ["a"], "input": [""], "output": [decimal.Decimal("1.50")]}
    pq.write_table(pa.table(priced), tmp_path / "decimal.parquet")
    said = []
    for name in ("bin", "date", "decimal"):
        proc = run_cli("stream", f"en={name}.parquet", "-o", f"{name}.jsonl", cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        lines = (tmp_path / f"{name}.jsonl.rejects.jsonl").open()
        said.append([(r["reasons"], r["record"]) for r in map(json.loads, lines)])
    binary = ["field 'instruction' is binary data, not a string"]
    assert said[0] == [
        (binary, {"instruction": "b'hello'", "input": "", "output": "y"}),
        (binary, {"instruction": "b'x'", "input": "", "output": "z"}),
    ]
    record = {"instruction": "a", "input": "", "output": "2020-01-02"}
    assert said[1] == [(["field 'output' is a date value, not a string"], record)]
    record = {"instruction": "a", "input": "", "output": "1.50"}
    assert said[2] == [(["field 'output' is a decimal value, not a string"], record)]


@pytest.mark.parametrize(
    ("signum", "status", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_a_signal_while_the_command_starts_is_one_line(signum: int, status: int, word: str) -> None:
    """While the CLI's modules are imported (the first half second), a signal ends the command
    in one line and 130/143, not a traceback (SIGINT) or silence (SIGTERM)."""
    code = (
        "import os, time\nfrom converter.launch import answer_signals\n"
        f"answer_signals()\nos.kill(os.getpid(), {int(signum)})\ntime.sleep(10)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert (proc.returncode, proc.stderr.decode()) == (status, f"convert: {word}\n")


SWALLOWED_SIGINT = """
import os, signal, weakref

class Ghost:
    pass

ghost = Ghost()
# Python swallows what a weakref callback raises: here, what the SIGINT handler raises
watch = weakref.ref(ghost, lambda _ref: os.kill(os.getpid(), signal.SIGINT))
del ghost
"""


def test_a_signal_python_swallows_while_starting_still_stops_at_once(tmp_path: Path) -> None:
    """A SIGINT whose handler runs inside a weakref callback (as in the import machinery's
    module locks) used to be swallowed, and the run went on: it now ends the command."""
    code = "from converter.launch import answer_signals\nanswer_signals()\n" + SWALLOWED_SIGINT
    code += "print('went on')\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, b"", b"convert: interrupted\n")


def test_a_signal_python_swallows_while_running_still_stops_the_run(tmp_path: Path) -> None:
    """A plugin's code where a SIGINT's exception is swallowed: the run goes on to its end,
    then stops before its files go into place (exit 130, nothing written, one line)."""
    plugin = tmp_path / "swallowing.py"
    plugin.write_text(
        "from converter import hookimpl\n\n@hookimpl\ndef register_languages(register):\n"
        + "".join(f"    {line}\n" for line in SWALLOWED_SIGINT.strip().splitlines())
    )
    args = ["stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "-o", "out.json", "--plugin", plugin]
    proc = run_cli(*args, "--report", "r.json", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (130, b"convert: interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swallowing.py"]


def test_an_interrupted_cli_call_leaves_the_process_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``converter.cli.main`` run in-process and stopped by a swallowed SIGINT: afterwards the
    signal handlers and the unraisable hook are the caller's again, and a library run in the
    same process writes its output (the signal is not held against it)."""
    monkeypatch.chdir(tmp_path)
    plugin = tmp_path / "swallowing.py"
    plugin.write_text(
        "from converter import hookimpl\n\n@hookimpl\ndef register_languages(register):\n"
        + "".join(f"    {line}\n" for line in SWALLOWED_SIGINT.strip().splitlines())
    )
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), sys.unraisablehook
    with pytest.raises(SystemExit) as stopped:
        main(["stream", f"en={ALPACA_EN}", "-o", "cli.json", "--plugin", str(plugin)])
    assert stopped.value.code == 130 and not (tmp_path / "cli.json").exists()
    after = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), sys.unraisablehook
    assert after == before
    report, status = run_stream(StreamJob([("en", str(ALPACA_EN))], str(tmp_path / "lib.json")))
    assert status in (0, 1) and report.records_written == 175


@pytest.mark.parametrize("mode", [[], ["--jobs", "2"]], ids=["single", "ranges"])
def test_a_clean_run_replaces_an_earlier_runs_rejects_file(tmp_path: Path, mode: list[str]) -> None:
    """No stale rejects stay beside a new output: the earlier run's file at the default path is
    replaced by this run's (empty), as the report says."""
    (tmp_path / "ja.json").write_bytes(JA.replace(b'"output": "', b'"output": 7, "x": "', 1))
    args = [f"en={ALPACA_EN}", "-o", "out.json", "--report", "r.json", *mode]
    first = run_cli("stream", *args, "ja=ja.json", cwd=tmp_path)
    assert first.returncode == 1 and (tmp_path / "out.json.rejects.jsonl").stat().st_size > 0
    clean = run_cli("stream", *args, f"ja={ALPACA_JA}", cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert (tmp_path / "out.json.rejects.jsonl").read_bytes() == b""
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["rejects"] == {"path": "out.json.rejects.jsonl", "records": 0}
    (tmp_path / "rejects.jsonl").write_bytes(b"kept\n")  # stdout's default: beside nothing
    for special in ("-", "/dev/stdout", "/dev/null"):
        to_stdout = run_cli(
            "stream", *args[:1], f"ja={ALPACA_JA}", "-o", special, *mode, cwd=tmp_path
        )
        assert to_stdout.returncode == 0 and (tmp_path / "rejects.jsonl").read_bytes() == b"kept\n"


@pytest.mark.parametrize(
    "args",
    [
        ["stream", f"en={ALPACA_EN}", "-f", "template", "--template", "/dev/zero"],
        ["stream", f"en={ALPACA_EN}", "--checks-config", "/dev/zero"],
        ["run", "/dev/zero"],
    ],
    ids=["template", "checks-config", "recipe"],
)
def test_a_settings_file_that_never_ends_is_one_line(tmp_path: Path, args: list[str]) -> None:
    """A template, check configuration or recipe is read whole, but never past 16 MiB."""
    proc = run_cli(*args, "-o", "out.jsonl", cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1, err
    assert "/dev/zero" in err and "holds more than 16 MiB" in err
    assert list(tmp_path.iterdir()) == []


class FailingFile:
    """A file whose writes fail with ENOSPC once ``room`` bytes were written."""

    def __init__(self, real: Any, room: int) -> None:
        self.real, self.room = real, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_injected_write_error_keeps_the_previous_output(convert, monkeypatch) -> None:
    folder = Path.cwd()
    put(folder, "en.json", EN)
    put(folder, "ja.json", JA)
    (folder / "out.jsonl").write_bytes(b"previous good output\n")
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: FailingFile(real_fdopen(*a, **k), 50_000))
    run = convert("stream", "en=en.json", "ja=ja.json", "-o", "out.jsonl", "--format", "jsonl")
    assert run.status == 3, run.err
    assert run.err == "convert: error: out.jsonl: cannot write: No space left on device\n"
    assert sorted(p.name for p in folder.iterdir()) == ["en.json", "ja.json", "out.jsonl"]
    assert (folder / "out.jsonl").read_bytes() == b"previous good output\n"


@pytest.fixture(scope="module")
def big_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 200,000-record EN/JA JSON Lines pair (~110 MB): long enough to interrupt."""
    folder = tmp_path_factory.mktemp("big")
    texts = {
        "en": "Explain the water cycle to a child.",
        "ja": "子供に水の循環を説明してください。",
    }
    for lang, text in texts.items():
        record = {"instruction": text, "input": "", "output": text * 3}
        line = orjson.dumps(record) + b"\n"
        (folder / f"big.{lang}.jsonl").write_bytes(line * 200_000)
    return folder / "big.en.jsonl", folder / "big.ja.jsonl"


def _signals_by_default() -> None:
    """In the child: the stop signals at their defaults, whatever the test runner ignores (a
    runner started under nohup ignores SIGHUP, which converter then leaves ignored)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)


def start(tmp_path: Path, *args: str | Path, **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "converter", *map(str, args)],
        cwd=tmp_path,
        env={**os.environ, "CONVERTER_LOAD_PLUGINS": ""},
        stderr=subprocess.PIPE,
        **{"preexec_fn": _signals_by_default, **popen},
    )


def test_stdout_closed_early_stops_quietly(tmp_path: Path, big_pair: tuple[Path, Path]) -> None:
    en, ja = big_pair
    proc = start(tmp_path, "stream", f"en={en}", f"ja={ja}", stdout=subprocess.PIPE)
    assert proc.stdout is not None
    head = proc.stdout.read(100)  # like `| head -c 100`
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert len(head) == 100
    assert (proc.returncode, err) == (141, b"")  # 128 + SIGPIPE, quietly, as Unix tools end
    assert list(tmp_path.iterdir()) == []


def temporaries(folder: Path) -> Iterator[Path]:
    return folder.glob(".out.json.*.tmp")


@pytest.mark.parametrize(
    ("signum", "status", "word"),
    [
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 143, "terminated"),
        (signal.SIGHUP, 129, "hung up"),
        (signal.SIGQUIT, 131, "quit"),
    ],
    ids=["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"],
)
def test_signal_removes_the_temporary_output(
    tmp_path: Path, big_pair: tuple[Path, Path], signum: int, status: int, word: str
) -> None:
    en, ja = big_pair
    (tmp_path / "out.json").write_bytes(b"previous good output\n")
    proc = start(tmp_path, "stream", f"en={en}", f"ja={ja}", "-o", "out.json")
    deadline = time.monotonic() + 20
    while not any(temporaries(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    assert proc.poll() is None, "the run ended before the signal: make the input bigger"
    assert any(temporaries(tmp_path))
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert (proc.returncode, err.decode()) == (status, f"convert: {word}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    assert (tmp_path / "out.json").read_bytes() == b"previous good output\n"


def test_a_signal_ignored_at_start_stays_ignored(
    tmp_path: Path, big_pair: tuple[Path, Path]
) -> None:
    """`nohup convert ...` (SIGHUP ignored) and a script's background job (SIGINT ignored)
    run on through those signals."""
    en, ja = big_pair

    def ignoring() -> None:
        for signum in (signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)

    proc = start(
        tmp_path, "stream", f"en={en}", f"ja={ja}", "-o", "out.json", "-q", preexec_fn=ignoring
    )
    deadline = time.monotonic() + 20
    while not any(temporaries(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before the signal: make the input bigger"
    proc.send_signal(signal.SIGHUP)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, b"")
    assert json.loads((tmp_path / "out.json").read_bytes())


def test_an_interrupted_range_run_leaves_no_temporaries_in_its_parts_folder(
    tmp_path: Path, big_pair: tuple[Path, Path]
) -> None:
    """Ctrl-C while ranges write their parts into --parts DIR: the parts made stay (for
    --resume), the half-written ones' temporary files go."""
    en, ja = big_pair
    parts = tmp_path / "parts"
    args = ("stream", f"en={en}", f"ja={ja}", "-o", "out.jsonl", "--check", "all=off")
    proc = start(tmp_path, *args, "--jobs", "2", "--range-records", "20000", "--parts", "parts")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        parts.is_dir() and any(p.name.endswith(".tmp") for p in parts.iterdir())
    ):
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before the signal: make the input bigger"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.decode()) == (130, "convert: interrupted\n")
    assert [p.name for p in parts.iterdir() if p.name.endswith(".tmp")] == []
    assert not (tmp_path / "out.jsonl").exists()


def test_rejects_lines_orjson_cannot_write_look_like_the_others() -> None:
    """A rejected record with a lone surrogate or an integer beyond 64 bits is written by the
    stdlib encoder, compact UTF-8 as orjson writes it, only the surrogate escaped."""
    from converter.rejects import stdlib_line

    record = {"instruction": "日本\ud800", "input": "", "output": "x", "n": 10**20}
    line = stdlib_line({"lang": "ja", "record": record})
    assert line == (
        b'{"lang":"ja","record":{"instruction":"\xe6\x97\xa5\xe6\x9c\xac\\ud800","input":"",'
        b'"output":"x","n":100000000000000000000}}\n'
    )
    assert json.loads(line)["record"] == record


@pytest.mark.parametrize(
    "mode", [[], ["--jobs", "2", "--range-records", "7"]], ids=["single", "ranges"]
)
def test_json_lines_lines_are_the_files_after_leading_blank_lines(
    tmp_path: Path, mode: list[str]
) -> None:
    """Two blank lines (and a BOM) before the first record: a bad line is named by its line in
    the file, as in a JSON array, by a single run and by range mode alike."""
    good = b'{"instruction": "a", "input": "", "output": "b"}\n'
    (tmp_path / "en.jsonl").write_bytes(
        b"\xef\xbb\xbf\n\n" + good * 30 + b'{"instruction": \n' + good * 10
    )
    args = ["stream", "en=en.jsonl", "-o", "out.jsonl", "--check", "all=off", *mode]
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (rejected,) = map(json.loads, (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines())
    assert (rejected["index"], rejected["line"]) == (30, 33)
    assert rejected["reasons"][0].startswith("invalid JSON: line 33, column ")
