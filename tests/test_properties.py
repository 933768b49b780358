"""Property-based tests (hypothesis): round trips, corrupted files, chunk boundaries.

Runs go through the Python API (``run_stream``) in-process, so a few hundred examples take
seconds. Checks are turned off: these properties are about reading and writing.
"""

from __future__ import annotations

import io
import json
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import ALPACA_EN, ALPACA_JA
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from converter.builtin.writers import JsonArrayWriter
from converter.chunks import CHUNK, PositionedReader
from converter.errors import ConverterError
from converter.inputs import Input, open_input
from converter.model import WriterOptions
from converter.pipeline import StreamJob, run_stream
from converter.readers import read_items

REASONING = {
    "en": "AI assistant should reply in English language.",
    "ja": "AI assistant should reply in Japanese language.",
}
#: Characters that have broken JSON tools: quotes, backslashes, controls, line and paragraph
#: separators, a BOM, the noncharacter converter uses as a stand-in, emoji, CJK.
SPECIAL = '"\\/\n\r\t\b\f\x00\x01\x1f\x7f\u2028\u2029\ufeff\uffff😀𝄞👩‍👩‍👧日本語の文章中文한국어'
TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters(exclude_categories=("Cs",))),
    max_size=24,
)
RECORD = st.fixed_dictionaries({"instruction": TEXT, "input": TEXT, "output": TEXT})
CORPUS = st.integers(0, 30).flatmap(
    lambda n: st.tuples(
        st.lists(RECORD, min_size=n, max_size=n), st.lists(RECORD, min_size=n, max_size=n)
    )
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail with TimeoutError if the block runs longer than ``seconds`` (a hang)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def encode(
    records: list[dict[str, str]], shape: str, ascii_only: bool, indent: int | None
) -> bytes:
    """The records as a JSON array or as JSON Lines, the way other tools write them."""
    if shape == "array":
        return json.dumps(records, ensure_ascii=ascii_only, indent=indent).encode()
    return b"".join(json.dumps(r, ensure_ascii=ascii_only).encode() + b"\n" for r in records)


def expected_rows(en: list[dict[str, str]], ja: list[dict[str, str]]) -> list[dict[str, str]]:
    """What the seed script writes: EN then JA for each index, seq and reasoning first."""
    rows = []
    for index, pair in enumerate(zip(en, ja)):
        for lang, record in zip(("en", "ja"), pair):
            row = {"seq": f"{index}{lang.upper()}", "reasoning": REASONING[lang]}
            rows.append(row | {key: record[key] for key in ("instruction", "input", "output")})
    return rows


def convert(folder: Path, en: bytes, ja: bytes, writer: str, checks: dict[str, str]) -> Any:
    """Run the pair through ``run_stream``; return the report and status."""
    (folder / "en.data").write_bytes(en)
    (folder / "ja.data").write_bytes(ja)
    job = StreamJob(
        sources=[("en", str(folder / "en.data")), ("ja", str(folder / "ja.data"))],
        output=str(folder / "out"),
        format=writer,
        rejects=str(folder / "rejects.jsonl"),
        checks=checks,
    )
    return run_stream(job)


@SETTINGS
@given(
    corpus=CORPUS,
    shapes=st.tuples(st.sampled_from(["array", "jsonl"]), st.sampled_from(["array", "jsonl"])),
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 2, 4]),
)
@pytest.mark.parametrize("writer", ["json", "jsonl"])
def test_any_parallel_corpus_round_trips(
    writer: str,
    corpus: tuple[list[dict[str, str]], list[dict[str, str]]],
    shapes: tuple[str, str],
    ascii_only: bool,
    indent: int | None,
    checks_off: dict[str, str],
) -> None:
    en, ja = corpus
    if (not en) and "jsonl" in shapes:  # an empty JSON Lines file is an error by design
        shapes = ("array", "array")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        report, status = convert(
            folder,
            encode(en, shapes[0], ascii_only, indent),
            encode(ja, shapes[1], ascii_only, indent),
            writer,
            checks_off,
        )
        assert status == 0
        written = (folder / "out").read_bytes()
    rows = expected_rows(en, ja)
    if writer == "json":
        assert written == json.dumps(rows, ensure_ascii=False, indent=2).encode()
    else:
        assert [orjson.loads(line) for line in written.splitlines()] == rows
    assert report.groups_read == report.groups_written == len(en)


