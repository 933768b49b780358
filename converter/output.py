"""Atomic outputs: write to a temporary file beside the target, rename into place on success.

A failed or interrupted run removes its temporary file, so it never leaves a half-written output
nor clobbers an earlier good one. Special files (stdout, /dev/null, pipes) are written directly.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import BinaryIO, cast

from converter.compression import compressing
from converter.errors import OutputClosed, OutputError

STDOUT = "-"


class GuardedStream:
    """A binary output whose failed writes raise OutputError naming the file.

    A short write is retried, so the error behind it surfaces instead of being lost. A broken
    pipe raises OutputClosed: the reader went away (``convert stream ... | head``), which the
    CLI treats as a quiet stop.
    """

    def __init__(self, path: str, raw: BinaryIO) -> None:
        self.path = path
        self.raw = raw

    def write(self, data: bytes) -> int:
        """Write all of ``data``."""
        view = memoryview(data)
        with self._errors():
            while view:
                written = self.raw.write(view)
                if not written:
                    raise OSError(errno.EIO, "short write")
                view = view[written:]
        return len(data)

    def flush(self) -> None:
        """Flush the buffer to the file."""
        with self._errors():
            self.raw.flush()

    def close(self) -> None:
        """Flush and close."""
        with self._errors():
            self.raw.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            raise OutputClosed(self.path) from None
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write: {exc.strerror or exc}") from None


@dataclass
class AtomicOutput:
    """One output in progress: ``stream`` to write to, ``commit()`` to put it in place.

    ``temp`` is the temporary file renamed onto ``path`` at the end (None for special files and
    stdout, written directly); ``owned`` says whether the stream is closed here (not stdout).
    """

    path: str
    stream: BinaryIO
    temp: str | None
    owned: bool = True

    def commit(self) -> None:
        """Flush and move the finished file into place."""
        self.stream.flush()
        if self.owned:
            self.stream.close()
            self.owned = False
        if self.temp is None:
            return
        try:
            os.replace(self.temp, self.path)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        self.temp = None

    def discard(self) -> None:
        """Drop the unfinished output (nothing happens once committed)."""
        if self.owned:
            with suppress(OSError, OutputError, OutputClosed):
                self.stream.close()
            self.owned = False
        if self.temp is None:
            return
        with suppress(OSError):
            os.unlink(self.temp)
        self.temp = None


def open_output(path: str) -> AtomicOutput:
    """Start writing ``path`` (``-`` is stdout); OutputError when its folder is unusable."""
    if path == STDOUT:
        return AtomicOutput(path, _guard(path, sys.stdout.buffer), None, owned=False)
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
            return AtomicOutput(path, _guard(path, open(path, "wb")), None)
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
    return AtomicOutput(path, _guard(path, os.fdopen(fd, "wb", buffering=1 << 20)), temp)


def _guard(path: str, raw: BinaryIO) -> BinaryIO:
    """``raw`` with errors named after ``path``, compressed when its suffix says so."""
    return compressing(path, cast(BinaryIO, GuardedStream(path, raw)))


def start_output(stack: ExitStack, path: str) -> AtomicOutput:
    """Open ``path`` atomically; unless committed, it is discarded when ``stack`` closes."""
    out = open_output(path)
    stack.callback(out.discard)
    return out
