"""An exact "seen before?" set of 64-bit keys in bounded memory (the file is unlinked at once).

A Bloom filter of fixed size answers "certainly new" for almost every key. The keys themselves
(with the index where each was first seen) are kept in a small dict and, every ``BATCH`` keys,
written as a sorted run to a temporary file; the rare "maybe seen" is settled by a binary search
of each run. Memory stays at the filter's size plus one batch, whatever the number of keys.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import BinaryIO

from xxhash import xxh64_intdigest

from converter.kernels import NATIVE

#: Filter size in bits (4 MiB): about 1 false "maybe" in 1,500 lookups at a million keys.
BITS = 1 << 25
#: Bits of one line of the filter (a 64-byte cache line), where all of a key's bits lie.
LINE_BITS = 512
#: Keys gathered in memory before they are written out as one sorted run.
BATCH = 1 << 14
_ITEM = 8  # bytes per key and per value
#: Keys per block read from a run; one key in this many stays in memory.
STRIDE = 128


_SIGN = 1 << 63


def key_of(text: str) -> int:
    """A 64-bit key for ``text``: XXH64 of its UTF-8, as a signed integer (the same in every
    process and run)."""
    return (xxh64_intdigest(text.encode("utf-8", "surrogatepass")) ^ _SIGN) - _SIGN


def bloom_add(bits: bytearray, mask: int, key: int) -> bool:
    """The filter step of :meth:`SeenSet.first_seen`: set the three bits of ``key`` (a line of
    LINE_BITS picked by the key's low bits within ``mask``, three bits in it by its high bits:
    one cache line read a key); True when all were set already (the key may have been seen)."""
    maybe = True
    line = key & mask & ~(LINE_BITS - 1)
    for shift in (32, 41, 50):
        p = line + ((key >> shift) & (LINE_BITS - 1))
        byte, bit = p >> 3, 1 << (p & 7)
        if not bits[byte] & bit:
            maybe = False
            bits[byte] |= bit
    return maybe


#: The compiled twin where built.
_bloom_add: Callable[[bytearray, int, int], bool] = NATIVE.bloom_add if NATIVE else bloom_add


class _Run:
    """A sorted run of keys (then their values) in the temporary file.

    Every ``STRIDE``-th key stays in memory, so a lookup reads one block of keys and one value.
    """

    def __init__(self, fd: int, offset: int, keys: array[int]) -> None:
        self.fd, self.offset, self.count = fd, offset, len(keys)
        self.sparse = keys[::STRIDE]

    def get(self, key: int) -> int | None:
        """The value stored with ``key`` in this run, or None."""
        block = bisect_right(self.sparse, key) - 1
        if block < 0:
            return None
        start = block * STRIDE
        size = min(STRIDE, self.count - start)
        keys = array("q")
        keys.frombytes(os.pread(self.fd, size * _ITEM, self.offset + start * _ITEM))
        i = bisect_left(keys, key)
        if i == len(keys) or keys[i] != key:
            return None
        at = self.offset + (self.count + start + i) * _ITEM
        return int.from_bytes(os.pread(self.fd, _ITEM, at), "little", signed=True)


class SeenSet:
    """Remembers keys with a value (e.g. the index where the key was first seen).

    The compiled duplicate check (``converter._kernels.Duplicates``) does :meth:`first_seen`'s
    steps itself on ``bits``, ``mask`` and ``batch``, calling ``_in_runs`` and ``_spill``: keep
    those names. It keeps its pending keys and the keys found in the runs (``hot`` here) in C
    tables of its own and puts the pending ones in ``pending`` only to spill them, so a set it
    works on is not for :meth:`first_seen` too.
    """

    def __init__(self) -> None:
        self.bits = bytearray(BITS // 8)
        self.mask = BITS - 1
        self.batch = BATCH
        self.pending: dict[int, int] = {}
        self.hot: dict[int, int] = {}
        self.runs: list[_Run] = []
        self._file: BinaryIO | None = None

    def first_seen(self, key: int, value: int) -> int | None:
        """Add ``key``; return the value stored with it before, or None if it is new."""
        if _bloom_add(self.bits, self.mask, key):
            earlier = self._lookup(key)
            if earlier is not None:
                return earlier
        self.pending[key] = value
        if len(self.pending) >= self.batch:
            self._spill()
        return None

    def _lookup(self, key: int) -> int | None:
        found = self.pending.get(key)
        if found is None:
            found = self.hot.get(key)
        if found is not None:
            return found
        found = self._in_runs(key)
        if found is not None:
            if len(self.hot) >= self.batch:  # keys seen again tend to come back: keep them near
                self.hot.clear()
            self.hot[key] = found
        return found

    def _in_runs(self, key: int) -> int | None:
        """The value stored with ``key`` in the runs written so far, or None."""
        for run in self.runs:
            found = run.get(key)
            if found is not None:
                return found
        return None

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="converter-seen-")  # noqa: SIM115
        file = self._file
        items = sorted(self.pending.items())
        offset = file.seek(0, os.SEEK_END)
        keys = array("q", (k for k, _ in items))
        values = array("q", (v for _, v in items))
        file.write(keys.tobytes() + values.tobytes())
        file.flush()
        self.runs.append(_Run(file.fileno(), offset, keys))
        self.pending = {}

    def close(self) -> None:
        """Remove the temporary file now (it is unlinked already; this frees the space)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self.runs = []
