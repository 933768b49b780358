"""Range-parallel ``convert stream`` on plain JSON arrays: ArrayScan (Python and compiled twins)
counts and marks an array's values as a JSON parser reads them, fed in blocks of any size, and
names the first structural break; the planner's array spans read back exactly the records (and
errors) of a whole read; ``--jobs`` on arrays writes the single run's output, rejects and report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import ALPACA_EN, ALPACA_JA, ROOT, SAMPLE_EN, SAMPLE_JA, SHARED, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_parallel import _compare

from converter.errors import EXIT_FATAL, ConverterError
from converter.inputs import open_input
from converter.kernels import NATIVE
from converter.readers import read_items
from converter.scale import plan as plan_module
from converter.scale.plan import Plan, Span, plan
from converter.scale.ranges import source_items

SUITE = SHARED / "jsontestsuite" / "test_parsing"
#: Every file of the conformance suite that starts as an array (y_, n_ and i_).
SUITE_ARRAYS = sorted(
    p for p in SUITE.glob("*.json") if p.read_bytes().lstrip(b" \t\r\n")[:1] == b"["
)
#: The Python scan and, where built, its compiled twin.
SCANS: list[Any] = [plan_module.ArrayScan] + ([NATIVE.ArrayScan] if NATIVE else [])
BLOCKS = (1, 2, 3, 7, 64)
WHITESPACE = b" \t\r\n"
BOM = b"\xef\xbb\xbf"

# -- ArrayScan -----------------------------------------------------------------------------


def scanned(
    data: bytes, every: int = 1, first: int = 0, blocks: Sequence[int] = BLOCKS
) -> tuple[int, list[tuple[int, int, int]], str | None, str | None]:
    """What the scan finds in ``data`` (index, marks, problem, unfinished), asserted the same
    for both twins and for every block size (and the whole file in one block)."""
    found = {}
    for make in SCANS:
        for block in (*blocks, max(len(data), 1)):
            scan = make(every, first)
            for at in range(0, len(data), block):
                scan.feed(data[at : at + block], at)
            found[make.__module__, block] = (
                scan.index,
                list(scan.marks),
                scan.problem,
                scan.unfinished(),
            )
    results = list(found.values())
    assert all(r == results[0] for r in results), {k: v[::2] for k, v in found.items()}
    return results[0]


def assert_counts_and_marks(
    data: bytes, every: int = 1, first: int = 0, blocks: Sequence[int] = BLOCKS
) -> int:
    """``data`` is a valid array: the scan counts its values as orjson does (the count is
    returned) and every mark is where exactly that value decodes, after a comma and whitespace."""
    values = orjson.loads(data)
    index, marks, problem, unfinished = scanned(data, every, first, blocks)
    assert (problem, unfinished) == (None, None)
    assert index - first == len(values)
    assert [m[0] for m in marks] == [i for i in range(first + 1, index) if i % every == 0]
    text, chars, done = data.decode(), 0, 0  # chars: the characters before byte ``done``
    decoder = json.JSONDecoder()
    for i, offset, cut in marks:
        chars += len(data[done:offset].decode())
        done = offset
        value, end = decoder.raw_decode(text, chars)
        assert value == values[i - first], (i, offset)
        assert text[end:].lstrip(" \t\r\n")[:1] in (",", "]"), (i, offset)  # the whole value
        assert data[cut : cut + 1] == b"," and not data[cut + 1 : offset].strip(WHITESPACE)
    return len(values)


REAL = [
    ALPACA_EN,
    ALPACA_JA,
    SAMPLE_EN,
    SAMPLE_JA,
    *sorted((SHARED / "alpaca-zh").glob("*.json")),
    *sorted((SHARED / "alpaca-ja-unpaired").glob("*.json")),
]


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
@pytest.mark.parametrize(("every", "first"), [(1, 0), (7, 0), (5, 3)])
def test_scan_real_arrays(path: Path, every: int, first: int) -> None:
    """(``first`` 3: the file's first record is record 3 of its source.)"""
    data = path.read_bytes()
    blocks = BLOCKS if len(data) < 200_000 else (3, 64, 4093)  # (the Python twin byte by byte)
    count = assert_counts_and_marks(data, every, first, blocks)
    assert count == 175 or path not in (ALPACA_EN, ALPACA_JA)


@pytest.mark.parametrize("path", SUITE_ARRAYS, ids=lambda p: p.name)
def test_scan_conformance_suite(path: Path) -> None:
    """The twins agree on every array of the suite; a valid one is counted and marked as
    orjson reads it; a break found is one orjson refuses too."""
    data = path.read_bytes()
    if path.name.startswith("y_"):
        assert_counts_and_marks(data)
        return
    _, _, problem, unfinished = scanned(data)
    if problem or unfinished:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(data)


#: Strings that hold what the scan follows: backslash runs before a quote (even: the quote
#: closes, odd: it does not), escaped quotes, \\u escapes, brackets and commas.
TRICKY = [
    rb'["\\"]',
    rb'["a\\\\", "\\\"", "\""]',
    rb'["\"\\\"", "]", ",", "[{", "}", ":"]',
    rb'["\u005c", "\\u0022", "\\/", "\ud83d\ude00"]',
    rb'[[1, [2, "]"]], {"a": "}", "b": [","]}, -1.5e+3, true, false, null, 0]',
    b'[ 1 , 2 ,3,\t"x"\r\n, [ ] ,{ }]',
]


@pytest.mark.parametrize("data", TRICKY)
def test_scan_tricky_arrays(data: bytes) -> None:
    for every, first in ((1, 0), (2, 1)):
        assert_counts_and_marks(data, every, first)


OPEN = "the array is not closed"


@pytest.mark.parametrize(
    ("name", "problem", "unfinished"),
    [
        ("n_array_1_true_without_comma", "byte 3: a value follows another without a comma", OPEN),
        ("n_array_double_comma", "byte 3: a comma where a value should be", OPEN),
        ("n_structure_open_array_comma", "byte 1: a comma where a value should be", OPEN),
        ("n_array_extra_comma", "byte 3: a comma before the array's end", None),
        ("n_array_comma_after_close", "byte 4: more after the array's end", None),
        ("n_structure_double_array", "byte 2: more after the array's end", None),
        ("n_structure_array_with_extra_array_close", "byte 3: more after the array's end", None),
        ("n_array_unclosed", None, OPEN),
        ("n_structure_array_with_unclosed_string", None, "a string runs to the end of the file"),
        ("n_string_escaped_backslash_bad", None, "a string runs to the end of the file"),
    ],
)
def test_scan_names_the_break(name: str, problem: str | None, unfinished: str | None) -> None:
    assert scanned((SUITE / f"{name}.json").read_bytes())[2:] == (problem, unfinished)


#: Strings rich in what the scan must follow: quotes, backslash runs, brackets and commas.
STRINGS = st.text(
    st.one_of(st.sampled_from('"\\\\\\[]{},: /u\n'), st.characters(codec="utf-8")), max_size=12
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(1 << 63), (1 << 63) - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    STRINGS,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(STRINGS, inner, max_size=4),
    max_leaves=10,
)
#: json.dumps layouts: compact, spaced, pretty with spaces or tabs.
LAYOUTS = st.sampled_from(
    [
        {"separators": (",", ":")},
        {"separators": (" , ", " :\t")},
        {},
        {"indent": 0},
        {"indent": 2},
        {"indent": "\t", "separators": (" ,", ": ")},
    ]
)


def dumped(values: list[Any], layout: dict[str, Any], ascii_only: bool, crlf: bool) -> bytes:
    """``values`` as a JSON array; with ``ascii_only`` non-ASCII as ``\\u`` escapes."""
    data = json.dumps(values, ensure_ascii=ascii_only, **layout).encode()
    return data.replace(b"\n", b"\r\n") if crlf else data  # (no raw newline inside strings)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(VALUES, max_size=12),
    LAYOUTS,
    st.booleans(),
    st.booleans(),
    st.integers(1, 4),
    st.integers(0, 3),
    st.integers(4, 40),
)
def test_scan_generated_arrays(
    values: list[Any],
    layout: dict[str, Any],
    ascii_only: bool,
    crlf: bool,
    every: int,
    first: int,
    block: int,
) -> None:
    assert_counts_and_marks(
        dumped(values, layout, ascii_only, crlf), every, first, blocks=(*BLOCKS, block)
    )


