"""Atomic outputs: write to a temporary file beside the target, rename into place on success.

A failed or interrupted run removes its temporary file, so it never leaves a half-written output
nor clobbers an earlier good one. Special files are written directly: stdout (``-``), a path that
is or leads to anything but a regular file (/dev/null, a terminal, a FIFO, a socket), and a name of
one of this process's open files (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N), which is
written through that descriptor, so ``-o /dev/stdout >> log`` appends to ``log``. A symbolic link
is written through: the temporary file goes beside the file it points to and is renamed onto that
file, so the link stays a link.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple, cast

import orjson

from converter.compression import compressing
from converter.errors import OutputClosed, OutputError, handled_signals, stop_if_signalled

STDOUT = "-"
_MAX_LINKS = 40  # as the kernel's limit on symbolic links followed
#: The most bytes of a name that the temporary file or folder written beside it repeats: a
#: name may have 255, and the temporary adds a dot before, a random part and ``.tmp`` after.
TEMPORARY_NAME_BYTES = 200


def temporary_prefix(name: str) -> str:
    """The prefix of a temporary file or folder made beside ``name``: hidden, and short enough
    for the temporary of any legal name to be legal too."""
    return f".{os.fsdecode(os.fsencode(name)[:TEMPORARY_NAME_BYTES])}."


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

    ``temp`` is the temporary file renamed onto ``target`` at the end (None for special files
    and stdout, written directly); ``target`` is ``path`` with symbolic links resolved;
    ``owned`` says whether the stream is closed here (not stdout); ``finished`` that it was
    flushed and closed.
    """

    path: str
    stream: BinaryIO
    temp: str | None
    owned: bool = True
    target: str | None = None
    finished: bool = False

    def finish(self) -> None:
        """Flush and close the stream: the file is complete but not yet in place."""
        if self.finished:
            return
        self.stream.flush()
        if self.owned:
            self.stream.close()
            self.owned = False
        self.finished = True

    def commit(self) -> None:
        """Finish the file and move it into place."""
        self.finish()
        if self.temp is None:
            return
        try:
            os.replace(self.temp, self.target or self.path)
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


def one_line(text: str) -> str:
    """``text`` kept to one line: its line breaks (a file's name may hold one) written as
    their escapes."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def shown(path: str) -> str:
    """``path`` as UTF-8 text can hold it: the bytes of a file name that are not UTF-8 (which
    Python keeps as lone surrogates) written ``\\xff``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def json_document(document: Any) -> bytes:
    """``document`` (a report) as indented JSON, its texts :func:`shown` when a file name in it
    is not UTF-8 (orjson refuses lone surrogates)."""
    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    except TypeError:
        return orjson.dumps(_shown_texts(document), option=orjson.OPT_INDENT_2) + b"\n"


