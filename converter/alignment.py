"""Lock-step pairing with a watch for shifts: where one source lost or gained a record, every
later pair is wrong by one. A window of upcoming groups is scored against the shifted pairings
(as sentence aligners such as Gale-Church do with lengths), the shift is located, reported on
every group it affects, and with ``realign`` repaired: the record left without a partner goes
to the rejects file and pairing goes on one record over.

Scores come from cheap features of each record: field lengths (against the typical length ratio
of the language pair, learned as the run goes), whether ``input`` is empty, and how many of the
source's anchors (numbers, URLs) the target holds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from itertools import islice, zip_longest
from typing import Any

from converter.anchors import contains, record_anchors
from converter.model import Record

#: Upcoming groups looked at before the first of them is let through.
WINDOW = 8
#: Score a shifted pairing must win by, per pair, to count as a shift.
MARGIN = 0.8
#: Aligned pairs whose length ratios seed the typical ratio.
WARMUP = 16


class Gap:
    """Stands in a group for the record a source lacks there, with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Gap({self.reason!r})"


def _features(record: Record) -> tuple[int, bool, int]:
    return len(record.instruction), not record.input or record.input.isspace(), len(record.output)


class _Ratios:
    """The typical log length ratio of one target language to the source, per field."""

    def __init__(self) -> None:
        self.seed: list[tuple[float, float]] = []
        self.centre: tuple[float, float] | None = None

    def learn(self, ratios: tuple[float, float]) -> None:
        if self.centre is None:
            self.seed.append(ratios)
            if len(self.seed) >= WARMUP:
                self.centre = tuple(
                    sorted(r[k] for r in self.seed)[len(self.seed) // 2] for k in (0, 1)
                )  # type: ignore[assignment]
            return
        a, b = self.centre
        self.centre = (a + (ratios[0] - a) / 64, b + (ratios[1] - b) / 64)

    def get(self) -> tuple[float, float]:
        if self.centre is not None:
            return self.centre
        if not self.seed:
            return (0.0, 0.0)
        return tuple(sorted(r[k] for r in self.seed)[len(self.seed) // 2] for k in (0, 1))  # type: ignore[return-value]


def _log_ratios(a: tuple[int, bool, int], b: tuple[int, bool, int]) -> tuple[float, float]:
    return math.log((b[0] + 5) / (a[0] + 5)), math.log((b[2] + 5) / (a[2] + 5))


def similarity(source: Any, target: Any, centre: tuple[float, float]) -> float:
    """How well ``target`` fits as the translation of ``source`` (higher is better, ~1 typical
    for a true pair, ~-1.7 for a random one); 0 when either could not be read."""
    if type(source) is not Record or type(target) is not Record:
        return 0.0
    a, b = _features(source), _features(target)
    score = 1.0 if a[1] == b[1] else -1.0
    ratios = _log_ratios(a, b)
    for k, (la, lb) in enumerate(((a[0], b[0]), (a[2], b[2]))):
        if la and lb:
            score -= min(abs(ratios[k] - centre[k]), 2.0)
    anchors = record_anchors(source)
    if anchors.numbers:  # the share of the source's numbers the target holds too
        kept = sum(contains(target, n) for n in anchors.numbers)
        score += 2.0 * kept / len(anchors.numbers) - 0.5
    if anchors.urls:
        score += 1.0 if all(contains(target, u) for u in anchors.urls) else -1.0
    elif "://" in target.output or "://" in target.input or "://" in target.instruction:
        score -= 1.0
    return score


class Aligner:
    """Groups the sources' records by position, watching for shifts against the first source.

    Yields tuples with one member per source: a Record, a Rejected, None once that source has
    ended, or a Gap where a repair left a record without its partner.
    """

    def __init__(self, streams: list[Iterator[Any]], langs: list[str], realign: bool) -> None:
        self.streams = streams
        self.langs = langs
        self.realign = realign
        self.buffers: list[deque[Any]] = [deque() for _ in streams]
        self.ended = [False] * len(streams)
        self.ratios = [_Ratios() for _ in streams]
        self.shift = [0] * len(streams)  # current unrepaired shift per target (0 = aligned)
        self.shift_from = [0] * len(streams)
        self.repairs: list[dict[str, Any]] = []
        # scores by (target, id(source record), id(target record)); the records are kept in
        # the value so that their ids cannot be reused while the entry lives
        self.cache: dict[tuple[int, int, int], tuple[float, Any, Any]] = {}
        # positional scores of each target's front pairs, in buffer order
        self.diagonals: list[deque[float]] = [deque() for _ in streams]

    def groups(self) -> Iterator[tuple[Any, ...]]:
        """Every group in order; the shift findings are set on the records' features."""
        while True:
            self._fill()
            if not any(self.buffers):
                return
            for k in range(1, len(self.streams)):
                self._watch(k)
            yield self._pop()

    def drain(self, k: int) -> int:
        """Count (and drop) what is left of source ``k``: its buffer and its stream."""
        left = len(self.buffers[k]) + sum(1 for _ in self.streams[k])
        self.buffers[k].clear()
        return left

    def _fill(self) -> None:
        """Top the buffers up to ``2 * WINDOW + 2`` once one has fallen to ``WINDOW + 2`` (the
        window and its shifted pairings never look further)."""
        if min(map(len, self.buffers)) > WINDOW + 1 or all(self.ended):
            return
        for k, (buffer, stream) in enumerate(zip(self.buffers, self.streams)):
            if self.ended[k]:
                continue
            want = 2 * WINDOW + 2 - len(buffer)
            buffer.extend(islice(stream, want))
            if len(buffer) < 2 * WINDOW + 2:
                self.ended[k] = True

    def _pop(self) -> tuple[Any, ...]:
        if len(self.cache) > 64 * WINDOW:
            self.cache.clear()
        for scores in self.diagonals:
            if scores:
                scores.popleft()
        return tuple(buffer.popleft() if buffer else None for buffer in self.buffers)

    def _score(self, k: int, offset_source: int, offset_target: int, count: int) -> list[float]:
        """Scores of pairs (source j + offset_source, target k j + offset_target), j < count."""
        src, tgt = self.buffers[0], self.buffers[k]
        centre = self.ratios[k].get()
        cache = self.cache
        scores = []
        for j in range(count):
            if j + offset_source >= len(src) or j + offset_target >= len(tgt):
                break
            a, b = src[j + offset_source], tgt[j + offset_target]
            key = (k, id(a), id(b))
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = (similarity(a, b, centre), a, b)
            scores.append(hit[0])
        return scores

    def _watch(self, k: int) -> None:
        """Look at the window ahead for target ``k``; locate and report or repair a shift."""
        src, tgt = self.buffers[0], self.buffers[k]
        n = min(WINDOW, len(src), len(tgt))
        if n == 0:
            return
        if self.shift[k]:
            self._continue_shift(k, n)
            return
        front = self._diagonal(k, n)
        if front[0] > 0 and sum(front) >= 0:
            self._learn(k)
            return
        diagonal = list(front)[:n]
        best = None
        for d, (os_, ot) in ((1, (1, 0)), (-1, (0, 1))):
            shifted = self._score(k, os_, ot, n)
            m = min(len(shifted), len(diagonal))
            if m == 0:
                continue
            gains = [shifted[j] - diagonal[j] for j in range(m)]
            # the change point c: before it pairs are right, from it on they are shifted
            c, gain = max(((c, sum(gains[c:])) for c in range(m)), key=lambda t: t[1])
            if gain > MARGIN * (m - c) and (best is None or gain > best[2]):
                best = (d, c, gain)
        if best is None or best[1] > 0:
            self._learn(k)
            return
        self._found(k, best[0])

    def _diagonal(self, k: int, n: int) -> deque[float]:
        """Scores of the first ``n`` positional pairs of target ``k``, kept as the front moves."""
        scores = self.diagonals[k]
        src, tgt, centre = self.buffers[0], self.buffers[k], self.ratios[k].get()
        for j in range(len(scores), n):
            scores.append(similarity(src[j], tgt[j], centre))
        return scores

    def _learn(self, k: int) -> None:
        source, target = self.buffers[0][0], self.buffers[k][0]
        if type(source) is Record and type(target) is Record:
            self.ratios[k].learn(_log_ratios(_features(source), _features(target)))

    def _found(self, k: int, d: int) -> None:
        """A shift by ``d`` starts at the front of the buffers."""
        src, tgt = self.buffers[0], self.buffers[k]
        where = src[0].index if src else tgt[0].index
        self.repairs.append(
            {"source": k, "shift": d, "from_index": where, "repaired": self.realign}
        )
        if not self.realign:
            self.shift[k], self.shift_from[k] = d, where
            self._mark(k)
            return
        for scores in self.diagonals:
            scores.clear()
        if d == 1:  # target k lost a record: its partner-to-be is a gap in k
            tgt.appendleft(self._gap(k))
        else:  # target k has an extra record: the others get a gap
            for j, buffer in enumerate(self.buffers):
                if j != k:
                    buffer.appendleft(self._gap(j))

    def _gap(self, k: int) -> Gap:
        return Gap(f"misalignment: no {self.langs[k]} partner (the shifted pairing was repaired)")

    def _continue_shift(self, k: int, n: int) -> None:
        d = self.shift[k]
        offsets = (1, 0) if d == 1 else (0, 1)
        diagonal, shifted = self._score(k, 0, 0, n), self._score(k, *offsets, n)
        if sum(diagonal) > sum(shifted[: len(diagonal)]):
            self.shift[k] = 0
            return
        self._mark(k)

    def _mark(self, k: int) -> None:
        target = self.buffers[k][0]
        if type(target) is Record:
            if target.features is None:
                target.features = {}
            shift, start = self.shift[k], self.shift_from[k]
            target.features["misalignment"] = (
                f"{target.lang}: pairs look shifted by {shift:+d} from index {start}"
            )


def positional(streams: list[Iterator[Any]]) -> Iterator[tuple[Any, ...]]:
    """Plain lock-step pairing by position, for runs that do not watch for shifts."""
    return zip_longest(*streams)