BREAKS = [
    "missing comma",
    "double comma",
    "leading comma",
    "trailing comma",
    "after the end",
    "curly end",
    "unclosed array",
    "unclosed string",
]
#: Whitespace between tokens (some may be none).
GAPS = st.sampled_from(["", " ", "\n", "\r\n    ", "\t"])


@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from(BREAKS), st.lists(VALUES, min_size=2, max_size=6))
def test_scan_generated_breaks(data: st.DataObject, broken: str, values: list[Any]) -> None:
    """An array built piece by piece with one structural break: both twins name it at its
    byte (or say what is unfinished), and orjson refuses the text too."""
    ascii_only = data.draw(st.booleans())
    pieces = [json.dumps(v, ensure_ascii=ascii_only).encode() for v in values]

    def gap() -> bytes:
        return data.draw(GAPS).encode()

    out, at = bytearray(b"[" + gap()), {}  # at: the byte the break is named at
    if broken == "leading comma":
        at["problem"] = len(out)
        out += b"," + gap()
    for k, piece in enumerate(pieces):
        if k == len(pieces) - 1 and broken == "missing comma":
            out += data.draw(GAPS.filter(bool)).encode()  # (1 2 is a break, 12 is a number)
            at["problem"] = len(out)
        elif k:
            out += gap() + b"," + gap()
            if k == len(pieces) - 1 and broken == "double comma":
                at["problem"] = len(out)
                out += b"," + gap()
        out += piece
    if broken == "unclosed string":
        tail = json.dumps(data.draw(STRINGS), ensure_ascii=ascii_only).encode()[:-1]
        out += b"," + gap() + tail + data.draw(st.sampled_from([b"", b"\\", b'\\"']))
    elif broken != "unclosed array":
        if broken == "trailing comma":
            at["problem"] = len(out)
            out += b"," + gap()
        out += gap()
        if broken == "curly end":
            at["problem"] = len(out)
        out += b"}" if broken == "curly end" else b"]"
        if broken == "after the end":
            out += gap()
            at["problem"] = len(out)
            out += data.draw(st.sampled_from([b"1", b"[]", b"{}", b'"s"', b",", b"]", b"x"]))
        out += gap()
    text = bytes(out)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(text)
    _, _, problem, unfinished = scanned(text, data.draw(st.integers(1, 3)))
    said = {
        "missing comma": "a value follows another without a comma",
        "double comma": "a comma where a value should be",
        "leading comma": "a comma where a value should be",
        "trailing comma": "a comma before the array's end",
        "after the end": "more after the array's end",
        "curly end": "'}' ends the array",
    }
    if broken in said:
        assert problem == f"byte {at['problem']}: {said[broken]}"
    else:
        assert problem is None
        string = broken == "unclosed string"
        assert unfinished == ("a string runs to the end of the file" if string else OPEN)