def _shown_texts(value: Any) -> Any:
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, dict):
        return {shown(str(k)): _shown_texts(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shown_texts(v) for v in value]
    return value


def descriptor_of(path: str) -> int | None:
    """The open file descriptor of this process that ``path`` names, through symbolic links
    (``/dev/stdout`` -> ``/proc/self/fd/1``: 1), or None."""
    own = re.compile(rf"/proc/{os.getpid()}(?:/task/\d+)?/fd")  # /proc/self/fd, resolved
    current = os.path.abspath(path)
    for _ in range(_MAX_LINKS):
        folder, name = os.path.split(current)
        real = os.path.realpath(folder)
        if name.isdigit() and own.fullmatch(real):
            return int(name)
        if not os.path.islink(current):
            return None
        current = os.path.normpath(os.path.join(real, os.readlink(current)))
    return None


def is_special(path: str) -> bool:
    """Whether ``path`` is written directly, not through a temporary file: stdout, one of this
    process's open files, or what is there and neither a regular file nor a folder."""
    if path == STDOUT or descriptor_of(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@contextmanager
def stdout_closed_stops() -> Iterator[None]:
    """What a command writes to stdout itself: once stdout's reader is gone (``| head``),
    OutputClosed, the CLI's quiet stop (exit 141), not the broken pipe click ends with 1."""
    try:
        yield
    except BrokenPipeError:
        raise OutputClosed(STDOUT) from None


def is_stdout(path: str) -> bool:
    """Whether ``path`` goes to stdout: ``-``, or a special file that is stdout's open file
    (``/dev/stdout``, ``/proc/self/fd/1``, the terminal or pipe stdout is)."""
    if path == STDOUT:
        return True
    if not is_special(path):
        return False
    try:
        return os.path.samestat(os.stat(path), os.fstat(1))
    except OSError:  # not there, or stdout closed
        return False


def check_writable(path: str, shown: str | None = None) -> None:
    """OutputError, naming ``path`` as ``shown`` (default: the path), when no file can be
    written at ``path`` (not stdout): a directory, a missing folder, no permission, a link that
    cannot be followed, a descriptor that is not open. The tests :func:`open_output` makes, for
    checking every output of a run before anything is written."""
    _place(path, shown or path)


class _Place(NamedTuple):
    """Where an output goes: the file ``path`` names (symbolic links resolved), its mode (None:
    not there yet) and the open descriptor it names (None: not one)."""

    target: str
    mode: int | None
    descriptor: int | None


def _place(path: str, shown: str) -> _Place:
    """Where ``path`` goes; OutputError naming ``shown`` when no file can be written there."""
    descriptor = descriptor_of(path)
    if descriptor is not None:
        try:
            mode = os.fstat(descriptor).st_mode
        except OSError:
            raise OutputError(f"{shown}: file descriptor {descriptor} is not open") from None
        if not os.access(path, os.W_OK):
            raise OutputError(f"{shown}: permission denied")
        return _Place(path, mode, descriptor)
    target = os.path.realpath(path)
    try:
        found: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise OutputError(f"{shown}: {exc.strerror or exc}") from None
    if found is not None and stat.S_ISDIR(found):
        raise OutputError(f"{shown}: is a directory")
    checked = target
    if found is None or stat.S_ISREG(found):  # a new file goes into the folder
        checked = os.path.dirname(target)
        if not os.path.isdir(checked):
            raise OutputError(f"{shown}: folder {checked} does not exist")
    if not os.access(checked, os.W_OK):
        raise OutputError(f"{shown}: permission denied")
    return _Place(target, found, None)


def open_output(path: str) -> AtomicOutput:
    """Start writing ``path`` (``-`` is stdout); OutputError when its folder is unusable."""
    if path == STDOUT:
        if getattr(sys.stdout, "closed_stdout", False):  # converter.launch
            raise OutputError("-: stdout is closed; write to a file with -o FILE")
        return AtomicOutput(path, _guard(path, sys.stdout.buffer), None, owned=False)
    target, mode, descriptor = _place(path, path)
    try:
        if descriptor is not None:  # /dev/stdout: written through the open file, as it is
            return AtomicOutput(path, _guard(path, os.fdopen(os.dup(descriptor), "wb")), None)
        if mode is not None and not stat.S_ISREG(mode):  # /dev/null, a FIFO, a terminal
            return AtomicOutput(path, _guard(path, open(path, "wb")), None)
        folder, name = os.path.split(target)
        fd, temp = tempfile.mkstemp(prefix=temporary_prefix(name), suffix=".tmp", dir=folder)
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
    stream = _guard(path, os.fdopen(fd, "wb", buffering=1 << 20))
    return AtomicOutput(path, stream, temp, target=target)


def _guard(path: str, raw: BinaryIO) -> BinaryIO:
    """``raw`` with errors named after ``path``, compressed when its suffix says so."""
    return compressing(path, cast(BinaryIO, GuardedStream(path, raw)))


def start_output(stack: ExitStack, path: str) -> AtomicOutput:
    """Open ``path`` atomically; unless committed, it is discarded when ``stack`` closes."""
    out = open_output(path)
    stack.callback(out.discard)
    return out


#: A small file written with a run's outputs (a report, a card, ``dataset_info.json``).
Companion = tuple[str, bytes]


def commit_all(
    stack: ExitStack,
    outputs: Iterable[AtomicOutput | None],
    companions: Callable[[dict[str, str]], Iterable[Companion]] | None = None,
) -> None:
    """Finish every output, write the small files that go with them, then put them all in
    place: all or none.

    ``companions`` gets, by path, where each finished output can be read (its temporary file,
    or the path itself for stdout and special files) and returns the companion files, path and
    content (a report, which may hold the outputs' checksums). When anything fails before the
    outputs are put in place (a companion that cannot be written: a full disk), none is (the
    outputs are discarded as usual when ``stack`` closes). The stop signals are held while the
    files go into place (:func:`signals_held`).
    """
    outs = [out for out in outputs if out is not None]
    for out in outs:
        out.finish()
    extra = list(companions({out.path: out.temp or out.path for out in outs})) if companions else []
    with signals_held():
        stop_if_signalled()
        for path, content in extra:
            out = start_output(stack, path)
            out.stream.write(content)
            out.finish()
            outs.append(out)
        for out in outs:
            out.commit()


@contextmanager
def signals_held() -> Iterator[None]:
    """The stop signals (converter.errors.STOP_SIGNALS) held off (in the main thread) until the
    block ends, then delivered, so that the files of a run go into place all together: an
    interrupted run is interrupted before any is, or after all are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = handled_signals()
    handlers = {signum: signal.signal(signum, lambda n, _f: caught.append(n)) for signum in held}
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    if caught:
        signal.raise_signal(caught[0])
