"""The ``parquet`` writer: the record's five columns (all strings) in streamed row groups.

Each row is encoded as a JSON line (orjson, which also rejects what cannot be UTF-8); the lines
gather until about ``ROW_GROUP_BYTES`` and are then parsed by pyarrow's JSON reader into one
table, written as one row group. Memory holds one row group at most. pyarrow is optional
(the ``parquet`` extra).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

from converter import hookimpl
from converter.builtin.writers import record_row
from converter.dataset_info import RECORD
from converter.model import Record, WriterOptions, WriterSpec
from converter.parquet import require_pyarrow

#: JSON bytes gathered into one row group.
ROW_GROUP_BYTES = 4 << 20
COLUMNS = ("seq", "reasoning", "instruction", "input", "output")


class _Sink:
    """What pyarrow needs of a file to write to the core's stream (which the core closes)."""

    closed = False

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> int:
        """Write ``data`` to the stream; nothing once the core has closed it (a failed run,
        its output thrown away: pyarrow still writes the file's footer as it lets go of the
        writer, which printed a traceback after the run's error line)."""
        try:
            return self.stream.write(bytes(data))
        except ValueError:  # "write to closed file"
            return len(data)

    def flush(self) -> None:
        """Nothing to do: the core flushes the stream."""


class ParquetWriter:
    """One Parquet file with the record schema, one row group per ~4 MiB of rows."""

    schema = "record"

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        arrow, parquet = require_pyarrow()
        import pyarrow.json as arrow_json

        self.json = arrow_json
        self.columns = arrow.schema([(name, arrow.string()) for name in COLUMNS])
        self.parse = arrow_json.ParseOptions(
            explicit_schema=self.columns, unexpected_field_behavior="error"
        )
        self.file = parquet.ParquetWriter(_Sink(stream), self.columns)
        self.pending: list[bytes] = []
        self.size = 0

    def row(self, record: Record) -> dict[str, Any]:
        return record_row(record, False)

    def encode(self, row: dict[str, Any]) -> bytes:
        return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)

    def write(self, chunks: list[bytes]) -> None:
        self.pending += chunks
        self.size += sum(map(len, chunks))
        if self.size >= ROW_GROUP_BYTES:
            self._flush()

    def close(self) -> None:
        self._flush()
        self.file.close()

    def _flush(self) -> None:
        """Write the gathered rows as one row group."""
        if not self.pending:
            return
        data = b"".join(self.pending)
        self.pending, self.size = [], 0
        read = self.json.ReadOptions(block_size=len(data), use_threads=False)
        self.file.write_table(self.json.read_json(io.BytesIO(data), read, self.parse))


@hookimpl
def register_writers(register: Callable[[WriterSpec], None]) -> None:
    """Register ``parquet``."""
    columns = frozenset[str]()
    register(
        WriterSpec(
            "parquet", (".parquet",), ParquetWriter, "record columns", columns, RECORD, False
        )
    )