#: JSON values as both the stdlib and orjson write them alike (no floats: their spellings differ).
NESTED = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)
ROW = st.fixed_dictionaries(
    {"seq": TEXT, "instruction": TEXT}, optional={"tags": st.dictionaries(TEXT, NESTED)}
)


@SETTINGS
@given(rows=st.lists(ROW, max_size=5), batch=st.integers(1, 3))
def test_the_json_writer_writes_the_stdlibs_pretty_array(rows: list[Any], batch: int) -> None:
    """Whatever the rows hold (``--keep-tags`` nests tags) and however they are batched."""
    out = io.BytesIO()
    writer = JsonArrayWriter(out, WriterOptions())
    encoded = [writer.encode(row) for row in rows]
    for start in range(0, len(encoded), batch):
        writer.write(encoded[start : start + batch])
    writer.close()
    assert out.getvalue() == json.dumps(rows, ensure_ascii=False, indent=2).encode()


def corrupt(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply byte edits: (kind, position, byte) with kind 0 replace, 1 insert, 2 delete, 3 cut."""
    buffer = bytearray(data)
    for kind, where, byte in edits:
        at = where % (len(buffer) + 1)
        if kind == 0 and at < len(buffer):
            buffer[at] = byte
        elif kind == 1:
            buffer.insert(at, byte)
        elif kind == 2 and at < len(buffer):
            del buffer[at]
        elif kind == 3:
            del buffer[at:]
    return bytes(buffer)


VALID_EN = {
    "array": json.dumps(json.loads(ALPACA_EN.read_bytes())[:6], indent=4, ensure_ascii=False),
    "jsonl": "".join(
        json.dumps(r, ensure_ascii=True) + "\n" for r in json.loads(ALPACA_EN.read_bytes())[:6]
    ),
}
VALID_JA = json.dumps(json.loads(ALPACA_JA.read_bytes())[:6], ensure_ascii=False).encode()
EDIT = st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.integers(0, 255))
INTERESTING = st.sampled_from(list(b'"\\{}[],:\n\x00\x80\xc3\xed\xff'))


@settings(SETTINGS, max_examples=150)
@given(
    shape=st.sampled_from(["array", "jsonl"]),
    edits=st.lists(
        st.one_of(EDIT, st.tuples(st.integers(0, 2), st.integers(0, 1 << 16), INTERESTING)),
        min_size=1,
        max_size=4,
    ),
)
def test_corrupted_input_gives_a_clean_error_or_a_correct_rejection(
    shape: str, edits: list[tuple[int, int, int]], checks_off: dict[str, str]
) -> None:
    data = corrupt(VALID_EN[shape].encode(), edits)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        try:
            with time_limit(10):
                report, status = convert(folder, data, VALID_JA, "json", checks_off)
        except ConverterError as exc:
            event(f"{shape}: {type(exc).__name__}")
            assert str(exc) and "\n" not in str(exc)
            assert sorted(p.name for p in folder.iterdir()) == ["en.data", "ja.data"]
            return
        rows = orjson.loads((folder / "out").read_bytes())
        rejects = folder / "rejects.jsonl"
        rejected = rejects.read_bytes().splitlines() if rejects.exists() else []
    event(f"{shape}: exit {status}")
    assert status == (1 if report.groups_rejected else 0)
    assert len(rows) == 2 * report.groups_written
    assert len(rejected) == 2 * report.groups_rejected
    for source in report.sources:
        assert source.read == source.written + source.rejected + source.unpaired


class ShortReads(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read: chunk boundaries anywhere."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.at = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        piece = self.data[self.at : self.at + min(self.step, size if size > 0 else self.step)]
        self.at += len(piece)
        return piece


ESCAPES = st.sampled_from(
    [
        *(
            "\\ud83d\\ude00",
            "\\uD834\\uDD1E",
            "\\ud800",
            "\\udc00",
            "\\\\ud800",
            "\\\\",
            "\\n",
            "é",
            "a",
        ),
        # U+FFFF itself (escaped, and raw), which stands in for a lone surrogate inside; a run
        # of 26 backslashes (13 escaped ones); characters of 3 and 4 bytes
        *("\\uffff", "\\uFFFF", "\uffff", "\\" * 26, "日", "😀"),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.lists(ESCAPES, max_size=8).map("".join), min_size=1, max_size=6),
    step=st.integers(1, 13),
)
def test_surrogate_escapes_are_judged_the_same_at_any_chunk_boundary(
    parts: list[str], step: int
) -> None:
    """Each record holding a lone surrogate is rejected, and only those: whatever holds U+FFFF
    (the stand-in inside), whatever chunk edge cuts an escape, a run of backslashes or a
    character."""
    data = ("[" + ",".join(f'{{"t": "{p}"}}' for p in parts) + "]").encode()
    expected = json.loads(data)  # Python keeps lone surrogates as such
    stream = PositionedReader("x", b"", ShortReads(data, step), b"")
    items = list(read_items(Input("x", "x", "array", stream, None, None)))
    assert len(items) == len(expected)
    for item, record in zip(items, expected):
        lone = any(0xD800 <= ord(c) <= 0xDFFF for c in record["t"])
        assert (item.error is not None) == lone, (record, item)
        if not lone:
            assert item.value == record
    assert stream.next_start == len(data) and step < CHUNK


def test_a_lone_surrogate_after_a_long_backslash_run_at_a_chunk_edge_is_found(
    tmp_path: Path,
) -> None:
    """30 escaped backslashes, then ``\\ud800``, with the 64 KiB chunk edge anywhere in or
    around the run: the record is rejected, as JSON Lines rejects it (it was written with a
    "?" for the surrogate), and the record after it reads."""
    path = tmp_path / "en.json"
    for before in range(65380, 65520):
        text = "b" * before + "\\" * 30
        records = [{"output": "x"}, {"output": text + "SURROGATE"}, {"output": "ok"}]
        encoded = "[" + ",".join(json.dumps(r) for r in records) + "]"
        path.write_text(encoded.replace("SURROGATE", "\\ud800"))
        items = list(read_items(open_input("en", str(path))))
        assert [item.error is not None for item in items] == [False, True, False], before
        assert "lone surrogate: \\ud800" in (items[1].error or ""), before
        assert items[2].value == {"output": "ok"}, before


@pytest.mark.parametrize(
    ("text", "items_path"),
    [
        ('[{"t": "\\uffff", "t": "a"}, {"t": "b"}, {"t": "\\ud800"}, {"t": "c"}]', None),
        ('[{"t": "\uffff", "t": "a"}, {"t": "b"}, {"t": "\\ud800"}, {"t": "c"}]', None),
        ('{"meta": "x\\uFFFF", "data": [{"t": "b"}, {"t": "\\ud800"}, {"t": "c"}]}', "data.item"),
        ('{"data": [{"t": "b"}, {"t": "\\ud800"}, {"t": "c"}], "meta": "\\ud800"}', "data.item"),
    ],
    ids=["duplicate-key-escaped", "duplicate-key-raw", "outside-items-before", "outside-after"],
)
def test_a_u_ffff_never_built_does_not_hide_a_lone_surrogate(
    tmp_path: Path, text: str, items_path: str | None
) -> None:
    """A U+FFFF the parser reads but no item keeps (a duplicate key's first value, text
    outside --items-path) is still taken for what it is: only the record with the lone
    surrogate is rejected, and nothing outside the items is blamed on one."""
    path = tmp_path / "en.json"
    path.write_text(text, encoding="utf-8")
    items = list(read_items(open_input("en", str(path)), items_path))
    assert [item.error is not None for item in items][-3:] == [False, True, False], items
    assert items[-1].value == {"t": "c"}
