"""The few domain errors the core raises; the CLI maps each to one line and an exit status."""

from __future__ import annotations

import signal

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_FATAL = 3
EXIT_INTERRUPTED = 130
#: stdout's reader went away (``convert stream ... | head``): 128 + SIGPIPE, as Unix tools end.
EXIT_OUTPUT_CLOSED = 141


class ConverterError(Exception):
    """Base of every error shown to the user as one line."""

    exit_code = EXIT_FATAL


class UsageError(ConverterError):
    """The command line or a configuration value is wrong (exit 2)."""

    exit_code = EXIT_USAGE


class InputError(ConverterError):
    """An input cannot be read or is malformed as a whole (exit 3)."""


def unequal_sources(
    short: list[str],
    longer: list[str],
    records: str,
    pairs: int,
    hint: str = "",
    limit: bool = True,
) -> InputError:
    """The error for sources that end unequally: ``short`` (``lang=path``) end after
    ``records`` records, ``longer`` go on; ``pairs`` groups can be paired (``hint`` ends it;
    ``limit``: the run could take ``--limit`` instead)."""
    ends = "ends" if len(short) == 1 else "end"
    more = "has" if len(longer) == 1 else "have"
    instead = f" (or --limit {pairs})" if limit else ""
    # (repaired shifts make groups with a record of one source only: then the groups differ)
    groups = "" if records == f"{pairs:,}" else " groups"
    return InputError(
        f"{', '.join(short)}: {ends} after {records} records but {', '.join(longer)} {more} more; "
        f"pair the first {pairs:,}{groups} with --unequal shortest{instead}{hint}"
    )


#: The largest count, index or seed an option takes: a 64-bit integer, as a report holds it.
COUNT_MAX = 2**63 - 1


def refuse_huge(name: str, value: int | None) -> None:
    """UsageError for an option's integer beyond 64 bits (None: not given)."""
    if value is not None and abs(value) > COUNT_MAX:
        raise UsageError(f"{name} {value} does not fit in 64 bits (at most {COUNT_MAX:,})")


class MalformedInput(InputError):
    """An input was read but its content is not a record container.

    ``kind`` is ``malformed`` (not JSON, or not UTF-8), ``empty`` (no JSON value at all) or
    ``not-container`` (one valid top-level scalar). ``convert validate`` reports it as a finding.
    """

    def __init__(self, message: str, kind: str = "malformed") -> None:
        super().__init__(message)
        self.kind = kind


class OutputError(ConverterError):
    """An output cannot be written (exit 3)."""


class PluginError(ConverterError):
    """A plugin failed to load, registered a duplicate, or raised inside a hook."""

    exit_code = EXIT_USAGE


#: What a plugin's code may raise that is reported as the plugin's failure (exit 2): any error,
#: and SystemExit, so that ``sys.exit()`` in a plugin never ends a run as if it had succeeded.
PLUGIN_FAILURES = (Exception, SystemExit)


class OutputClosed(Exception):
    """The reader of stdout went away (``convert stream ... | head``): a quiet stop (exit 141,
    ``EXIT_OUTPUT_CLOSED``, as a shell reports a command a broken pipe stopped).

    Not an OSError, so that click's own broken-pipe handling (exit 1) does not take it.
    """


#: The signals that stop a command cleanly, its temporary files removed, with what it says
#: then: Ctrl-C, kill, a terminal closed (SSH dropped), Ctrl-\\. Its exit status is 128 + the
#: signal's number (130, 143, 129, 131). One ignored when the command starts (``nohup``, a
#: script's background job) stays ignored.
STOP_SIGNALS: dict[int, str] = {
    signal.SIGINT: "interrupted",
    signal.SIGTERM: "terminated",
    signal.SIGHUP: "hung up",
    signal.SIGQUIT: "quit",
}


def handled_signals() -> list[int]:
    """The STOP_SIGNALS this process answers: those not ignored."""
    return [signum for signum in STOP_SIGNALS if signal.getsignal(signum) is not signal.SIG_IGN]


class Terminated(BaseException):
    """One of STOP_SIGNALS (its number is the argument) arrived; raised from the signal handler
    so clean-up runs (exit 128 + its number)."""


#: The STOP_SIGNALS numbers received while the CLI runs (converter.cli records each, then
#: raises Terminated): an interrupt that Python swallowed (raised in a weakref callback or a
#: ``__del__``) still stops the run before its files go into place and sets the exit status.
SIGNALS_RECEIVED: list[int] = []


def stop_if_signalled() -> None:
    """Raise Terminated for a signal received and swallowed on the way (SIGNALS_RECEIVED): called
    just before a command's files go into place."""
    if SIGNALS_RECEIVED:
        raise Terminated(SIGNALS_RECEIVED[0])
