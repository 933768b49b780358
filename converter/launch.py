"""The ``convert`` command's start: SIGINT and SIGTERM answered in one line as soon as this
module runs (after the interpreter, its site packages and the ``converter`` package: the
first ~0.1 s are Python's own), while the CLI's modules are still being imported
(:mod:`converter.cli` then takes over with its own handlers). Closed standard streams get
stand-ins."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from converter.errors import EXIT_INTERRUPTED, EXIT_TERMINATED


def _starting(signum: int, _frame: FrameType | None) -> None:
    """Stop while starting, nothing written yet: one line, exit 130 or 143 at once (an exception
    raised here could be swallowed by the import machinery, and the run would go on)."""
    interrupted = signum == signal.SIGINT
    sys.stderr.write("convert: interrupted\n" if interrupted else "convert: terminated\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED if interrupted else EXIT_TERMINATED)


def answer_signals() -> None:
    """Answer SIGINT and SIGTERM as :func:`_starting` does until the CLI takes over."""
    signal.signal(signal.SIGINT, _starting)
    signal.signal(signal.SIGTERM, _starting)


def stand_in_for_closed_streams() -> None:
    """Where stdout or stderr was closed (``>&-``, ``2>&-``), Python leaves None: put /dev/null
    there, so that messages go nowhere instead of failing. A stdout stand-in is marked
    ``closed_stdout``: writing the output there is refused (:func:`converter.output.open_output`),
    never lost silently."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit
        sys.stdout.closed_stdout = True  # type: ignore[attr-defined]
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives until exit


def main() -> None:
    """Run the CLI, signals answered from the start."""
    answer_signals()
    stand_in_for_closed_streams()
    from converter.cli import main as run_cli

    run_cli()
