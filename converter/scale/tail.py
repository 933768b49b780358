"""The tail of a range-parallel run, done part by part, in part order, as the parts are made
(while later ranges still run): the duplicate check settled over the whole run (the parts'
``(index, key)`` pairs replayed in index order) and, unless the parts stay unmerged, the output
and the rejects file merged. What is left once the last part is made is that part's share.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Any, BinaryIO

from converter.builtin.checks import duplicate_finding
from converter.dataset_info import dataset_info_file
from converter.job import StreamJob
from converter.kernels import NATIVE
from converter.model import WriterOptions, WriterSpec
from converter.output import Companion, commit_all
from converter.rejects import rejects_wanted
from converter.report import EXAMPLES, CheckStats, RunReport
from converter.scale.parts import PartEntry, StreamMerge, read_blocks
from converter.scale.ranges import read_keys
from converter.seen import SeenSet


class _Lines:
    """The rejects file's writer: the lines as they are."""

    #: the lines are joined with nothing (converter.scale.parts.separator_of)
    separator = b""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, chunks: list[bytes]) -> None:
        """Write the lines."""
        self.stream.write(b"".join(chunks))

    def close(self) -> None:
        """Nothing to finish."""


def replay(seen: SeenSet, pairs: bytes, examples: int) -> tuple[int, list[tuple[int, int]]]:
    """The duplicate check over one block of a part's keys (``(index, key)`` pairs, in order;
    each remembered in ``seen``): how many were seen before, and the first ``examples`` of
    those as ``(index, earlier)``. Its compiled twin: ``converter._kernels.Duplicates.replay``."""
    count = 0
    firsts: list[tuple[int, int]] = []
    for index, key in read_keys(pairs):
        earlier = seen.first_seen(key, index)
        if earlier is not None:
            count += 1
            if len(firsts) < examples:
                firsts.append((index, earlier))
    return count, firsts


class Tail:
    """Takes the parts of ``job``'s run in order (:meth:`add`), then :meth:`finish` completes
    the report and puts the outputs in place. ``merging``: write the output and the rejects
    file (made only when a part holds rejects, or one was asked for). Outputs not finished
    when ``stack`` closes are removed."""

    def __init__(
        self,
        stack: ExitStack,
        folder: str,
        job: StreamJob,
        writer: tuple[WriterSpec, WriterOptions],
        rejects_path: str,
        report: RunReport,
        merging: bool,
    ) -> None:
        self.stack, self.folder, self.job, self.rejects_path = stack, folder, job, rejects_path
        self.spec = writer[0]
        check = report.checks.get("duplicate")
        self.duplicates = None if check is None else CheckStats(check.policy)
        if check is not None:
            self.seen = SeenSet()
            stack.callback(self.seen.close)
            compiled = NATIVE.Duplicates(self.seen, duplicate_finding) if NATIVE else None
            self.replay = compiled.replay if compiled else partial(replay, self.seen)
        self.out: StreamMerge | None = None
        self.rejects: StreamMerge | None = None
        if merging:
            spec, options = writer
            self.out = StreamMerge(
                stack, folder, "out", job.output, lambda stream: spec.make(stream, options)
            )
            if rejects_wanted(job.rejects, rejects_path, job.output):
                self._open_rejects()

    def _open_rejects(self) -> StreamMerge:
        """Start the rejects file (a merge calls only ``write`` and ``close`` of a writer)."""
        lines: Any = _Lines
        self.rejects = StreamMerge(self.stack, self.folder, "rejects", self.rejects_path, lines)
        return self.rejects

    def add(self, entry: PartEntry) -> None:
        """Take the next part."""
        if self.duplicates is not None:
            self._settle(entry)
        if self.out is not None:
            self.out.add(entry)
            if self.rejects is not None or entry.files["rejects"].groups:
                (self.rejects or self._open_rejects()).add(entry)

    def _settle(self, entry: PartEntry) -> None:
        """The duplicate check over the part's keys, given those of the parts before."""
        stats = self.duplicates
        assert stats is not None
        lang, part = self.job.sources[0][0], entry.files["keys"]
        for block in read_blocks(os.path.join(self.folder, part.file), part):
            count, firsts = self.replay(block.payload, max(0, EXAMPLES - len(stats.examples)))
            for index, earlier in firsts:
                stats.add(index, [duplicate_finding(lang, earlier)], False)
            stats.warned += count - len(firsts)

    def finish(self, report: RunReport, companions: Callable[[], list[Companion]]) -> None:
        """Put the settled duplicate check in ``report`` (whose other counts are the parts'
        added up: ranges never count duplicates), then the outputs in place with the
        ``dataset_info`` entry and the ``companions`` (the report), all or none."""
        if self.duplicates is not None:
            report.checks["duplicate"] = self.duplicates
        merged = [merge.finish() for merge in (self.out, self.rejects) if merge is not None]

        def files(_finished: dict[str, str]) -> list[Companion]:
            made = companions()
            if self.out is not None and self.job.dataset_info is not None:
                info = dataset_info_file(self.job.dataset_info, [self.job.output], self.spec)
                made.append(info)
            return made

        commit_all(self.stack, merged, files)
