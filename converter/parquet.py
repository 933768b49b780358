"""Parquet sources: a ``.parquet`` file is read row by row, a batch of rows at a time.

pyarrow is an optional dependency (the ``parquet`` extra), imported only
when a Parquet file is read or written. Memory holds one row group at a time, so it stays flat
for files written in row groups of sensible size (converter's own are about 4 MiB of text).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import ModuleType
from typing import Any, BinaryIO

from converter.chunks import PositionedReader
from converter.compression import compression_of
from converter.errors import InputError, MalformedInput, UsageError
from converter.inputs import DiskReader, Input
from converter.readers import Item

#: Rows turned into Python objects at a time.
BATCH_ROWS = 1024
#: Bytes read at a time from a column chunk (pre-buffering whole row groups costs memory).
READ_BUFFER = 1 << 20


def require_pyarrow() -> tuple[ModuleType, ModuleType]:
    """``pyarrow`` and ``pyarrow.parquet``; UsageError saying how to install them if missing."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise UsageError(
            "Parquet needs pyarrow: install the parquet extra "
            "(pip install -e '.[parquet]' in a clone)"
        ) from None
    return pyarrow, pyarrow.parquet


def parquet_input(
    label: str, path: str, disk: DiskReader, size: int | None, closers: list[BinaryIO]
) -> Input:
    """An Input of shape ``parquet`` for ``path``; its footer is checked now, so a file that
    is not Parquet fails here like a malformed JSON file does."""
    try:
        if compression_of(path):
            raise InputError(f"{label}: Parquet is compressed inside; decompress the file first")
        _open(label, path).close()
    except (InputError, UsageError):
        for f in reversed(closers):
            f.close()
        raise
    # The records come from pyarrow; the stream stays empty and ``disk`` counts (and hashes)
    # the file once it has been read.
    empty = PositionedReader(label, b"", io.BytesIO(), b"")
    return Input(label, path, "parquet", empty, disk, size, closers)


def parquet_items(source: Input, items_path: str | None = None) -> Iterator[Item]:
    """Every row of a Parquet source as an Item, in file order."""
    if items_path is not None:
        raise UsageError(f"{source.label}: --items-path does not apply to Parquet files")
    return _rows(source)


def _rows(source: Input) -> Iterator[Item]:
    pyarrow, _ = require_pyarrow()
    parquet = _open(source.label, source.path)
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, use_threads=False):
            for row in batch.to_pylist():
                yield Item(row)
    except (pyarrow.ArrowException, OSError) as exc:
        raise InputError(f"{source.label}: cannot read: {exc}") from None
    finally:
        parquet.close()
    source.disk.drain()


def _open(label: str, path: str) -> Any:
    pyarrow, parquet = require_pyarrow()
    try:
        return parquet.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER)
    except (pyarrow.ArrowException, OSError) as exc:
        raise MalformedInput(f"{label}: not a Parquet file: {exc}") from None
