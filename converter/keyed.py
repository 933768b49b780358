"""Pairing by key (``--key id``): for sources in different orders, like a shuffled translation.

Groups come out in the first source's order. Records of the other sources read ahead of their
partner wait in a dict and, past ``MEMORY_RECORDS``, in a temporary SQLite table, so memory
stays bounded whatever the order. Records without a partner and repeated keys come out as
groups with a :class:`~converter.alignment.Gap` where the partner would be, so the pipeline
rejects them with the reason; nothing is dropped. The records of the other sources that no group
took come last, source by source, each source's in index order.

Range mode (converter.scale) pairs one range of the first source at a time: a
:class:`PartnerIndex` built for the whole run then answers what reading ahead answers here.
"""

from __future__ import annotations

import heapq
import json
import pickle
import sqlite3
from collections.abc import Iterator
from typing import Any, Protocol

from converter.alignment import Gap
from converter.errors import UsageError
from converter.model import Record
from converter.seen import SeenSet, key_of

#: Records waiting for their partner that are kept in memory; the rest go to SQLite.
MEMORY_RECORDS = 50_000
#: Records of the first source read without finding the key field before the run stops: a
#: misspelt ``--key`` would otherwise send every record to the rejects file.
KEY_PROBE = 100


def record_key(member: Any, field: str) -> str | None:
    """The key of a record: the field's value as JSON text, a string as itself (so ``1`` and
    ``"1"`` are one key, ``true`` is ``"true"``, never Python's ``True``), a value JSON has no
    text for (a Parquet timestamp, decimal or bytes) as Python's; None when it has none
    (missing, null, an object or an array)."""
    if type(member) is not Record or not isinstance(member.original, dict):
        return None
    value = member.original.get(field)
    if value is None or isinstance(value, (dict, list)):
        return None
    if type(value) is str:
        return value
    return json.dumps(value) if type(value) in (bool, int, float) else str(value)


class KeyProbe:
    """Watches the first source's first records: UsageError when :data:`KEY_PROBE` of them (or
    all there are) come and none has a key (the field missing, null or not a scalar; records
    that did not parse do not count)."""

    def __init__(self, field: str, lang: str) -> None:
        self.field, self.lang = field, lang
        self.keyless = 0
        self.present = 0  # keyless records that have the field all the same
        self.fields: list[str] | None = None  # those of the first record, for the message
        self.found = False

    def note(self, member: Any, key: str | None) -> None:
        """Take the next record of the first source and its key (None: it has none)."""
        if self.found or type(member) is not Record:
            return
        if key is not None:
            self.found = True
            return
        if isinstance(member.original, dict):
            if self.fields is None:
                self.fields = list(member.original)
            self.present += self.field in member.original
        self.keyless += 1
        if self.keyless >= KEY_PROBE:
            self.fail()

    def end(self) -> None:
        """The first source ended: fail if none of its records had the key."""
        if not self.found and self.keyless:
            self.fail()

    def fail(self) -> None:
        """Stop the run, saying whether the records lack the field (naming those the first has)
        or have it without a usable value."""
        if not self.present:
            fields = ", ".join((self.fields or [])[:10]) or "none"
            detail = f"none has that field (the first has: {fields}); is the name right?"
        elif self.present == self.keyless:
            detail = "they have it, but null or not a scalar in all of them"
        else:
            detail = f"{self.present:,} have it, but null or not a scalar; the others lack it"
        raise UsageError(
            f"--key {self.field}: none of the first {self.keyless:,} {self.lang} records has a "
            f"key there (missing, null or not a scalar): {detail}"
        )


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
        """What is still waiting, in index order (records were put in index order)."""
        memory, self.memory = list(self.memory.values()), {}
        if self.db is None:
            yield from memory
            return
        disk = (pickle.loads(blob) for (blob,) in self.db.execute("SELECT member FROM waiting"))
        yield from heapq.merge(memory, disk, key=lambda waiting: waiting[0].index)
        self.db.close()
        self.db = None