# -- the planner on arrays -----------------------------------------------------------------


def whole_items(path: Path, label: str) -> tuple[list[tuple[Any, str | None]], str | None]:
    """The items of a whole read of ``path`` (value, error) and the error that stopped it."""
    source = open_input(label, str(path))
    items: list[tuple[Any, str | None]] = []
    try:
        items.extend((item.value, item.error) for item in read_items(source))
    except ConverterError as exc:
        return items, str(exc)
    finally:
        source.close()
    return items, None


def assert_placed(span: Span) -> None:
    """A span's line and line start are those of its first byte; an array span that opens
    starts at a value after a comma, else at the ``[``; one that closes ends at a comma, else
    at the file's end."""
    data = Path(span.path).read_bytes()
    assert span.line == data.count(b"\n", 0, span.start) + 1, span
    assert span.line_start == data.rfind(b"\n", 0, span.start) + 1, span
    if span.shape != "array":
        return
    if span.opens:
        assert data[: span.start].rstrip(WHITESPACE).endswith(b","), span
    else:
        assert data[span.start : span.start + 1] == b"[", span
        assert not data[: span.start].removeprefix(BOM).strip(WHITESPACE), span
    if span.closes:
        assert data[span.end : span.end + 1] == b",", span
    else:
        assert span.end == len(data), span


def assert_ranges_read_as_whole(result: Plan, sources: Sequence[Path | Sequence[Path]]) -> None:
    """Each range's spans of each source (a file or files) read back the items of the whole
    read in [start, stop); the range where the whole read stops stops there too, with the
    same message; every span is placed (:func:`assert_placed`)."""
    for k, files in enumerate(sources):
        files = [files] if isinstance(files, Path) else files
        label = str(files[0])  # (any label: the same for both reads)
        want: list[tuple[Any, str | None]] = []
        for path in files:
            items, fatal = whole_items(path, label)
            want += items
            if fatal is not None:
                break
        if fatal is None:
            assert result.sources[k].records == len(want)
        for r in result.ranges:
            for span in r.spans[k]:
                assert_placed(span)
            got: list[tuple[Any, str | None]] = []
            try:
                got.extend((item.value, item.error) for item in source_items(label, r.spans[k]))
            except ConverterError as exc:
                assert fatal is not None and r.start <= len(want) < r.stop, exc
                assert (got, str(exc)) == (want[r.start :], fatal)
                continue
            if fatal is None or r.stop <= len(want):  # (past an error a run does not go)
                assert got == want[r.start : r.stop], r.number


