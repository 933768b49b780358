"""The ``convert`` command line: thin typer commands over the Python API, one error boundary."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Annotated, Any

import typer

from converter.cli import plugins, run, shard, stream, validate
from converter.cli.options import DEBUG_GIVEN
from converter.errors import (
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT_CLOSED,
    EXIT_USAGE,
    SIGNALS_RECEIVED,
    STOP_SIGNALS,
    ConverterError,
    OutputClosed,
    Terminated,
    handled_signals,
)
from converter.hookcalls import plugins_blamed
from converter.output import one_line, stdout_closed_stops

app = typer.Typer(
    name="convert",
    help="Pair parallel instruction datasets into one tagged, validated training file.",
    add_completion=False,
    pretty_exceptions_enable=False,
)
# No ``no_args_is_help``: what is missing is then click's own message naming it ("Missing
# argument 'LANG=PATH...'", "Missing command"), not a help page and an empty error.
app.command("stream")(stream.stream)
app.command("validate")(validate.validate)
app.command("run")(run.run)
app.command("shard")(shard.shard_command)
app.add_typer(plugins.app, name="plugins")


def _print_version(asked: bool) -> None:
    """``--version``: the version, and which code runs the hot paths (for bug reports)."""
    if not asked:
        return
    import platform

    import ijson

    from converter import __version__, kernels

    with stdout_closed_stops():
        sys.stdout.write(
            f"convert (langpair-converter) {__version__}; pair-check kernels "
            f"{kernels.describe()}, ijson backend {ijson.backend}, "
            f"Python {platform.python_version()}\n"
        )
        sys.stdout.flush()
    raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version."
        ),
    ] = False,
) -> None:
    """Pair parallel instruction datasets into one tagged, validated training file."""


def _on_signal(signum: int, frame: Any) -> None:
    # Our own exception, not KeyboardInterrupt: click would print a blank line for that one.
    SIGNALS_RECEIVED.append(signum)
    raise Terminated(signum)


def _unraisable(info: Any) -> None:
    """Python's report of an exception it had to swallow, except our signal's: that one is
    acted on all the same (converter.errors.SIGNALS_RECEIVED)."""
    if not isinstance(info.exc_value, Terminated):
        sys.__unraisablehook__(info)


def _stopped(signum: int) -> int:
    """Say that a signal stopped the command; its exit status (128 + ``signum``)."""
    _say(STOP_SIGNALS[signum])
    return 128 + signum


def _say(message: str) -> None:
    """Say ``message`` as one line: a line break in it (a file's name may hold one) is
    written as its escape."""
    sys.stderr.write(f"convert: {one_line(message)}\n")
    sys.stderr.flush()


def _usage_message(exc: typer.TyperException, args: list[str]) -> str:
    """A command-line error as one line, pointing at the help of the command it concerns."""
    ctx = getattr(exc, "ctx", None)  # most of click's usage errors carry the command's context
    command = ctx.command_path if ctx is not None else _command_path(args)
    return f"{exc.format_message().removesuffix('.')} (see '{command} --help')"


def _command_path(args: list[str]) -> str:
    """The command ``args`` call (``convert stream``, ``convert plugins new``), read from its
    words: for the errors click raises without a context (an option missing its value)."""
    command: Any = typer.main.get_command(app)
    words = ["convert"]
    for arg in args:
        commands = getattr(command, "commands", None)  # a group's subcommands
        if commands is None:
            break
        if arg in commands:
            command = commands[arg]
            words.append(arg)
        elif not arg.startswith("-"):
            break
    return " ".join(words)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure becomes one line on stderr and a defined exit status. The
    signal handlers and the unraisable hook it sets are the process's as it was afterwards."""
    args = sys.argv[1:] if argv is None else argv
    handlers = {signum: signal.getsignal(signum) for signum in handled_signals()}
    hook = sys.unraisablehook
    SIGNALS_RECEIVED.clear()
    sys.unraisablehook = _unraisable
    for signum in handlers:
        signal.signal(signum, _on_signal)
    try:
        status = _status_of(args)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        sys.unraisablehook = hook
        SIGNALS_RECEIVED.clear()
    sys.exit(status)


def _output_closed() -> int:
    """The reader of stdout went away (``convert stream ... | head``): stop quietly, as Unix
    tools do, nothing else written; stdout points at /dev/null then, so that flushing it at
    exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OUTPUT_CLOSED


def _status_of(args: list[str]) -> int:
    """Run the command ``args`` name; its exit status, every failure said in one line."""
    DEBUG_GIVEN.set(False)  # (set again as the command's options are parsed)
    try:
        with plugins_blamed():
            status = app(args=args, prog_name="convert", standalone_mode=False)
    except typer.Exit as exc:
        status = exc.exit_code
    except typer.Abort:
        _say("interrupted")
        status = EXIT_INTERRUPTED
    except typer.TyperException as exc:
        _say(f"error: {_usage_message(exc, args)}")
        status = EXIT_USAGE
    except ConverterError as exc:
        if DEBUG_GIVEN.get():
            raise
        _say(f"error: {exc}")
        status = exc.exit_code
    except KeyboardInterrupt:
        _say("interrupted")
        status = EXIT_INTERRUPTED
    except Terminated as exc:
        status = _stopped(exc.args[0])
    except (OutputClosed, BrokenPipeError):
        status = _output_closed()
    except SystemExit as exc:  # rich's own end (1) for a broken stdout: ``convert --help | head``
        if not isinstance(exc.__context__, BrokenPipeError):
            raise
        status = _output_closed()
    except Exception as exc:  # a bug (or a signal's exception wrapped by Python): one line
        if SIGNALS_RECEIVED:
            status = _stopped(SIGNALS_RECEIVED[0])
        elif DEBUG_GIVEN.get():
            raise
        else:
            _say(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)")
            status = EXIT_FATAL
    if SIGNALS_RECEIVED and status not in [128 + signum for signum in STOP_SIGNALS]:
        status = _stopped(SIGNALS_RECEIVED[0])  # swallowed where it was raised
    return status if isinstance(status, int) else EXIT_OK
