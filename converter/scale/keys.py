"""``--key`` in range mode: the run's key index, and the partner lookups of a range.

Planning reads every source once and writes, in SQLite (bounded memory, in the parts folder):
for the first source, each key's first record (the one that pairs; a later record with the key
is a duplicate rejected where it stands); for every other source, where the record is that
single-process pairing would match to a key (its first readable record with it: file, bytes,
line); and where the records are that no group takes (no key, a repeated key, a key the first
source lacks). A range pairs its records of the first source by looking their partners up and
reading those lines, through the same :class:`converter.keyed.KeyedPairing`; one more task
reads the records no group takes, and rejects them with the single run's reasons.
"""

from __future__ import annotations

import io
import os
import sqlite3
from collections.abc import Iterator
from typing import Any

from converter.chunks import PositionedReader
from converter.errors import InputError
from converter.job import StreamJob
from converter.keyed import KeyProbe, record_key
from converter.model import InputFormat, Record, Rejected
from converter.plugins import Registry
from converter.readers import read_jsonl_batches
from converter.records import format_named, to_records
from converter.scale.plan import FileIndex, Plan
from converter.scale.ranges import span_parts
from converter.seen import SeenSet, key_of

#: The key index's file name in the parts folder.
KEY_INDEX = "keys.sqlite"
#: Rows inserted at a time.
_ROWS = 10_000
_SCHEMA = (
    "CREATE TABLE first (key TEXT PRIMARY KEY, hash INTEGER NOT NULL, idx INTEGER NOT NULL)",
    "CREATE INDEX first_hash ON first (hash)",
    "CREATE TABLE partner (source INTEGER, key TEXT, hash INTEGER, idx INTEGER, path TEXT,"
    " start INTEGER, end INTEGER, line INTEGER, PRIMARY KEY (source, key)) WITHOUT ROWID",
    "CREATE INDEX partner_hash ON partner (source, hash)",
    "CREATE TABLE rest (source INTEGER, idx INTEGER, path TEXT, start INTEGER, end INTEGER,"
    " line INTEGER, PRIMARY KEY (source, idx)) WITHOUT ROWID",
)
#: The partners no record of the first source asks for (run once every source is indexed).
#: The (never read) rest of a line's reader.
_EMPTY = io.BytesIO()
_UNASKED = (
    "INSERT INTO rest SELECT source, idx, path, start, end, line FROM partner"
    " WHERE key NOT IN (SELECT key FROM first)"
)


def _ignore(_name: str) -> None:
    """The format is the run's, known already."""


def _format(job: StreamJob, lang: str, registry: Registry) -> InputFormat | None:
    """The source's input format as the run fixed it (None: it has no readable record)."""
    name = job.input_formats.get(lang)
    return format_named(name, registry.formats) if name else None


def _located(
    job: StreamJob, k: int, files: list[FileIndex], registry: Registry
) -> Iterator[tuple[Record | Rejected, tuple[str, int, int, int]]]:
    """Every record of source ``k`` with where its line is: (file, start, end, line)."""
    lang, given = job.sources[k]
    fmt = _format(job, lang, registry)
    for f in files:
        span = f.whole()
        parts = span_parts(f"{lang}={given}", span)
        records = to_records(lang, parts, fmt, registry.formats, _ignore, f.first_index)
        with open(f.path, "rb") as raw:
            raw.seek(f.first.offset)
            offset, line = f.first.offset, 1
            for member in records:
                while member.line is not None and line < member.line:
                    offset += len(raw.readline())
                    line += 1
                text = raw.readline()
                yield member, (f.path, offset, offset + len(text), line)
                offset, line = offset + len(text), line + 1


def build_key_index(path: str, job: StreamJob, planned: Plan, registry: Registry) -> None:
    """Write the key index of ``job`` (its ``key`` field, its sources as ``planned``, every
    input format fixed) to ``path``, atomically."""
    assert job.key is not None
    temporary = f"{path}.tmp"
    if os.path.exists(temporary):
        os.unlink(temporary)
    db = sqlite3.connect(temporary)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        for statement in _SCHEMA:
            db.execute(statement)
        for k, source in enumerate(planned.sources):
            _index_source(db, job, k, source.files, registry)
        db.execute(_UNASKED)
        db.commit()
    finally:
        db.close()
    os.replace(temporary, path)


