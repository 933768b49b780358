"""Built-in writers: ``json`` (the seed's pretty array, byte for byte) and ``jsonl``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

from converter import hookimpl
from converter.dataset_info import RECORD
from converter.model import Record, WriterOptions, WriterSpec


def record_row(record: Record, keep_tags: bool) -> dict[str, Any]:
    """The default output object: the seed's five fields, plus ``tags`` with ``--keep-tags``."""
    row: dict[str, Any] = {
        "seq": record.seq,
        "reasoning": record.reasoning,
        "instruction": record.instruction,
        "input": record.input,
        "output": record.output,
    }
    if keep_tags:
        row["tags"] = record.tags
    return row


class _RecordWriter:
    """Shared shaping for the two record writers."""

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        self.stream = stream
        self.keep_tags = options.keep_tags
        self.schema = "record-tags" if options.keep_tags else "record"

    def row(self, record: Record) -> dict[str, Any]:
        return record_row(record, self.keep_tags)


class JsonArrayWriter(_RecordWriter):
    """A JSON array identical to ``json.dump(rows, ensure_ascii=False, indent=2)``.

    orjson's 2-space indent of the row inside a one-element list, the list's brackets cut off,
    gives the same bytes as the stdlib's nested indent, many times faster (and cutting is cheaper
    than re-indenting every line).
    """

    #: Between two records, however they are batched (converter.model.Writer).
    separator = b",\n  "

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        super().__init__(stream, options)
        self.started = False

    def encode(self, row: dict[str, Any]) -> bytes:
        return orjson.dumps([row], option=orjson.OPT_INDENT_2)[4:-2]  # b"[\n  " ... b"\n]"

    def write(self, chunks: list[bytes]) -> None:
        if not chunks:
            return
        lead = self.separator if self.started else b"[\n  "
        self.started = True
        self.stream.write(lead + self.separator.join(chunks))

    def close(self) -> None:
        self.stream.write(b"\n]" if self.started else b"[]")


class JsonLinesWriter(_RecordWriter):
    """One compact UTF-8 JSON record per line."""

    #: Between two records: nothing (converter.model.Writer).
    separator = b""

    def encode(self, row: dict[str, Any]) -> bytes:
        return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)

    def write(self, chunks: list[bytes]) -> None:
        self.stream.write(self.separator.join(chunks))

    def close(self) -> None:
        pass


@hookimpl
def register_writers(register: Callable[[WriterSpec], None]) -> None:
    """Register ``json`` and ``jsonl``."""
    pretty, lines = "pretty JSON array (the seed's)", "one record per line"
    register(WriterSpec("json", (".json",), JsonArrayWriter, pretty, dataset_info=RECORD))
    register(
        WriterSpec("jsonl", (".jsonl", ".ndjson"), JsonLinesWriter, lines, dataset_info=RECORD)
    )
