"""Placing JSON syntax errors in files whose text repeats, and what yajl does not place
(converter.jsonerrors).

yajl says where it stopped only by the 60 bytes around that point; in a file of identical
records the same 60 bytes occur in every copy, and the broken copy is often a later one. Its
context stops at a raw NUL; a value nested too deep is refused by the reader, on an event.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import SHARED, read_all, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converter.chunks import CHUNK
from converter.readers import MAX_DEPTH

POSITION = re.compile(r"line (\d+), column (\d+) \(byte (\d+)\)")
RECORD = {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well."}


def placed(error: str | None, data: bytes) -> int:
    """The byte an error names, after checking that its line and column agree with it."""
    assert error is not None
    found = POSITION.findall(error)
    assert len(found) == 1, error
    line, column, offset = map(int, found[0])
    assert line == data[:offset].count(b"\n") + 1, error
    assert column == offset - (data.rfind(b"\n", 0, offset) + 1) + 1, error
    return offset


def read_error(path: Path, data: bytes) -> str | None:
    """Write ``data`` to ``path``, read it with the reader's items, give back the fatal error."""
    path.write_bytes(data)
    return read_all(path)[1]


def damaged_copy(copies: int, broken: int, byte: bytes = b"\n") -> bytes:
    """``copies`` records (pretty JSON) where copy ``broken`` has a raw ``byte`` for the space
    after "tips": yajl shows a newline as a space (its context is that of every other copy),
    and its context stops at a NUL, its line break and all."""
    text = json.dumps([RECORD] * copies, indent=2).encode()
    at = -1
    for _ in range(broken + 1):
        at = text.index(b"tips ", at + 1) + 4
    return text[:at] + byte + text[at + 1 :]


def test_a_later_copy_is_placed_where_the_stdlib_parser_places_it(tmp_path: Path) -> None:
    data = damaged_copy(8, 4)
    with pytest.raises(json.JSONDecodeError) as stdlib:
        json.loads(data)
    error = read_error(tmp_path / "in.json", data)
    assert "control character 0x0A inside a string" in (error or "")
    assert placed(error, data) == stdlib.value.pos


@pytest.mark.parametrize("closing", [b"]", b"}"])
def test_a_trailing_comma_is_named(tmp_path: Path, closing: bytes) -> None:
    """A comma before the closing bracket (or brace) is said as such, at the bracket (yajl's
    own words were "unallowed token at this point in JSON text")."""
    records = json.dumps([RECORD] * 3, indent=2).encode()
    commas = {b"]": records[:-2] + b",\n]", b"}": records.replace(b'"\n  }', b'",\n  }', 2)}
    data = commas[closing]
    error = read_error(tmp_path / "in.json", data)
    assert f"a comma before {closing.decode()} (a trailing comma: JSON has none)" in (error or "")
    with pytest.raises(json.JSONDecodeError) as stdlib:
        json.loads(data)
    assert placed(error, data) == stdlib.value.pos


def test_validate_names_the_broken_copy(tmp_path: Path) -> None:
    data = damaged_copy(8, 4)
    (tmp_path / "in.json").write_bytes(data)
    done = run_cli("validate", tmp_path / "in.json")
    assert done.returncode == 1
    [line] = [x for x in done.stdout.decode().splitlines() if "malformed" in x]
    assert placed(line, data) == data.index(b"tips\n", data.index(b"tips\n")) + 4


def test_stdin_cannot_be_read_again_so_every_candidate_is_named() -> None:
    data = damaged_copy(3, 2)
    done = run_cli("validate", "-", stdin=data)
    [line] = [x for x in done.stdout.decode().splitlines() if "malformed" in x]
    bytes_named = [int(b) for b in re.findall(r"\(byte (\d+)\)", line)]
    assert len(bytes_named) == 3 and data.index(b"tips\n") + 4 in bytes_named, line
    assert "which one is not known" in line


def uniquified(records: list[dict[str, str]]) -> list[dict[str, str]]:
    """The records with the letters of every key and string of record i rotated by i + 1:
    the same bytes in the same places, but text no other record holds."""

    def rotate(text: str, by: int) -> str:
        return "".join(chr((ord(c) - 97 + by) % 26 + 97) if "a" <= c <= "z" else c for c in text)

    return [
        {rotate(k, i + 1): rotate(v, i + 1) for k, v in record.items()}
        for i, record in enumerate(records)
    ]


