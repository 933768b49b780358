"""Atomic outputs: write to a temporary file beside the target, rename into place on success.

A failed or interrupted run removes its temporary file, so it never leaves a half-written output
nor clobbers an earlier good one. Special files (stdout, /dev/null, pipes) are written directly.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from typing import BinaryIO

from converter.errors import OutputError

STDOUT = "-"


@dataclass
class AtomicOutput:
    """One output in progress: ``stream`` to write to, ``commit()`` to put it in place."""

    path: str
    stream: BinaryIO
    temp: str | None

    def commit(self) -> None:
        """Flush and move the finished file into place."""
        try:
            self.stream.flush()
            if self.temp is None:
                return
            self.stream.close()
            os.replace(self.temp, self.path)
            self.temp = None
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write: {exc.strerror or exc}") from None

    def discard(self) -> None:
        """Drop the unfinished output (nothing happens once committed)."""
        if self.temp is None:
            return
        with suppress(OSError):
            self.stream.close()
        with suppress(OSError):
            os.unlink(self.temp)
        self.temp = None


def open_output(path: str) -> AtomicOutput:
    """Start writing ``path`` (``-`` is stdout); OutputError when its folder is unusable."""
    if path == STDOUT:
        return AtomicOutput(path, sys.stdout.buffer, None)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"{path}: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"{path}: is a directory")
    try:
        if mode is not None and not stat.S_ISREG(mode):  # /dev/null, a FIFO, a terminal
            return AtomicOutput(path, open(path, "wb"), None)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise OutputError(f"{path}: folder {folder} does not exist")
        fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except PermissionError:
        raise OutputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    if mode is not None:
        os.chmod(temp, stat.S_IMODE(mode))
    else:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
    return AtomicOutput(path, os.fdopen(fd, "wb", buffering=1 << 20), temp)