@pytest.mark.parametrize(
    ("every", "scan_bytes"), [(1, 4096), (7, 97), (20, 4096), (50, 97), (175, 4096), (1000, 97)]
)
def test_plan_alpaca_arrays(every: int, scan_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module, "SCAN_BYTES", scan_bytes)  # marks, lines across blocks
    result = plan([("en", str(ALPACA_EN)), ("ja", str(ALPACA_JA))], every)
    result.check_equal()
    assert result.groups == 175 and len(result.ranges) == -(-175 // every)
    assert {f.shape for s in result.sources for f in s.files} == {"array"}
    assert_ranges_read_as_whole(result, [ALPACA_EN, ALPACA_JA])


def _alpaca() -> list[dict[str, Any]]:
    return json.loads(ALPACA_EN.read_text("utf-8"))


#: Not records among the records: scalars, nested arrays, an empty object, lone surrogates.
ODD = [1, "two", [3, [4, {"five": [5]}]], None, True, -0.5e3, {}, [], "LONE"]


def _array_file(folder: Path, shape: str) -> Path:
    """One array of another shape: compact on one line, after a BOM and blank lines, with
    non-object records (and lone surrogates) among the objects, or with a bad escape."""
    records: list[Any] = _alpaca()[:60]
    if shape == "compact":
        text = json.dumps(records, ensure_ascii=False, separators=(",", ":"))
    elif shape == "bom":
        text = "\ufeff\n\n \r\n" + json.dumps(records, ensure_ascii=False, indent="\t")
    elif shape == "odd":
        for n, odd in enumerate(ODD):
            records.insert(n * 6 + 1, odd)
        records[30]["output"] = "LONE and LONE again"
        text = json.dumps(records, ensure_ascii=False, indent=1)
    else:  # a bad escape in record 33, compact or pretty
        records[33]["output"] = "a BAD escape"
        layout = {"separators": (",", ":")} if shape == "bad escape, compact" else {"indent": 2}
        text = json.dumps(records, ensure_ascii=False, **layout).replace("BAD", "\\x")
    path = folder / f"{shape.replace(' ', '_').replace(',', '')}.json"
    path.write_text(text.replace("LONE", "\\ud800"), "utf-8")
    return path


@pytest.mark.parametrize("shape", ["compact", "bom", "odd", "bad escape, compact", "bad escape"])
@pytest.mark.parametrize(("every", "scan_bytes"), [(1, 97), (4, 4096), (11, 97)])
def test_plan_arrays_of_other_shapes(
    tmp_path: Path, shape: str, every: int, scan_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_module, "SCAN_BYTES", scan_bytes)
    path = _array_file(tmp_path, shape)
    result = plan([("x", str(path))], every)
    assert result.sources[0].files[0].shape == "array"
    if shape == "odd":
        items, _ = whole_items(path, str(path))
        assert len(items) == 60 + len(ODD) and sum(e is not None for _, e in items) == 2
    if shape.startswith("bad escape"):
        assert "line" in str(whole_items(path, str(path))[1])
    assert_ranges_read_as_whole(result, [path])


#: Bad records the scan passes (their structure holds) for the reader to place or flag.
BAD_RECORDS = [
    b"tru",
    b"01",
    b"NaN",
    b'"\\x"',
    b'"a\tb"',
    b'"\xff"',
    b'"\\u12"',
    b'{"a" 1}',
    b'{"a":1,}',
    b"[1,]",
    b"99999999999999999999999",
    b"[" * 70 + b"1" + b"]" * 70,
    b'{"a":"\\ud800"}',
]


@pytest.mark.parametrize("bad", BAD_RECORDS, ids=lambda b: b[:12].decode(errors="replace"))
def test_a_bad_record_at_a_range_edge(tmp_path: Path, bad: bytes) -> None:
    """A bad record first or last in a range (read after a stand-in [ or before a stand-in ]),
    or last in the file: the same items and error, at the same place, as the whole read."""
    for where in (0, 3, 4, 11):
        for n, (head, comma, tail) in enumerate(
            [(b"[\n  ", b",\n  ", b"\n]\n"), (b"[", b",", b"]")]
        ):
            records = [orjson.dumps({"instruction": f"i{i}", "output": "o"}) for i in range(12)]
            records[where] = bad
            path = tmp_path / f"{where}-{n}.json"
            path.write_bytes(head + comma.join(records) + tail)
            for every in (1, 4):
                assert_ranges_read_as_whole(plan([("x", str(path))], every), [path])


def test_plan_sources_of_several_files(tmp_path: Path) -> None:
    """A source of two arrays (the second's records numbered on from the first's), or of a
    JSON Lines file and an array: ranges cross from one file into the next."""
    records = [{"instruction": f"i{i}", "input": "", "output": f"o{i}"} for i in range(40)]
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.jsonl"
    a.write_text(json.dumps(records[:13], indent=2))
    b.write_text(json.dumps(records[13:], indent=1))
    c.write_text("".join(json.dumps(r) + "\n" for r in records[:13]))
    for every in (1, 4, 5, 13, 50):
        result = plan([("x", [str(a), str(b)]), ("y", [str(c), str(b)])], every)
        assert [f.first_index for f in result.sources[0].files] == [0, 13]
        assert result.groups == 40 and len(result.ranges) == -(-40 // every)
        assert_ranges_read_as_whole(result, [[a, b], [c, b]])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(VALUES, max_size=30),
    LAYOUTS,
    st.booleans(),
    st.integers(1, 7),
    st.sampled_from([7, 31, 97, 4096]),
)
def test_plan_generated_arrays(
    tmp_path: Path,
    values: list[Any],
    layout: dict[str, Any],
    crlf: bool,
    every: int,
    scan_bytes: int,
) -> None:
    path = tmp_path / "generated.json"
    path.write_bytes(dumped(values, layout, False, crlf))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plan_module, "SCAN_BYTES", scan_bytes)
        result = plan([("x", str(path))], every)
    assert result.groups == len(values)
    assert_ranges_read_as_whole(result, [path])


# -- single and parallel runs ----------------------------------------------------------------

ARRAYS = [f"en={ALPACA_EN}", f"ja={ALPACA_JA}"]


def _ranges(every: int) -> tuple[str, ...]:
    return ("--jobs", "2", "--range-records", str(every))


@pytest.mark.parametrize(
    ("every", "out"), [(20, "out.json"), (20, "out.jsonl"), (7, "out.json"), (7, "out.jsonl")]
)
def test_alpaca_arrays_in_ranges(tmp_path: Path, every: int, out: str) -> None:
    single, parallel = _compare(tmp_path, ARRAYS, out=out, parallel=_ranges(every))
    assert single == parallel
    assert single["groups"]["read"] == 175
    assert [s["shape"] for s in single["sources"]] == ["array", "array"]