LETTERS = st.text(alphabet="abcdefghij ", min_size=0, max_size=80)
RECORDS = st.fixed_dictionaries({"instruction": LETTERS, "input": LETTERS, "output": LETTERS})


DAMAGE = [b"", b"\n", b'"', b",", b":", b"}", b"]", b"x", b"\\"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=RECORDS, copies=st.integers(2, 8), data=st.data())
def test_a_broken_copy_is_placed_as_if_the_copies_before_it_differed(
    tmp_path_factory: pytest.TempPathFactory, record: dict[str, str], copies: int, data: Any
) -> None:
    """One byte of copy ``broken`` or after replaced (or deleted): the error is placed where it
    is placed when the copies before it hold other letters. Those copies are valid either way
    and the bytes from the broken one on are the same, so yajl stops at the same byte in both
    files; in the second the text around that byte does not repeat before it. Half the time a
    space inside a string becomes a raw newline, which yajl shows as a space: its context is
    then the same as in every other copy."""
    broken = data.draw(st.integers(1, copies - 1))
    records = [record] * copies
    text = json.dumps(records, indent=2).encode()
    start = len(json.dumps(records[:broken], indent=2)) - 2  # the "," after the copies before
    in_strings = [
        i for i in range(start, len(text)) if text[i] == 0x20 and chr(text[i - 1]).isalpha()
    ]
    if in_strings and data.draw(st.booleans()):
        at, damage = data.draw(st.sampled_from(in_strings)), b"\n"
    else:
        at, damage = (
            data.draw(st.integers(start, len(text) - 1)),
            data.draw(st.sampled_from(DAMAGE)),
        )
    damaged = text[:at] + damage + text[at + 1 :]
    try:
        json.loads(damaged)
    except json.JSONDecodeError:
        pass
    else:
        return
    different = json.dumps(uniquified(records[:broken]) + records[broken:], indent=2).encode()
    assert len(different) == len(text) and different[start:] == text[start:]
    folder = tmp_path_factory.mktemp("repeat")
    error = read_error(folder / "same.json", damaged)
    expected = read_error(folder / "different.json", different[:at] + damage + different[at + 1 :])
    assert error is not None and expected is not None
    if POSITION.search(expected):
        assert placed(error, damaged) == placed(expected, damaged), (error, expected)
    else:  # no position at all (truncated input, an error that yajl does not place)
        assert error.replace("same.json", "different.json") == expected


def nested(levels: int) -> Any:
    """A value of ``levels`` nested levels: lists, and an object in the middle."""
    value: Any = "x"
    for level in range(levels):
        value = {"k": value} if level == levels // 2 else [value]
    return value


def with_deep(copies: int, broken: int, indent: int | None = None) -> tuple[bytes, int]:
    """``copies`` records where copy ``broken`` holds a key ``deep`` whose value nests so that
    the record is 65 levels deep, and the byte of the ``[`` or ``{`` that opens level 65 (the
    record is level 1), found by counting the brackets of that value."""
    records: list[Any] = [RECORD] * copies
    records[broken] = {**RECORD, "deep": nested(MAX_DEPTH)}
    text = json.dumps(records, indent=indent).encode()
    return text, level_too_many(text)


def level_too_many(text: bytes) -> int:
    """The byte of the ``[`` or ``{`` that opens level 65 of the record holding ``"deep"``."""
    at = text.index(b'"deep"')
    for _ in range(MAX_DEPTH):
        at = min(i for i in (text.find(b"[", at + 1), text.find(b"{", at + 1)) if i >= 0)
    return at


def malformed_line(done: Any) -> str:
    """The one ``malformed`` finding ``convert validate`` printed."""
    [line] = [x for x in done.stdout.decode().splitlines() if "malformed" in x]
    return line


def test_a_raw_nul_is_placed_where_the_stdlib_parser_places_it(tmp_path: Path) -> None:
    """yajl cuts its context at the NUL (and the line break after it): still found, in a file
    of identical records bigger than a chunk, for stream and validate."""
    data = damaged_copy(2500, 2300, b"\0")
    assert len(data) > 3 * CHUNK
    with pytest.raises(json.JSONDecodeError) as stdlib:
        json.loads(data)
    (tmp_path / "in.json").write_bytes(data)
    stream = run_cli("stream", f"en={tmp_path / 'in.json'}", "-o", tmp_path / "out.jsonl")
    assert stream.returncode == 3
    assert "control character 0x00 inside a string" in stream.stderr.decode()
    assert placed(stream.stderr.decode(), data) == stdlib.value.pos
    validate = run_cli("validate", tmp_path / "in.json")
    assert validate.returncode == 1
    assert placed(malformed_line(validate), data) == stdlib.value.pos
    from_stdin = run_cli("validate", "-", stdin=data)
    assert placed(malformed_line(from_stdin), data) == stdlib.value.pos


