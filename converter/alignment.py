"""Lock-step pairing with a watch for shifts: where one source lost or gained a record (or up
to MAX_SHIFT in a row), every later pair is wrong by as many. A window of upcoming groups is
scored against the pairings shifted by 1 and 2 records either way (as sentence aligners such as
Gale-Church do with lengths), the shift is located, reported on every group it affects, and with
``realign`` repaired: the records left without a partner go to the rejects file and pairing
goes on as many records over.

Scores come from cheap features of each record: field lengths (against the typical length ratio
of the language pair, learned as the run goes), whether ``input`` is empty, and how many of the
source's anchors (numbers, URLs) the target holds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate, chain, islice, zip_longest
from typing import Any, Protocol

from converter.anchors import MAX_SEARCHED, record_anchors
from converter.kernels import NATIVE
from converter.model import Record

#: Upcoming groups looked at before the first of them is let through.
WINDOW = 8
#: Score a shifted pairing must win by, per pair, to count as a shift.
MARGIN = 0.8
#: The fewest pairs whose MARGIN a shift must win by, however few pairs are left to score (the
#: window shrinks at the sources' end, where one pair's score alone is noise).
MIN_EVIDENCE = 3
#: The most records in a row a source may lose or gain for the shift to be found (the buffers,
#: topped up at WINDOW + 2, hold the window's pairings shifted that far).
MAX_SHIFT = 2
#: Shifts in a run from which they say more about the sources than lost or extra records do:
#: at least MANY_SHIFTS, one in SHIFTS_EVERY groups or more (see too_many_shifts).
MANY_SHIFTS = 5
SHIFTS_EVERY = 50
#: What outputs with the same line breaks add to a pair's score (see line_agreement).
LINES_AGREE = 0.5
#: Values a learned ratio needs before it is refreshed only every REFRESH groups.
WARMUP = 16
#: Groups whose pairs the learned length ratios come from (see TrailingMedian).
RATIO_GROUPS = 64
#: A learned ratio is recomputed when the group index enters a new block of this many.
REFRESH = 16
#: The learned state at a group depends on this many groups before it, nothing earlier: a range
#: of a parallel run that reads this many groups (plus the window) ahead of its start holds the
#: single run's state there.
HISTORY = RATIO_GROUPS + REFRESH


class Median(Protocol):
    """A learned typical value: :class:`TrailingMedian` or its compiled twin."""

    @property
    def value(self) -> float:
        """The typical value now."""

    def add(self, index: int, value: float | None) -> bool:
        """Learn ``value`` at group ``index``; True when the typical value was recomputed."""

    def value_at(self, index: int) -> float:
        """The typical value for group ``index`` (see :meth:`TrailingMedian.value_at`)."""


class TrailingMedian:
    """A learned typical value: the median of the values seen at the last RATIO_GROUPS group
    indexes, recomputed when the index enters a new block of REFRESH (and at every value while
    fewer than ``warmup`` are known). A pure function of the recent groups, so the same wherever
    a run starts reading, as long as it read HISTORY groups before."""

    def __init__(self, warmup: int = WARMUP, default: float = 0.0) -> None:
        self.indexes: deque[int] = deque()  # the group index of each value in ``values``
        self.values: deque[float] = deque()
        self.warmup, self.default = warmup, default
        self.value = default
        self.block = -1
        self.last = -1  # the index of the last group learned

    def value_at(self, index: int) -> float:
        """The typical value for group ``index``, for a learner that skips groups (those the
        ``--where`` filter or a reject kept from a check): when the last group learned is
        further back than ``index - 1``, the groups between are first learned as having no
        value, so that the value comes from the recent groups only, not from one long ago
        (which a range of a parallel run has not read)."""
        if self.last < index - 1:
            self.add(index - 1, None)
        return self.value

    def add(self, index: int, value: float | None) -> bool:
        """Learn ``value`` (None: the group has none) at group ``index``; True when the typical
        value was recomputed."""
        self.last = index
        indexes = self.indexes
        if value is not None:
            indexes.append(index)
            self.values.append(value)
        oldest = index - RATIO_GROUPS
        while indexes and indexes[0] <= oldest:
            indexes.popleft()
            self.values.popleft()
        block = index // REFRESH
        if block == self.block and len(indexes) >= self.warmup:
            return False
        self.block = block
        known = sorted(self.values)
        self.value = known[len(known) // 2] if known else self.default
        return True


class Gap:
    """Stands in a group for the record a source lacks there, with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Gap({self.reason!r})"


def _blank(text: str) -> bool:
    return not text or text.isspace()


