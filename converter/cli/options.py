"""Option types shared by the commands, defined once."""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from typing import Annotated

import typer

from converter.errors import UsageError
from converter.inputs import read_settings

#: Whether the command's options include ``--debug`` (set as they are parsed; a value that
#: only looks like it, ``--system --debug``, is not the flag).
DEBUG_GIVEN: ContextVar[bool] = ContextVar("DEBUG_GIVEN", default=False)


def _note_debug(given: bool) -> bool:
    """Remember whether ``--debug`` was given, for the CLI's error handling."""
    DEBUG_GIVEN.set(given)
    return given


Debug = Annotated[
    bool, typer.Option("--debug", help="Show tracebacks for errors.", callback=_note_debug)
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print no summary.")]
Plugins = Annotated[
    list[str] | None,
    typer.Option(
        "--plugin",
        metavar="MODULE",
        help="Load a plugin module by import path or .py file (repeatable).",
    ),
]


def pairs(values: list[str] | None, what: str) -> dict[str, str]:
    """Parse repeated ``KEY=VALUE`` options into a dict; UsageError naming ``what`` if one is
    malformed or gives a key two different values (which one was meant is not known)."""
    result: dict[str, str] = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not key or not val:
            raise UsageError(f"{what} takes KEY=VALUE, got {value!r}")
        if result.setdefault(key, val) != val:
            raise UsageError(f"{what} gives {key} two values, {result[key]} and {val}: keep one")
    return result


def check_policies(config: str | None, given: list[str] | None) -> dict[str, str]:
    """Check policies from a TOML file's ``[checks]`` table, then ``--check`` (which wins)."""
    policies: dict[str, str] = {}
    if config is not None:
        policies.update(_checks_table(config))
    policies.update(pairs(given, "--check"))
    return policies


def _checks_table(config: str) -> dict[str, str]:
    """The ``[checks]`` table of the TOML file ``config``; UsageError naming the file if it
    cannot be read, is not UTF-8 TOML, or has no such table of strings."""
    try:
        document = tomllib.loads(read_settings(config).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{config}: the check configuration is not UTF-8 (byte {exc.start})"
        ) from None
    except OSError as exc:
        reason = exc.strerror or exc
        raise UsageError(f"{config}: cannot read the check configuration: {reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{config}: cannot read the check configuration: {exc}") from None
    table = document.get("checks")
    if table is None:
        raise UsageError(f'{config}: no [checks] table (NAME = "off" | "warn" | "reject" lines)')
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise UsageError(f'{config}: [checks] holds NAME = "off" | "warn" | "reject" lines')
    return table


Start = Annotated[
    int,
    typer.Option(
        "--start", min=0, metavar="N", help="Skip the groups before index N (read, not checked)."
    ),
]
Stop = Annotated[
    int | None,
    typer.Option(
        "--stop", min=0, metavar="N", help="Stop before group index N (like \\[start:stop])."
    ),
]
Sample = Annotated[
    int | None,
    typer.Option(
        "--sample",
        min=0,
        metavar="N",
        help="Write a seeded uniform sample of N groups, in input order "
        "(see selection.md in docs).",
    ),
]
Shuffle = Annotated[
    bool, typer.Option("--shuffle", help="Write the groups in a seeded random order.")
]
Split = Annotated[
    str | None,
    typer.Option(
        "--split",
        metavar="NAME=SHARE,...",
        help="One file per split, e.g. train=0.9,eval=0.1 -> out.train.json, out.eval.json; "
        "a group never spans two.",
    ),
]
Seed = Annotated[
    int | None,
    typer.Option(
        "--seed", metavar="S", help="Seed of --sample, --shuffle and --split (default 0)."
    ),
]
