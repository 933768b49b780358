"""Option types shared by the commands, defined once."""

from __future__ import annotations

import tomllib
from typing import Annotated

import typer

from converter.errors import UsageError

Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
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
    """Parse repeated ``KEY=VALUE`` options into a dict; UsageError naming ``what`` if malformed."""
    result: dict[str, str] = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key or not val:
            raise UsageError(f"{what} takes KEY=VALUE, got {value!r}")
        result[key.strip()] = val.strip()
    return result


def check_policies(config: str | None, given: list[str] | None) -> dict[str, str]:
    """Check policies from a TOML file's ``[checks]`` table, then ``--check`` (which wins)."""
    policies: dict[str, str] = {}
    if config is not None:
        try:
            with open(config, "rb") as f:
                table = tomllib.load(f).get("checks", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{config}: cannot read the check configuration: {exc}") from None
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise UsageError(f'{config}: [checks] holds NAME = "off" | "warn" | "reject" lines')
        policies.update(table)
    policies.update(pairs(given, "--check"))
    return policies