def _log_ratios(source: Record, target: Record) -> tuple[float, float]:
    """The pair's log length ratios (target to source) of instruction and output, smoothed."""
    return (
        math.log((len(target.instruction) + 5) / (len(source.instruction) + 5)),
        math.log((len(target.output) + 5) / (len(source.output) + 5)),
    )


def too_many_shifts(shifts: int, groups: int) -> bool:
    """Whether ``shifts`` found in ``groups`` groups are more than a few lost or extra records
    explain: sources that are not translations of each other (or not in the same order)."""
    return shifts >= MANY_SHIFTS and shifts * SHIFTS_EVERY > groups


def line_agreement(source_breaks: int, target_breaks: int) -> float:
    """The score of two outputs' line breaks: a translation keeps a list's or a poem's lines,
    so the same number (of some) adds LINES_AGREE, and each one more or less (up to two) takes
    LINES_AGREE off."""
    if source_breaks == target_breaks:
        return LINES_AGREE if source_breaks else 0.0
    return -LINES_AGREE * min(abs(source_breaks - target_breaks), 2)


class Scorer:
    """How well records pair up, from their cheap features (``converter._kernels.Scorer`` is
    its compiled twin: :func:`new_scorer` picks)."""

    def __init__(self, record_type: type[Record], anchors_of: Any) -> None:
        self.record_type, self.anchors_of = record_type, anchors_of

    def score(
        self, source: Any, target: Any, centre_instruction: float, centre_output: float
    ) -> float:
        """How well ``target`` fits as the translation of ``source`` (higher is better, ~1
        typical for a true pair, ~-1.7 for a random one), the typical log length ratios being
        the centres; 0 when either could not be read."""
        if type(source) is not self.record_type or type(target) is not self.record_type:
            return 0.0
        score = 1.0 if _blank(source.input) == _blank(target.input) else -1.0
        ratios = _log_ratios(source, target)
        if source.instruction and target.instruction:
            score -= min(abs(ratios[0] - centre_instruction), 2.0)
        if source.output and target.output:
            score -= min(abs(ratios[1] - centre_output), 2.0)
        score += line_agreement(source.output.count("\n"), target.output.count("\n"))
        anchors = self.anchors_of(source)
        # the target's fields as one text (no anchor holds a newline, so none spans two)
        text = f"{target.instruction}\n{target.input}\n{target.output}"
        # (many anchors: compared with the target's own as sets, not searched for one by one)
        if anchors.numbers:  # the share of the source's numbers the target holds too
            if len(anchors.numbers) > MAX_SEARCHED:
                kept = len(anchors.numbers & self.anchors_of(target).numbers)
            else:
                kept = sum(number in text for number in anchors.numbers)
            score += 2.0 * kept / len(anchors.numbers) - 0.5
        if anchors.urls:
            if len(anchors.urls) > MAX_SEARCHED:
                held = anchors.urls <= self.anchors_of(target).urls
            else:
                held = all(url in text for url in anchors.urls)
            score += 1.0 if held else -1.0
        elif "://" in text:
            score -= 1.0
        return score

    def learn(self, source: Any, target: Any, instruction: Median, output: Median) -> bool:
        """Feed the pair's log length ratios at ``source.index`` to the learned medians (none
        when ``target`` is no record, nor when ``source`` is a record that could not be read);
        True when either was recomputed."""
        ratios: tuple[float | None, ...] = (None, None)
        if type(target) is self.record_type:
            ratios = _log_ratios(source, target)
        learned = instruction.add(source.index, ratios[0])
        return output.add(source.index, ratios[1]) or learned


def shift_offsets(d: int) -> tuple[int, int]:
    """The offsets (source, target) of the pairing shifted by ``d``: the target lost ``d``
    records (source ``d`` ahead) or, ``d`` negative, has ``-d`` extra ones."""
    return (d, 0) if d > 0 else (0, -d)


def shift_at_front(diagonal: list[float], shifted: Callable[[int, int], list[float]]) -> int:
    """The shift that starts at the front of the window, from the positional pairs' scores
    (``diagonal``) and ``shifted(offset_source, offset_target)``, the scores of the pairings
    shifted: +d (the target lost d records, d up to MAX_SHIFT) or -d (it has d extra ones) when
    that pairing wins by MARGIN a pair from the front on (the best one; the smaller shift on a
    tie), else 0 (none, or one that starts later).

    The shifted pairs may end inside the window (a record lost and another gained a few
    groups apart: the pairs after them are positional again); they need the same evidence,
    MARGIN for each pair from where they start to the window's end, and never less than
    MIN_EVIDENCE pairs' worth."""
    best = None
    for d in (s * sign for s in range(1, MAX_SHIFT + 1) for sign in (1, -1)):
        scores = shifted(*shift_offsets(d))
        m = min(len(scores), len(diagonal))
        if m == 0:
            continue
        c, gain = _best_stretch([scores[j] - diagonal[j] for j in range(m)])
        if gain > MARGIN * max(m - c, MIN_EVIDENCE) and (best is None or gain > best[2]):
            best = (d, c, gain)
    return 0 if best is None or best[1] > 0 else best[0]


