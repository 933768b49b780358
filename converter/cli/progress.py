"""Progress of ``convert stream`` on stderr: rich's bar on a terminal, a plain line elsewhere.

``--progress`` forces it on when stderr is not a terminal (a log file, a CI job); a redrawn bar
would fill such a file with control codes, so there it is a line every :data:`LINE_EVERY`
seconds (and one at the first update, to show the run has started).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from converter.inputs import STDIN
from converter.job import StreamJob

#: Seconds between two plain progress lines.
LINE_EVERY = 10.0

Update = Callable[[int], None]


@contextmanager
def progress_reporter(job: StreamJob, show: bool) -> Iterator[Update | None]:
    """A callback taking the bytes read so far, or None when ``show`` is false."""
    if not show:
        yield None
        return
    total = _total_bytes(job)
    if sys.stderr.isatty():
        with _bar(total) as update:
            yield update
    else:
        yield _PlainLines(total)


def _total_bytes(job: StreamJob) -> int | None:
    """The sources' sizes on disk summed, or None when one is stdin or not a regular file."""
    sizes = [os.path.getsize(p) for _, p in job.sources if p != STDIN and os.path.isfile(p)]
    return sum(sizes) if len(sizes) == len(job.sources) else None


@contextmanager
def _bar(total: int | None) -> Iterator[Update]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True, redirect_stdout=False) as bar:
        task = bar.add_task("stream", total=total)
        yield lambda done: bar.update(task, completed=done)


class _PlainLines:
    """Writes ``convert: progress: 12.3 of 45.6 MB read (27%), 8.9 MB/s`` now and then."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.started = time.monotonic()
        self.last: float | None = None

    def __call__(self, done: int) -> None:
        """Note ``done`` bytes read; write a line if the last one is old enough."""
        now = time.monotonic()
        if self.last is not None and now - self.last < LINE_EVERY:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9) / 1e6
        if self.total:
            read = f"{done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB read ({done / self.total:.0%})"
        else:
            read = f"{done / 1e6:,.1f} MB read"
        sys.stderr.write(f"convert: progress: {read}, {rate:,.1f} MB/s\n")
        sys.stderr.flush()
