"""Pairing by key (``--key id``): for sources in different orders, like a shuffled translation.

Groups come out in the first source's order. Records of the other sources read ahead of their
partner wait in a dict and, past ``MEMORY_RECORDS``, in a temporary SQLite table, so memory
stays bounded whatever the order. Records without a partner and repeated keys come out as
groups with a :class:`~converter.alignment.Gap` where the partner would be, so the pipeline
rejects them with the reason; nothing is dropped.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator
from typing import Any

from converter.alignment import Gap
from converter.model import Record
from converter.seen import SeenSet, key_of

#: Records waiting for their partner that are kept in memory; the rest go to SQLite.
MEMORY_RECORDS = 50_000


def record_key(member: Any, field: str) -> str | None:
    """The key of a record (the field's value as text), None when it has none."""
    if type(member) is not Record or not isinstance(member.original, dict):
        return None
    value = member.original.get(field)
    return None if value is None or isinstance(value, (dict, list)) else str(value)


class _Waiting:
    """Records read ahead, by key: a dict first, then a SQLite table."""

    def __init__(self) -> None:
        self.memory: dict[str, Any] = {}
        self.db: sqlite3.Connection | None = None
        self.on_disk = 0

    def put(self, key: str, member: Any) -> None:
        if len(self.memory) < MEMORY_RECORDS:
            self.memory[key] = member
            return
        if self.db is None:
            self.db = sqlite3.connect("")  # a private temporary database on disk
            self.db.execute("PRAGMA journal_mode = OFF")
            self.db.execute("CREATE TABLE waiting (key TEXT PRIMARY KEY, member BLOB)")
        self.db.execute("INSERT INTO waiting VALUES (?, ?)", (key, pickle.dumps(member)))
        self.on_disk += 1

    def take(self, key: str) -> Any | None:
        member = self.memory.pop(key, None)
        if member is not None or not self.on_disk or self.db is None:
            return member
        row = self.db.execute("SELECT member FROM waiting WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self.db.execute("DELETE FROM waiting WHERE key = ?", (key,))
        self.on_disk -= 1
        return pickle.loads(row[0])

    def rest(self) -> Iterator[Any]:
        yield from self.memory.values()
        self.memory = {}
        if self.db is not None:
            for (blob,) in self.db.execute("SELECT member FROM waiting ORDER BY rowid"):
                yield pickle.loads(blob)
            self.db.close()
            self.db = None


class KeyedPairing:
    """Groups records of several sources by the value of one field."""

    def __init__(self, streams: list[Iterator[Any]], langs: list[str], field: str) -> None:
        self.streams, self.langs, self.field = streams, langs, field
        self.waiting = [_Waiting() for _ in streams]
        self.keys = [SeenSet() for _ in streams]

    def groups(self) -> Iterator[tuple[Any, ...]]:
        """Every group: matched ones in the first source's order, then what found no partner."""
        for member in self.streams[0]:
            key = self._admit(0, member)
            if not isinstance(key, str):
                yield self._alone(0, member, key)
                continue
            group = [member]
            for k in range(1, len(self.streams)):
                group.append(self._find(k, key))
            yield tuple(group)
        for k in range(1, len(self.streams)):
            for member, reason in self._rest(k):
                yield self._alone(k, member, reason)

    def _admit(self, k: int, member: Any) -> str | Gap:
        """The member's key, or a Gap saying why it cannot be paired."""
        key = record_key(member, self.field)
        if key is None:
            return Gap(f"no key: the record has no {self.field!r} to pair by")
        earlier = self.keys[k].first_seen(key_of(key), member.index)
        if earlier is not None:
            return Gap(f"duplicate key: {self.field} {key!r} repeats the record at index {earlier}")
        return key

    def _find(self, k: int, key: str) -> Any:
        """The record of source ``k`` with ``key``, reading ahead as far as needed."""
        found = self.waiting[k].take(key)
        if found is not None:
            return found[0]
        for member in self.streams[k]:
            own = self._admit(k, member)
            if own == key:
                return member
            if isinstance(own, Gap):
                self.waiting[k].put(f"\0{member.index}", (member, own))
            else:
                self.waiting[k].put(own, (member, None))
        return Gap(f"unmatched: no {self.langs[k]} record with {self.field} {key!r}")

    def _rest(self, k: int) -> Iterator[tuple[Any, Gap]]:
        """Records of source ``k`` no group took, with the reason."""
        first = self.langs[0]
        for member, reason in self.waiting[k].rest():
            key = record_key(member, self.field)
            yield member, reason or Gap(f"unmatched: no {first} record with {self.field} {key!r}")
        for member in self.streams[k]:
            own = self._admit(k, member)
            if isinstance(own, str):
                own = Gap(f"unmatched: no {first} record with {self.field} {own!r}")
            yield member, own

    def _alone(self, k: int, member: Any, gap: Gap) -> tuple[Any, ...]:
        return tuple(member if j == k else gap for j in range(len(self.streams)))