def searched(diagonal: Sequence[float]) -> bool:
    """Whether the window's positional pairs (their scores, ``diagonal``) score poorly enough
    for :meth:`Aligner._watch` to search for a shift: the front pair, or all of them."""
    return not diagonal or diagonal[0] <= 0 or sum(diagonal) < 0


def shown_from_front(gains: list[float]) -> bool:
    """Whether a shifted pairing's ``gains`` over the positional pairs show it from the front
    of the window as :func:`shift_at_front` needs to find it (where :meth:`Aligner._watch`
    searches)."""
    if not gains:
        return False
    c, gain = _best_stretch(gains)
    return c == 0 and gain > MARGIN * max(len(gains), MIN_EVIDENCE)


def _best_stretch(gains: list[float]) -> tuple[int, float]:
    """Where the stretch of ``gains`` with the largest sum starts, and that sum (the first such
    stretch): the change points of a shift, before which pairs are right and after which, to
    the stretch's end, they are shifted."""
    start, best = 0, gains[0]
    for c in range(len(gains)):
        total = 0.0
        for gain in gains[c:]:
            total += gain
            if total > best:
                start, best = c, total
    return start, best


def trailing_median(warmup: int = WARMUP, default: float = 0.0) -> Median:
    """A new :class:`TrailingMedian` (the compiled one when the kernels are built)."""
    if NATIVE is not None:
        median: Median = NATIVE.TrailingMedian(warmup, default)
        return median
    return TrailingMedian(warmup, default)


def new_scorer() -> Scorer:
    """A :class:`Scorer` of :class:`Record` pairs (the compiled one when the kernels are built)."""
    if NATIVE is not None:
        scorer: Scorer = NATIVE.Scorer(Record, LINES_AGREE)  # it finds the anchors itself
        return scorer
    return Scorer(Record, record_anchors)


