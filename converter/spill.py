"""Encoded groups held for ``--sample`` and ``--shuffle``: in memory while small, then in a
SQLite file (stdlib ``sqlite3``) in a temporary folder, so memory stays bounded.

Each group is stored pickled (exactly its size: the encoders' own buffers may be larger) under
its arrival number (``ordinal``) with a sort key; it is read back in arrival order or in key
order (SQLite sorts on disk through an index).
"""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from converter.errors import OutputError

#: Bytes of groups held in memory before they move to disk (tests lower it).
SPILL_BYTES = 16 << 20
#: Rows written to (or deleted from, or read from) SQLite at a time...
ROWS = 1024
#: ... or fewer, so that they hold about this many bytes: huge groups never pile up.
ROWS_BYTES = 4 << 20
#: What one group costs in memory beyond its pickled bytes (key, tuple, dict entry).
OVERHEAD = 150


class GroupStore:
    """Groups by ordinal with a float sort key. Once they outgrow ``limit`` bytes they move to
    a temporary folder made in ``parent`` (None: the system's), removed by :meth:`close`."""

    def __init__(self, parent: str | None, limit: int | None = None) -> None:
        self.parent = parent
        self.folder: str | None = None
        self.limit = SPILL_BYTES if limit is None else limit
        self.memory: dict[int, tuple[float, bytes]] = {}
        self.size = 0
        self.db: sqlite3.Connection | None = None
        self.inserts: dict[int, tuple[int, float, bytes]] = {}
        self.inserted = 0  # the bytes of the pending inserts
        self.largest = 1  # the bytes of the largest group held
        self.deletes: list[tuple[int]] = []

    def add(self, ordinal: int, key: float, item: Any) -> None:
        """Hold ``item`` (picklable) under ``ordinal``."""
        data = pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        self.largest = max(self.largest, len(data))
        if self.db is None:
            self.memory[ordinal] = (key, data)
            self.size += len(data) + OVERHEAD
            if self.size > self.limit:
                self._spill()
            return
        self.inserts[ordinal] = (ordinal, key, data)
        self.inserted += len(data)
        if len(self.inserts) >= ROWS or self.inserted >= ROWS_BYTES:
            self._flush()

    def remove(self, ordinal: int) -> None:
        """Drop the group held under ``ordinal``."""
        if self.db is None:
            _key, data = self.memory.pop(ordinal)
            self.size -= len(data) + OVERHEAD
        elif (pending := self.inserts.pop(ordinal, None)) is not None:
            self.inserted -= len(pending[2])
        else:
            self.deletes.append((ordinal,))
            if len(self.deletes) >= ROWS:
                self._flush()

    def items(self, by_key: bool) -> Iterator[Any]:
        """Every group held, in key order (ties by ordinal) or in arrival order."""
        if self.db is None:
            if by_key:
                held = sorted(self.memory.items(), key=lambda kv: (kv[1][0], kv[0]))
            else:
                held = sorted(self.memory.items())
            for _ordinal, (_key, data) in held:
                yield pickle.loads(data)
            return
        self._flush()
        with self._disk():
            if by_key:
                self.db.execute("CREATE INDEX by_key ON groups (key, ordinal)")
            order = "key, ordinal" if by_key else "ordinal"
            rows = self.db.execute(f"SELECT data FROM groups ORDER BY {order}")
        at_once = max(1, min(ROWS, ROWS_BYTES // self.largest))
        while True:
            with self._disk():
                batch = rows.fetchmany(at_once)
            if not batch:
                return
            for (data,) in batch:
                yield pickle.loads(data)

    def close(self) -> None:
        """Close and remove the SQLite file and its folder."""
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _spill(self) -> None:
        """Move the groups in memory to a new SQLite file."""
        with self._disk():
            self.folder = tempfile.mkdtemp(prefix=".convert-spill-", dir=self.parent)
            self.db = db = sqlite3.connect(os.path.join(self.folder, "groups.sqlite"))
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -8192"):
                db.execute(f"PRAGMA {pragma}")
            db.execute("CREATE TABLE groups (ordinal INTEGER PRIMARY KEY, key REAL, data BLOB)")
        rows = ((ordinal, key, data) for ordinal, (key, data) in self.memory.items())
        with self._disk(), db:
            db.executemany("INSERT INTO groups VALUES (?, ?, ?)", rows)
        self.memory, self.size = {}, 0

    def _flush(self) -> None:
        """Write the pending inserts and deletes."""
        assert self.db is not None
        with self._disk(), self.db:
            self.db.executemany("INSERT INTO groups VALUES (?, ?, ?)", self.inserts.values())
            self.db.executemany("DELETE FROM groups WHERE ordinal = ?", self.deletes)
        self.inserts, self.inserted, self.deletes = {}, 0, []

    @contextmanager
    def _disk(self) -> Iterator[None]:
        """Disk trouble (full, unwritable) as an OutputError naming the folder."""
        try:
            yield
        except (OSError, sqlite3.Error) as exc:
            where = self.folder or self.parent or tempfile.gettempdir()
            raise OutputError(f"{where}: cannot hold groups on disk: {exc}") from None
