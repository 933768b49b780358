"""Placing JSON syntax errors in files whose text repeats (converter.jsonerrors).

yajl says where it stopped only by the 60 bytes around that point; in a file of identical
records the same 60 bytes occur in every copy, and the broken copy is often a later one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import read_all, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def newline_in_copy(copies: int, broken: int) -> bytes:
    """``copies`` records where copy ``broken`` has a raw newline for the space after "tips"
    (yajl shows a newline as a space: its context is that of every other copy)."""
    text = json.dumps([RECORD] * copies, indent=2).encode()
    at = -1
    for _ in range(broken + 1):
        at = text.index(b"tips ", at + 1) + 4
    return text[:at] + b"\n" + text[at + 1 :]


def test_a_later_copy_is_placed_where_the_stdlib_parser_places_it(tmp_path: Path) -> None:
    data = newline_in_copy(8, 4)
    with pytest.raises(json.JSONDecodeError) as stdlib:
        json.loads(data)
    error = read_error(tmp_path / "in.json", data)
    assert "control character 0x0A inside a string" in (error or "")
    assert placed(error, data) == stdlib.value.pos


def test_validate_names_the_broken_copy(tmp_path: Path) -> None:
    data = newline_in_copy(8, 4)
    (tmp_path / "in.json").write_bytes(data)
    done = run_cli("validate", tmp_path / "in.json")
    assert done.returncode == 1
    [line] = [x for x in done.stdout.decode().splitlines() if "malformed" in x]
    assert placed(line, data) == data.index(b"tips\n", data.index(b"tips\n")) + 4


def test_stdin_cannot_be_read_again_so_every_candidate_is_named() -> None:
    data = newline_in_copy(3, 2)
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