def _index_source(
    db: sqlite3.Connection, job: StreamJob, k: int, files: list[FileIndex], registry: Registry
) -> None:
    """Add source ``k`` to the index: the records that pair (each key's first), and (not for
    the first source) the records without a key or with a repeated one."""
    assert job.key is not None
    seen = SeenSet()
    rows: dict[str, list[tuple[Any, ...]]] = {"first": [], "partner": [], "rest": []}
    probe = None if k else KeyProbe(job.key, job.sources[0][0])
    try:
        for member, where in _located(job, k, files, registry):
            key = record_key(member, job.key)
            if probe is not None:  # until a key is found
                probe.note(member, key)
                probe = None if probe.found else probe
            hashed = None if key is None else key_of(key)
            if hashed is None or seen.first_seen(hashed, member.index) is not None:
                if k:
                    rows["rest"].append((k, member.index, *where))
            elif k:
                rows["partner"].append((k, key, hashed, member.index, *where))
            else:
                rows["first"].append((key, hashed, member.index))
            if sum(map(len, rows.values())) >= _ROWS:
                _insert(db, rows)
        if probe is not None:
            probe.end()
        _insert(db, rows)
    finally:
        seen.close()


def _insert(db: sqlite3.Connection, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """Insert the gathered rows, table by table, and forget them."""
    for table, values in rows.items():
        if values:
            marks = ", ".join("?" * len(values[0]))
            db.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
            values.clear()


class KeyLookup:
    """The key index read by one task: a :class:`converter.keyed.PartnerIndex`."""

    def __init__(self, path: str, job: StreamJob, registry: Registry, rest: bool) -> None:
        """Open the index at ``path`` (read-only) for ``job`` (every input format fixed);
        ``rest``: the task that rejects the records no group takes (the others see none)."""
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.job, self.registry, self.with_rest = job, registry, rest
        self.formats = [_format(job, lang, registry) for lang, _ in job.sources]
        self.files: dict[str, int] = {}

    def first_seen(self, k: int, key: int, index: int) -> int | None:
        """Where source ``k``'s first record with ``key`` is, unless at ``index``."""
        if k:
            row = self.db.execute(
                "SELECT idx FROM partner WHERE source = ? AND hash = ?", (k, key)
            ).fetchone()
        else:
            row = self.db.execute("SELECT idx FROM first WHERE hash = ?", (key,)).fetchone()
        return None if row is None or row[0] == index else int(row[0])

    def find(self, k: int, key: str) -> Record | Rejected | None:
        """Source ``k``'s record that pairs with ``key``, read from its line."""
        row = self.db.execute(
            "SELECT idx, path, start, end, line FROM partner WHERE source = ? AND key = ?",
            (k, key),
        ).fetchone()
        return None if row is None else self._read(k, *row)

    def rest(self, k: int) -> Iterator[Record | Rejected]:
        """Source ``k``'s records no group takes, in index order (none unless ``rest``)."""
        if not self.with_rest:
            return
        rows = self.db.execute(
            "SELECT idx, path, start, end, line FROM rest WHERE source = ? ORDER BY idx", (k,)
        )
        for row in rows:
            yield self._read(k, *row)

    def _read(self, k: int, index: int, path: str, start: int, end: int, line: int) -> Any:
        """Record ``index`` of source ``k``, from its line."""
        if path not in self.files:
            try:
                self.files[path] = os.open(path, os.O_RDONLY)
            except OSError as exc:
                raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        lang, given = self.job.sources[k]
        text = os.pread(self.files[path], end - start, start)
        reader = PositionedReader(f"{lang}={given}", text, _EMPTY, b"")
        parts = read_jsonl_batches(reader, line)
        return next(to_records(lang, parts, self.formats[k], self.registry.formats, _ignore, index))

    def close(self) -> None:
        """Close the index and the files read."""
        self.db.close()
        for fd in self.files.values():
            os.close(fd)