def _faulty(folder: Path, where: dict[str, dict[int, Any]], indent: int | None = 4) -> list[str]:
    """Copies of the EN/JA arrays (pretty-printed as they are, or on one line) with
    ``where[lang][index]`` put in place of the record (a callable changes the record instead);
    LONE becomes a lone surrogate escape and BAD a bad escape."""
    sources = []
    for lang, path in (("en", ALPACA_EN), ("ja", ALPACA_JA)):
        records = json.loads(path.read_text("utf-8"))
        for index, fault in where.get(lang, {}).items():
            if callable(fault):
                fault(records[index])
            else:
                records[index] = fault
        text = json.dumps(records, ensure_ascii=False, indent=indent)
        text = text.replace("LONE", "\\ud800").replace("BAD", "\\x")
        (folder / f"{lang}.json").write_text(text, "utf-8")
        sources.append(f"{lang}={folder / f'{lang}.json'}")
    return sources


#: Records that are rejected, not fatal, on both sides and at range edges (20, 21 = 3 * 7,
#: 39, 63 = 9 * 7, 120 = 6 * 20, 140 = 7 * 20; past 100, read by ranges that start at a record
#: after their margins).
FAULTS: dict[str, dict[int, Any]] = {
    "en": {
        20: 42,
        39: lambda r: r.pop("output"),
        63: lambda r: r.update(instruction="a LONE surrogate"),
        120: lambda r: r.pop("instruction"),
    },
    "ja": {
        21: ["not", "an", "object"],
        40: lambda r: r.update(input=5),
        140: lambda r: r.update(output="LONE LONE"),
    },
}


@pytest.mark.parametrize(("every", "out"), [(20, "out.json"), (7, "out.jsonl")])
def test_planted_faults_in_arrays(tmp_path: Path, every: int, out: str) -> None:
    sources = _faulty(tmp_path, FAULTS)
    single, parallel = _compare(tmp_path, sources, out=out, parallel=_ranges(every))
    assert single == parallel
    assert single["groups"]["rejected"] == 7


@pytest.mark.parametrize("indent", [4, None])
def test_a_bad_escape_stops_both_runs_alike(tmp_path: Path, indent: int | None) -> None:
    """One line, exit 3, the same place (line, column, byte) in the file, pretty-printed or
    on one line (the column counted from the file's start); nothing written. The record is
    past the margins (run.MARGIN), so the ranges that meet it read from a record on, after a
    stand-in [."""
    fault = {"en": {150: lambda r: r.update(output="a BAD escape")}}
    sources = _faulty(tmp_path, fault, indent)
    said = []
    for name, extra in (("single", ()), ("parallel", _ranges(20))):
        out = tmp_path / f"{name}.jsonl"
        done = run_cli("stream", *sources, "-o", out, *extra)
        lines = done.stderr.decode().strip().splitlines()
        assert done.returncode == EXIT_FATAL and len(lines) == 1, lines
        assert not out.exists()
        said.append(lines[0])
    assert said[1] == said[0]
    data = (tmp_path / "en.json").read_bytes()
    at = data.index(b"\\x")
    line, column = data.count(b"\n", 0, at) + 1, at - data.rfind(b"\n", 0, at)
    assert said[0].startswith(
        f"convert: error: {sources[0]}: line {line}, column {column} (byte {at}): inside a string"
    ), said[0]


