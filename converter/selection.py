"""The output side's selection of whole groups: ``--sample N``, ``--shuffle`` and ``--split``,
all drawn from ``--seed`` (see docs/selection.md).

Every draw is a hash of the seed, the purpose, the stage and the group's index, so a group's
fate does not depend on the order or the chunking of the run. ``--sample N`` keeps the N
groups with the smallest sample keys (a uniform sample, streamed: only the N best are held);
``--shuffle`` writes groups in the order of their shuffle keys; ``--split`` sends each group
to the split its split key falls in. Held groups spill to disk (converter.spill).
"""

from __future__ import annotations

import heapq
import math
import os
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from itertools import accumulate

from converter.compression import strip_compression
from converter.errors import UsageError, refuse_huge
from converter.job import StreamJob
from converter.output import STDOUT
from converter.spill import GroupStore

#: A split's name: it goes into the file name.
SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
#: A group on its way out: (stage number, group index, encoded records).
Group = tuple[int, int, list[bytes]]


def parse_split(text: str) -> tuple[tuple[str, float], ...]:
    """``train=0.98,eval=0.02`` as ((name, share), ...); UsageError when malformed."""
    split: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if not sep or not SPLIT_NAME.fullmatch(name) or not 0 < share < float("inf"):
            raise UsageError(
                f"--split takes NAME=SHARE,... with positive shares (train=0.98,eval=0.02), "
                f"got {part.strip()!r}"
            )
        if name in split:
            raise UsageError(f"--split names {name!r} twice")
        split[name] = share
    if len(split) < 2:
        raise UsageError("--split needs at least two parts, e.g. train=0.98,eval=0.02")
    return tuple(split.items())


def split_path(output: str, name: str) -> str:
    """The file of split ``name``: ``out.json`` -> ``out.train.json``, ``out.jsonl.gz`` ->
    ``out.train.jsonl.gz``, ``out`` -> ``out.train``."""
    base = strip_compression(output)
    stem, suffix = os.path.splitext(base)
    if not stem or stem.endswith(os.sep):  # ``.json``: a dot file, no suffix
        stem, suffix = base, ""
    return f"{stem}.{name}{suffix}{output[len(base) :]}"


def unit(seed: int, purpose: str, stage: str, index: int) -> float:
    """A number in [0, 1) that depends only on its arguments (the draw for one group)."""
    digest = blake2b(f"{seed}\0{purpose}\0{stage}\0{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True)
class Selection:
    """What the output job selects: a sample, a shuffle, a split, and the seed."""

    seed: int = 0
    sample: int | None = None
    shuffle: bool = False
    split: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, job: StreamJob, seed: int | None = None) -> Selection:
        """The selection ``job`` asks for (``seed`` overrides the job's); UsageError when it
        cannot be done."""
        if job.sample is not None and job.sample < 0:
            raise UsageError(f"--sample must be >= 0, not {job.sample}")
        refuse_huge("--sample", job.sample)
        refuse_huge("--seed", job.seed if seed is None else seed)
        if job.split and job.output == STDOUT:
            raise UsageError("--split writes one file per split: give -o FILE")
        names = [name for name, _ in job.split]
        if len(set(names)) != len(names) or not all(map(SPLIT_NAME.fullmatch, names)):
            raise UsageError(f"--split names must be distinct words, not {', '.join(names)}")
        shares = [share for _, share in job.split]
        if any(not 0 < share < math.inf for share in shares) or not math.isfinite(sum(shares)):
            raise UsageError("--split shares must be > 0 and finite, and so must their sum")
        chosen = job.seed if seed is None else seed
        return cls(0 if chosen is None else chosen, job.sample, job.shuffle, job.split)

    def describe(self) -> dict[str, object]:
        """The report's record of what was asked."""
        return {
            "seed": self.seed,
            "sample": self.sample,
            "shuffle": self.shuffle,
            "split": dict(self.split),
        }

    def outputs(self, output: str) -> list[str]:
        """The files written: one per split, or ``output`` itself."""
        return [split_path(output, name) for name, _ in self.split] or [output]

    def select(
        self, groups: Iterable[Group], stages: Sequence[str], store: GroupStore
    ) -> Iterator[tuple[int, Group]]:
        """The groups to write, each with its split number (0 without ``--split``), in output
        order; ``stages`` names the stage numbers, ``store`` holds groups for sample and
        shuffle."""
        total = sum(share for _, share in self.split)
        cuts = list(accumulate(share / total for _, share in self.split))[:-1]
        seed = self.seed

        def split_of(group: Group) -> int:
            return bisect_right(cuts, unit(seed, "split", stages[group[0]], group[1]))

        if self.sample is None and not self.shuffle:
            chosen: Iterable[Group] = groups
        else:
            chosen = self._held(groups, stages, store)
        if not cuts:
            return ((0, group) for group in chosen)
        return ((split_of(group), group) for group in chosen)

    def _held(
        self, groups: Iterable[Group], stages: Sequence[str], store: GroupStore
    ) -> Iterator[Group]:
        """The sampled (or all) groups, in arrival order or, with ``--shuffle``, shuffled."""
        seed, shuffle = self.seed, self.shuffle

        def sort_key(group: Group) -> float:
            return unit(seed, "shuffle", stages[group[0]], group[1]) if shuffle else 0.0

        def add(ordinal: int, group: Group) -> None:
            store.add(ordinal, sort_key(group), group)

        if self.sample is None:
            for ordinal, group in enumerate(groups):
                add(ordinal, group)
        else:
            best: list[tuple[float, int]] = []  # (-sample key, ordinal): the largest on top
            size = self.sample
            for ordinal, group in enumerate(groups):
                key = unit(seed, "sample", stages[group[0]], group[1])
                if len(best) < size:
                    heapq.heappush(best, (-key, ordinal))
                elif size and key < -best[0][0]:
                    store.remove(heapq.heapreplace(best, (-key, ordinal))[1])
                else:
                    continue
                add(ordinal, group)
        return store.items(by_key=shuffle)
