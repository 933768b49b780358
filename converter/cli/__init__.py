"""The ``convert`` command line: thin typer commands over the Python API, one error boundary."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import typer

from converter.cli import stream
from converter.errors import (
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    ConverterError,
    Terminated,
)

app = typer.Typer(
    name="convert",
    help="Pair parallel instruction datasets into one tagged, validated training file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("stream", no_args_is_help=True)(stream.stream)


@app.callback()
def _root() -> None:
    """Pair parallel instruction datasets into one tagged, validated training file."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated


def _say(message: str) -> None:
    sys.stderr.write(f"convert: {message}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure becomes one line on stderr and a defined exit status."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        status = app(args=args, prog_name="convert", standalone_mode=False)
    except typer.Exit as exc:
        status = exc.exit_code
    except typer.Abort:
        _say("interrupted")
        status = EXIT_INTERRUPTED
    except typer.TyperException as exc:
        _say(f"error: {exc.format_message()} (see 'convert --help')")
        status = EXIT_USAGE
    except ConverterError as exc:
        if debug:
            raise
        _say(f"error: {exc}")
        status = exc.exit_code
    except KeyboardInterrupt:
        _say("interrupted")
        status = EXIT_INTERRUPTED
    except Terminated:
        _say("terminated")
        status = EXIT_TERMINATED
    except BrokenPipeError:
        # The reader of stdout went away (``convert stream ... | head``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = EXIT_OK
    except Exception as exc:  # a bug: still one line, unless --debug
        if debug:
            raise
        _say(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)")
        status = EXIT_FATAL
    sys.exit(status if isinstance(status, int) else EXIT_OK)