@pytest.mark.parametrize("where", ["after the array", "before its end", "between records"])
def test_a_form_feed_stops_both_runs_alike(tmp_path: Path, where: str) -> None:
    """A raw form feed is not JSON: the single run stops at it, and so does range mode, which
    read nothing after the last record and wrote the output (exit 0)."""
    sources = _faulty(tmp_path, {}, None)
    en = tmp_path / "en.json"
    data = en.read_bytes()
    at = {"after the array": len(data), "before its end": len(data) - 1}.get(where)
    at = data.index(b"}, {", len(data) // 2) + 1 if at is None else at
    en.write_bytes(data[:at] + b"\x0c" + data[at:])
    said = []
    for name, extra in (("single", ()), ("parallel", _ranges(20))):
        out = tmp_path / f"{name}.jsonl"
        done = run_cli("stream", *sources, "-o", out, *extra)
        lines = done.stderr.decode().strip().splitlines()
        assert done.returncode == EXIT_FATAL and len(lines) == 1, (name, lines)
        assert not out.exists()
        said.append(lines[0])
    assert said[1] == said[0]
    assert f"(byte {at}): raw form feed (U+000C) is not JSON" in said[0], said[0]


@pytest.mark.parametrize("bad", [False, True])
def test_limit_on_arrays(tmp_path: Path, bad: bool) -> None:
    """--limit 33 pairs the first 33 alike, a bad escape past them (at 100) unread by both."""
    where = {"ja": {100: lambda r: r.update(output="a BAD escape")}} if bad else {}
    sources = _faulty(tmp_path, where)
    single, parallel = _compare(tmp_path, sources, "--limit", "33", parallel=_ranges(20))
    assert single == parallel and single["groups"]["read"] == 33


def test_scan_skips_what_the_reader_skips(tmp_path: Path) -> None:
    """\\v between values is whitespace to the array reader (yajl), so to the scan: both count
    the same values. \\f is not (yajl would skip it; the reader refuses it as not JSON): a
    value the range's reader refuses as the single run does, or text after the array."""
    assert scanned(b"[1,\x0c2]")[::2] == (2, None)
    assert scanned(b"[1,2]\x0c")[2] == "byte 5: more after the array's end"
    data = b'[1,\x0b2\x0b, "a"\x0b]\x0b\n'
    assert scanned(data)[::2] == (3, None)
    path = tmp_path / "vt.json"
    path.write_bytes(data)
    source = open_input(str(path), str(path))
    try:
        assert [item.value for item in read_items(source)] == [1, 2, "a"]
    finally:
        source.close()


@pytest.mark.parametrize("make", SCANS, ids=lambda m: m.__module__)
def test_scan_stops_where_the_value_after_the_last_wanted_starts(make: Any) -> None:
    """With ``stop``, nothing past the start of value ``stop`` is read: a break after it is
    not seen, one before it is."""
    data = b'[1, "a,b", {"c": [2, 3]}, 4 5]'
    scan = make(1, 0, 3)
    scan.feed(data, 0)
    assert (scan.index, scan.full, scan.problem, scan.unfinished()) == (3, True, None, None)
    assert [m[0] for m in scan.marks] == [1, 2]
    late = make(1, 0, 5)
    late.feed(data, 0)
    assert late.problem == "byte 28: a value follows another without a comma" and not late.full
    with pytest.raises(ValueError, match="at least 1"):
        make(0, 0)


def test_limit_before_a_broken_end(tmp_path: Path) -> None:
    """An array whose structure breaks past --limit converts alike in both runs (neither reads
    that far); without --limit both refuse it."""
    sources = _faulty(tmp_path, {})
    en = Path(sources[0].split("=", 1)[1])
    en.write_bytes(en.read_bytes().rstrip()[:-1] + b"}")  # the array's "]" made a "}"
    single, parallel = _compare(tmp_path, sources, "--limit", "60", parallel=_ranges(20))
    assert single == parallel and single["groups"]["read"] == 60
    for extra in ((), _ranges(20)):
        done = run_cli("stream", *sources, "-o", tmp_path / "whole.jsonl", *extra)
        lines = done.stderr.decode().strip().splitlines()
        assert done.returncode == EXIT_FATAL and len(lines) == 1, lines


@pytest.mark.parametrize("policy", ["off", "warn"])
def test_limit_just_before_a_missing_comma(tmp_path: Path, policy: str) -> None:
    """EN's comma before record 21 removed, --limit 20: without the aligner neither run reads
    past record 20, so both convert; with it both read ahead into the break and stop."""
    sources = _faulty(tmp_path, {}, indent=None)
    en = Path(sources[0].split("=", 1)[1])
    records = json.loads(en.read_text("utf-8"))
    head = json.dumps(records[:21], ensure_ascii=False)[:-1]
    tail = json.dumps(records[21:], ensure_ascii=False)[1:]
    en.write_text(f"{head} {tail}", "utf-8")
    options = (*sources, "--limit", "20", "--check", f"misalignment={policy}")
    said = []
    for name, extra in (("single", ()), ("parallel", _ranges(7))):
        done = run_cli("stream", *options, "-o", tmp_path / f"{name}.jsonl", *extra)
        said.append(done.returncode)
    assert said == ([0, 0] if policy == "off" else [EXIT_FATAL, EXIT_FATAL]), said


def test_unequal_arrays(tmp_path: Path) -> None:
    """JA 10 records short: the same one-line refusal; with --unequal shortest the same run."""
    (tmp_path / "ja.json").write_text(json.dumps(json.loads(ALPACA_JA.read_text())[:165]))
    sources = [ARRAYS[0], f"ja={tmp_path / 'ja.json'}"]
    said = []
    for name, extra in (("single", ()), ("parallel", _ranges(20))):
        done = run_cli("stream", *sources, "-o", tmp_path / f"{name}.jsonl", *extra)
        said.append((done.returncode, done.stderr.decode().strip().splitlines()))
    assert said[1] == said[0] and said[0][0] == EXIT_FATAL, said
    assert len(said[0][1]) == 1 and "ends after 165 records" in said[0][1][0]
    single, parallel = _compare(tmp_path, sources, "--unequal", "shortest", parallel=_ranges(20))
    assert single == parallel and single["groups"]["read"] == 165


@pytest.mark.parametrize(
    ("kept", "limit"), [(165, 160), (165, 165), (165, 166), (165, 171), (165, 300), (0, 5)]
)
@pytest.mark.parametrize("aligner", ["on", "off"])
def test_unequal_arrays_with_a_limit(tmp_path: Path, kept: int, limit: int, aligner: str) -> None:
    """--limit past JA's last record: both runs count EN's records up to the limit unpaired
    (with the misalignment check's aligner pairing the groups, and without)."""
    (tmp_path / "ja.json").write_text(json.dumps(json.loads(ALPACA_JA.read_text())[:kept]))
    sources = [ARRAYS[0], f"ja={tmp_path / 'ja.json'}", "--unequal", "shortest"]
    sources += ["--check", f"misalignment={'warn' if aligner == 'on' else 'off'}"]
    single, parallel = _compare(tmp_path, sources, "--limit", str(limit), parallel=_ranges(20))
    assert single == parallel
    en = single["sources"][0]
    assert (en["read"], en["unpaired"]) == (min(limit, 175), max(0, min(limit, 175) - kept))


@pytest.mark.parametrize("fault", ["en deleted", "ja moved", "ja deleted"])
def test_realign_with_a_limit(tmp_path: Path, fault: str) -> None:
    """Record 50 of one source deleted (or moved to its end): a single run's --realign --limit
    100 repairs the shift and counts 100 groups, not 100 records of each source; range mode,
    which plans by records, refuses the pair of options (it would differ after a repair)."""
    lang, change = fault.split()
    sources = []
    for code, path in (("en", ALPACA_EN), ("ja", ALPACA_JA)):
        records = json.loads(path.read_text("utf-8"))
        if code == lang:
            records = records[:50] + records[51:] + (records[50:51] if change == "moved" else [])
        (tmp_path / f"{code}.json").write_text(json.dumps(records, ensure_ascii=False), "utf-8")
        sources.append(f"{code}={tmp_path / f'{code}.json'}")
    options = [*sources, "--realign", "--limit", "100", "--unequal", "shortest"]
    report = tmp_path / "r.json"
    done = run_cli("stream", *options, "-o", tmp_path / "out.json", "--report", report)
    assert done.returncode == 1, done.stderr.decode()
    single = json.loads(report.read_text())
    assert [r["from_index"] for r in single["repairs"]] == [50]
    assert single["groups"]["read"] == 100 and single["groups"]["rejected"] == 1
    read = {s["lang"]: s["read"] for s in single["sources"]}
    assert read == ({"en": 99, "ja": 100} if lang == "en" else {"en": 100, "ja": 99})
    refused = run_cli("stream", *options, "-o", tmp_path / "p.json", *_ranges(20))
    said = refused.stderr.decode().strip()
    assert refused.returncode == 2 and said.count("\n") == 0
    assert "--limit with --realign is not supported in range mode" in said


@pytest.mark.parametrize("limit", ["91", "95", "100"])
def test_limit_just_past_a_shift(tmp_path: Path, limit: str) -> None:
    """JA's record 90 deleted, --limit a few groups past it, the misalignment check rejecting:
    the last range reads the lookahead after the limit as a single run's aligner does, so both
    reject the same groups."""
    ja = json.loads(ALPACA_JA.read_text("utf-8"))
    (tmp_path / "ja.json").write_text(json.dumps(ja[:90] + ja[91:]), "utf-8")
    sources = [ARRAYS[0], f"ja={tmp_path / 'ja.json'}", "--check", "misalignment=reject"]
    single, parallel = _compare(tmp_path, sources, "--limit", limit, parallel=_ranges(20))
    assert single == parallel
    assert single["groups"]["rejected"] == int(limit) - 90 and single["groups"]["read"] == int(
        limit
    )


def test_realign_unequal_error_counts_the_run(tmp_path: Path) -> None:
    """JA's record 50 moved to its end, --realign: EN ends with JA's last record unpaired.
    Range mode's last range raises the error with the run's count, not its own; neither
    suggests the --realign it was given."""
    ja = json.loads(ALPACA_JA.read_text("utf-8"))
    (tmp_path / "ja.json").write_text(json.dumps(ja[:50] + ja[51:] + ja[50:51]), "utf-8")
    sources = [ARRAYS[0], f"ja={tmp_path / 'ja.json'}", "--realign"]
    for name, extra in (("single", ()), ("parallel", _ranges(20))):
        done = run_cli("stream", *sources, "-o", tmp_path / f"{name}.json", *extra)
        said = done.stderr.decode().strip()
        assert done.returncode == EXIT_FATAL and said.count("\n") == 0, said
        assert "ends after 175 records but ja=" in said, said
        assert "--realign repairs that" not in said, said  # it was given


def test_realign_generated_arrays(tmp_path: Path) -> None:
    """600 generated pairs as arrays, a JA record deleted past the first margins: --realign
    repairs the shift alike, and the last range reads both arrays to their ends."""
    generate = ("--pairs", "600", "--seed", "3", "--out", str(tmp_path), "--form", "array")
    subprocess.run(
        [sys.executable, ROOT / "bench" / "gen_corpus.py", *generate, "--quiet"], check=True
    )
    ja = json.loads((tmp_path / "corpus.ja.json").read_text("utf-8"))
    del ja[296]
    (tmp_path / "ja.json").write_text(json.dumps(ja, ensure_ascii=False, indent=2), "utf-8")
    sources = [f"en={tmp_path / 'corpus.en.json'}", f"ja={tmp_path / 'ja.json'}"]
    single, parallel = _compare(tmp_path, sources, "--realign", parallel=_ranges(100))
    assert single == parallel
    assert [r["from_index"] for r in single["repairs"]] == [296]


def test_realign_ranges_on_sources_that_end_unequally_advise_what_range_mode_takes(
    tmp_path: Path,
) -> None:
    """The Japanese side without its last record: the error a single run gives, less its
    "--limit" advice, which range mode refuses with --realign (a usage error)."""
    ja = tmp_path / "ja.json"
    ja.write_text(json.dumps(json.loads(ALPACA_JA.read_text())[:-1], ensure_ascii=False))
    sources = [f"en={ALPACA_EN}", f"ja={ja}", "--realign"]
    said = f"ja={ja}: ends after 174 records but en={ALPACA_EN} has more; pair the first 174"
    single = run_cli("stream", *sources, "-o", tmp_path / "single.jsonl")
    assert single.returncode == EXIT_FATAL
    assert single.stderr.decode() == (
        f"convert: error: {said} with --unequal shortest (or --limit 174)\n"
    )
    ranged = run_cli("stream", *sources, "-o", tmp_path / "ranged.jsonl", *_ranges(50))
    assert ranged.returncode == EXIT_FATAL
    assert ranged.stderr.decode() == f"convert: error: {said} with --unequal shortest\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ja.json"]


