"""``convert stream``: sources in lock-step -> tag -> filter -> check -> interleave -> validate
-> select -> write.

The core owns the loop (converter.loop); plugins supply the pieces, resolved once per run into
plain callables. A group (the records with the same index in every source) is written or
rejected whole. A stream is the one-stage case of converter.stages, without a ``seq`` prefix.
"""

from __future__ import annotations

from collections.abc import Callable

from converter.job import StreamJob
from converter.report import RunReport
from converter.stages import Stage, run_stages

__all__ = ["StreamJob", "run_stream"]


def run_stream(
    job: StreamJob, progress: Callable[[int], None] | None = None
) -> tuple[RunReport, int]:
    """Run ``job``; return the report and the exit status (0 clean, 1 groups rejected).

    Raises ConverterError subclasses for usage, input and output errors; nothing is left
    written then.
    """
    return run_stages([Stage("", job)], job, progress=progress)