@pytest.mark.parametrize("indent", [None, 2])
def test_a_value_nested_too_deep_is_placed_at_the_level_too_many(
    tmp_path: Path, indent: int | None
) -> None:
    data, expected = with_deep(1500, 1400, indent)
    assert len(data) > 2 * CHUNK and data[expected : expected + 1] in (b"[", b"{")
    (tmp_path / "in.json").write_bytes(data)
    stream = run_cli("stream", f"en={tmp_path / 'in.json'}", "-o", tmp_path / "out.jsonl")
    assert stream.returncode == 3
    assert f"value nested deeper than {MAX_DEPTH} levels" in stream.stderr.decode()
    assert placed(stream.stderr.decode(), data) == expected
    validate = run_cli("validate", tmp_path / "in.json")
    assert validate.returncode == 1
    assert placed(malformed_line(validate), data) == expected


def test_stdin_keeps_the_range_of_a_value_nested_too_deep_and_says_why() -> None:
    data, expected = with_deep(1500, 1400)
    line = malformed_line(run_cli("validate", "-", stdin=data))
    start, end = map(int, re.findall(r"between bytes (\d+) and (\d+)", line)[0])
    assert start <= expected < end, line
    assert "(stdin cannot be read again to place it)" in line


def test_a_deep_value_after_a_long_string_is_placed_without_feeding_the_string_bytewise(
    tmp_path: Path,
) -> None:
    """The reader's chunk grows to megabytes while a long string runs on; the replay feeds such
    a token in growing pieces (a byte at a time, yajl would lex it again for every byte)."""
    records = [{**RECORD, "output": "a" * 2_000_000}, {**RECORD, "deep": nested(MAX_DEPTH)}]
    data = json.dumps(records).encode()
    error = read_error(tmp_path / "long.json", data)
    assert placed(error, data) == level_too_many(data)


def test_a_token_cut_by_the_end_of_the_input_is_named_truncated() -> None:
    """JSONTestSuite's ``[ true, fals``: yajl fails only once told the input ended."""
    path = (
        SHARED
        / "jsontestsuite"
        / "test_parsing"
        / "n_structure_unclosed_array_unfinished_false.json"
    )
    size = path.stat().st_size
    assert read_all(path)[1] == (
        f"{path.name}: end of input (byte {size}): truncated JSON (invalid string in json text)"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(copies=st.integers(1, 1500), data=st.data())
def test_a_nul_or_a_deep_value_is_placed_among_repeated_records(
    tmp_path_factory: pytest.TempPathFactory, copies: int, data: Any
) -> None:
    """A NUL for the space of a string, or a value nested too deep, in a random copy of
    repeated records: placed at the byte the stdlib parser names, or at the bracket counted."""
    broken = data.draw(st.integers(0, copies - 1))
    folder = tmp_path_factory.mktemp("placed")
    if data.draw(st.booleans()):
        text = damaged_copy(copies, broken, b"\0")
        with pytest.raises(json.JSONDecodeError) as stdlib:
            json.loads(text)
        expected = stdlib.value.pos
    else:
        text, expected = with_deep(copies, broken, data.draw(st.sampled_from([None, 2])))
    assert placed(read_error(folder / "in.json", text), text) == expected


def test_nesting_is_counted_as_the_reader_counts_it_inside_the_items_only(tmp_path: Path) -> None:
    """With ``--items-path data.item`` a deep value beside the array is not read, so not
    refused: the replay builds the items as the reader does and names the record's value."""
    deep = {**RECORD, "deep": nested(MAX_DEPTH)}
    data = json.dumps({"other": nested(80), "data": [RECORD] * 900 + [deep]}).encode()
    (tmp_path / "wrapped.json").write_bytes(data)
    _, error = read_all(tmp_path / "wrapped.json", "data.item")
    assert placed(error, data) == level_too_many(data)