def test_realign_ranges_stop_where_they_lose_track_of_records_lost_then_regained(
    tmp_path: Path,
) -> None:
    """600 generated pairs; JA lost records 10, 20, 30 and 40 and gained four unrelated ones
    before 150, 160, 170 and 180 (net nothing). A single run follows each shift; the range
    from group 150 reads its margin with JA already four records behind, more than the aligner
    finds again: the run stops there, naming the group, before anything is written. (Three
    records behind, it finds them again since it also sees shifts that end inside its window.)"""
    generate = ("--pairs", "600", "--seed", "3", "--out", str(tmp_path), "--form", "array")
    subprocess.run(
        [sys.executable, ROOT / "bench" / "gen_corpus.py", *generate, "--quiet"], check=True
    )
    ja = json.loads((tmp_path / "corpus.ja.json").read_text("utf-8"))
    edited = []
    for i, record in enumerate(ja):
        if i in (150, 160, 170, 180):
            edited.append(ja[599 - i])
        if i not in (10, 20, 30, 40):
            edited.append(record)
    (tmp_path / "ja.json").write_text(json.dumps(edited, ensure_ascii=False), "utf-8")
    sources = [f"en={tmp_path / 'corpus.en.json'}", f"ja={tmp_path / 'ja.json'}", "--realign"]
    single = run_cli("stream", *sources, "-o", tmp_path / "single.jsonl")
    assert single.returncode == 1, single.stderr.decode()  # the orphans rejected
    out = tmp_path / "out" / "ranged.jsonl"
    out.parent.mkdir()
    ranged = run_cli("stream", *sources, "-o", out, *_ranges(50))
    said = ranged.stderr.decode()
    assert ranged.returncode == EXIT_FATAL, said
    assert said.startswith(f"convert: error: ja={tmp_path / 'ja.json'}: the ranges lose track")
    assert "at group 150: the ranges before leave it shifted by +4" in said
    assert said.count("\n") == 1
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("kernels", ["compiled", "python"])
def test_realign_ranges_whose_margin_repairs_overfill_a_buffer_stop_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernels: str
) -> None:
    """400 generated pairs, JA records 51-52 and 251-252 lost; ranges of 41: a range's margin
    repairs shifts again and again, its gaps overfilling the aligner's buffer (an internal
    error: a negative read), then the ranges lose track: one line, exit 3, nothing written."""
    if kernels == "python":
        monkeypatch.setenv("CONVERTER_KERNELS", "python")
    elif NATIVE is None:
        pytest.skip("the compiled kernels are not built")
    generate = ("--pairs", "400", "--seed", "9", "--out", str(tmp_path), "--form", "jsonl")
    subprocess.run(
        [sys.executable, ROOT / "bench" / "gen_corpus.py", *generate, "--quiet"], check=True
    )
    ja = (tmp_path / "corpus.ja.jsonl").read_bytes().splitlines(keepends=True)
    del ja[251:253]
    del ja[51:53]
    (tmp_path / "ja.jsonl").write_bytes(b"".join(ja))
    out = tmp_path / "out" / "o.jsonl"
    out.parent.mkdir()
    sources = [f"en={tmp_path / 'corpus.en.jsonl'}", f"ja={tmp_path / 'ja.jsonl'}"]
    done = run_cli("stream", *sources, "--realign", "--unequal", "shortest", "-o", out,
                   *_ranges(41))  # fmt: skip
    said = done.stderr.decode()
    assert done.returncode == EXIT_FATAL, said
    assert said.count("\n") == 1 and "the ranges lose track of its pairing at group" in said
    assert list(out.parent.iterdir()) == []
