"""The ``convert`` command's start: the stop signals answered in one line as soon as this
module runs (after the interpreter, its site packages and the ``converter`` package: the
first ~0.1 s are Python's own), while the CLI's modules are still being imported
(:mod:`converter.cli` then takes over with its own handlers). Closed standard streams get
stand-ins."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Any, TextIO

from converter.errors import STOP_SIGNALS, handled_signals


def _starting(signum: int, _frame: FrameType | None) -> None:
    """Stop while starting, nothing written yet: one line, exit 128 + ``signum`` at once (an
    exception raised here could be swallowed by the import machinery, and the run would go on)."""
    sys.stderr.write(f"convert: {STOP_SIGNALS[signum]}\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def answer_signals() -> None:
    """Answer the stop signals (those not ignored) as :func:`_starting` does until the CLI
    takes over."""
    for signum in handled_signals():
        signal.signal(signum, _starting)


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


class _StderrOrNothing:
    """stderr, which goes quiet once its reader is gone (``convert ... 2>&1 | grep -q x``):
    the messages are lost then, not the exit status (a broken pipe there made every command
    end 1)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text``, or nothing once the reader is gone."""
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self) -> None:
        """Flush, or nothing once the reader is gone."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def _gone(self) -> None:
        """Point the stream's file at /dev/null: what is left to write goes there."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main() -> None:
    """Run the CLI, signals answered from the start."""
    answer_signals()
    stand_in_for_closed_streams()
    sys.stderr = _StderrOrNothing(sys.stderr)
    from converter.cli import main as run_cli

    run_cli()