class PartnerIndex(Protocol):
    """What range mode knows of the whole run in place of reading ahead (converter.scale)."""

    def first_seen(self, k: int, key: int, index: int) -> int | None:
        """Where source ``k``'s first record with ``key`` (a key_of hash) is, when not at
        ``index`` (the record at ``index`` repeats it); None when it is there."""

    def find(self, k: int, key: str) -> Any | None:
        """The record of source ``k`` the first source's record with ``key`` pairs with."""

    def rest(self, k: int) -> Iterator[Any]:
        """The records of source ``k`` (not the first) no group takes, in index order."""


class KeyedPairing:
    """Groups records of several sources by the value of one field."""

    def __init__(
        self,
        streams: list[Iterator[Any]],
        langs: list[str],
        field: str,
        index: PartnerIndex | None = None,
    ) -> None:
        """Pair ``streams`` by ``field``. With ``index`` (range mode) the first source's stream
        is one range of it (or empty), the others' streams are not read: ``index`` finds the
        partners and says which records no group takes."""
        self.streams, self.langs, self.field, self.index = streams, langs, field, index
        self.waiting = [_Waiting() for _ in streams]
        self.keys = [SeenSet() for _ in streams]

    def groups(self) -> Iterator[tuple[Any, ...]]:
        """Every group: matched ones in the first source's order, then what found no partner."""
        probe = KeyProbe(self.field, self.langs[0]) if self.index is None else None
        for member in self.streams[0]:
            key = self._admit(0, member)
            if probe is not None:  # until a key is found
                probe.note(member, key if isinstance(key, str) else record_key(member, self.field))
                probe = None if probe.found else probe
            if not isinstance(key, str):
                yield self._alone(0, member, key)
                continue
            group = [member]
            for k in range(1, len(self.streams)):
                group.append(self._find(k, key))
            yield tuple(group)
        if probe is not None:
            probe.end()
        for k in range(1, len(self.streams)):
            for member, reason in self._rest(k):
                yield self._alone(k, member, reason)

    def _admit(self, k: int, member: Any) -> str | Gap:
        """The member's key, or a Gap saying why it cannot be paired."""
        key = record_key(member, self.field)
        if key is None:
            return Gap(f"no key: the record's {self.field!r} is missing, null or not a scalar")
        if self.index is None:
            earlier = self.keys[k].first_seen(key_of(key), member.index)
        else:
            earlier = self.index.first_seen(k, key_of(key), member.index)
        if earlier is not None:
            return Gap(f"duplicate key: {self.field} {key!r} repeats the record at index {earlier}")
        return key

    def _find(self, k: int, key: str) -> Any:
        """The record of source ``k`` with ``key``, reading ahead as far as needed."""
        found = self.index.find(k, key) if self.index is not None else self._read_ahead(k, key)
        if found is None:
            return Gap(f"unmatched: no {self.langs[k]} record with {self.field} {key!r}")
        return found

    def _read_ahead(self, k: int, key: str) -> Any | None:
        """The record of source ``k`` with ``key``, waiting or read ahead; None at the end."""
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
        return None

    def _rest(self, k: int) -> Iterator[tuple[Any, Gap]]:
        """Records of source ``k`` no group took, with the reason."""
        first = self.langs[0]
        for member, reason in self.waiting[k].rest():
            key = record_key(member, self.field)
            yield member, reason or Gap(f"unmatched: no {first} record with {self.field} {key!r}")
        for member in self.index.rest(k) if self.index else self.streams[k]:
            own = self._admit(k, member)
            if isinstance(own, str):
                own = Gap(f"unmatched: no {first} record with {self.field} {own!r}")
            yield member, own

    def _alone(self, k: int, member: Any, gap: Gap) -> tuple[Any, ...]:
        return tuple(member if j == k else gap for j in range(len(self.streams)))