def new_aligner(streams: list[Iterator[Any]], langs: list[str], realign: bool) -> Aligner:
    """An :class:`Aligner` (the compiled one when the kernels are built)."""
    if NATIVE is not None:
        constants = (WINDOW, HISTORY, MARGIN, MIN_EVIDENCE)
        pieces = (Record, Gap, new_scorer(), trailing_median, *constants, shift_at_front)
        aligner: Aligner = NATIVE.Aligner(streams, langs, realign, *pieces)
        return aligner
    return Aligner(streams, langs, realign)


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
        # the typical log length ratio of each target to the source: instruction, output
        self.ratios = [(trailing_median(), trailing_median()) for _ in streams]
        self.scorer = new_scorer()
        self.shift = [0] * len(streams)  # current unrepaired shift per target (0 = aligned)
        # groups since the window last showed target k's shift as strongly as finding it needs
        self.quiet = [0] * len(streams)
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

    def rest(self, k: int) -> Iterator[Any]:
        """What is left of source ``k``: its buffer, then its stream."""
        return chain(self.buffers[k], self.streams[k])

    def _fill(self) -> None:
        """Top the buffers up to ``2 * WINDOW + 2`` once one has fallen to ``WINDOW + 2`` (the
        window and its shifted pairings never look further)."""
        if min(map(len, self.buffers)) > WINDOW + 1 or all(self.ended):
            return
        for k, (buffer, stream) in enumerate(zip(self.buffers, self.streams)):
            if self.ended[k]:
                continue
            want = 2 * WINDOW + 2 - len(buffer)
            if want <= 0:  # full already: the gaps of repairs went in front of its records
                continue
            buffer.extend(islice(stream, want))
            if len(buffer) < 2 * WINDOW + 2:
                self.ended[k] = True

    def _pop(self) -> tuple[Any, ...]:
        """Learn the length ratios of the front group's pairs, then let the group through."""
        source = self.buffers[0][0] if self.buffers[0] else None
        if source is not None and type(source) is not Gap:
            learn, read = self.scorer.learn, type(source) is Record
            for k in range(1, len(self.buffers)):
                # (a source record that could not be read gives no ratios: learned as none,
                # so that a long stretch of them leaves nothing learned from before it)
                target = self.buffers[k][0] if self.buffers[k] and read else None
                if learn(source, target, *self.ratios[k]):
                    self.cache.clear()  # cached scores were made with the former ratios
        if len(self.cache) > 64 * WINDOW:
            self.cache.clear()
        for scores in self.diagonals:
            if scores:
                scores.popleft()
        return tuple([buffer.popleft() if buffer else None for buffer in self.buffers])

    def _score(self, k: int, offset_source: int, offset_target: int, count: int) -> list[float]:
        """Scores of pairs (source j + offset_source, target k j + offset_target), j < count."""
        src, tgt = self.buffers[0], self.buffers[k]
        centre_instruction, centre_output = self._centre(k)
        cache, score = self.cache, self.scorer.score
        scores = []
        for j in range(count):
            if j + offset_source >= len(src) or j + offset_target >= len(tgt):
                break
            a, b = src[j + offset_source], tgt[j + offset_target]
            key = (k, id(a), id(b))
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = (score(a, b, centre_instruction, centre_output), a, b)
            scores.append(hit[0])
        return scores

    def _watch(self, k: int) -> None:
        """Look at the window ahead for target ``k``; locate and report or repair a shift."""
        src, tgt = self.buffers[0], self.buffers[k]
        n = min(WINDOW, len(src), len(tgt))
        if n == 0:
            return
        if self.shift[k]:
            if self.quiet[k] < HISTORY:
                self._continue_shift(k, n)
                return
            # not shown for HISTORY groups (a range, which reads HISTORY groups and the window
            # before its start, would not know of it): over, to be found again where shown
            self.shift[k] = 0
        front = self._diagonal(k, n)
        if not searched(front):
            return
        d = shift_at_front(list(front)[:n], lambda os_, ot: self._score(k, os_, ot, n))
        if d:
            self._found(k, d)

    def _diagonal(self, k: int, n: int) -> deque[float]:
        """Scores of the first ``n`` positional pairs of target ``k``, kept as the front moves."""
        scores = self.diagonals[k]
        if len(scores) < n:
            src, tgt, score = self.buffers[0], self.buffers[k], self.scorer.score
            centre_instruction, centre_output = self._centre(k)
            for j in range(len(scores), n):
                scores.append(score(src[j], tgt[j], centre_instruction, centre_output))
        return scores

    def _centre(self, k: int) -> tuple[float, float]:
        instruction, output = self.ratios[k]
        return instruction.value, output.value

    def _found(self, k: int, d: int) -> None:
        """A shift by ``d`` starts at the front of the buffers: at the index of the first
        source's front record (a gap a repair left there has none: the record after it)."""
        src, tgt = self.buffers[0], self.buffers[k]
        where = next(m.index for m in chain(src, tgt) if type(m) is not Gap)
        self.repairs.append(
            {"source": k, "shift": d, "from_index": where, "repaired": self.realign}
        )
        if not self.realign:
            self.shift[k], self.quiet[k] = d, 0
            self._mark(k)
            return
        for scores in self.diagonals:
            scores.clear()
        for _ in range(abs(d)):
            if d > 0:  # target k lost records: their partners-to-be are gaps in k
                tgt.appendleft(self._gap(k))
            elif type(tgt[0]) is Gap:  # a gap an earlier repair put in k: k's record goes there
                tgt.popleft()
            else:  # target k has extra records: the others get gaps
                for j, buffer in enumerate(self.buffers):
                    if j != k:
                        buffer.appendleft(self._gap(j))

    def _gap(self, k: int) -> Gap:
        return Gap(f"misalignment: no {self.langs[k]} partner (the shifted pairing was repaired)")

    def _continue_shift(self, k: int, n: int) -> None:
        """Mark target ``k``'s front record as shifted while the shifted pairing wins the pairs
        from the front to some point of the window (a short shift ends inside it), else end
        the shift; count the groups since the window showed it as finding it needs."""
        diagonal = self._score(k, 0, 0, n)
        shifted = self._score(k, *shift_offsets(self.shift[k]), n)
        gains = [s - p for s, p in zip(shifted, diagonal)]
        if max(accumulate(gains), default=-1.0) < 0:
            self.shift[k] = 0
            return
        shown = searched(diagonal) and shown_from_front(gains)  # (as a search would find it)
        self.quiet[k] = 0 if shown else self.quiet[k] + 1
        self._mark(k)

    def _mark(self, k: int) -> None:
        target = self.buffers[k][0]
        if type(target) is Record:
            if target.features is None:
                target.features = {}
            shift = self.shift[k]
            target.features["misalignment"] = f"{target.lang}: pairs look shifted by {shift:+d}"


def positional(streams: list[Iterator[Any]]) -> Iterator[tuple[Any, ...]]:
    """Plain lock-step pairing by position, for runs that do not watch for shifts."""
    return zip_longest(*streams)
