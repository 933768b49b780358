"""``convert validate FILE ...``: a thin typer command over ``validate_files``."""

from __future__ import annotations

import io
import sys
from enum import StrEnum
from typing import Annotated

import typer

from converter.cli.options import Debug, Plugins, Quiet
from converter.errors import UsageError
from converter.output import json_document, stdout_closed_stops
from converter.paths import same_file
from converter.validate import DEFAULT_MAX_ERRORS, Finding, validate_files


class ReportFormat(StrEnum):
    """The format of the report this command writes."""

    text = "text"
    json = "json"


def validate(
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE...",
            help="JSON array or JSON Lines files, also .gz or .zst ('-' is stdin).",
        ),
    ],
    schema: Annotated[
        str,
        typer.Option(
            "--schema",
            metavar="NAME|PATH",
            help="A bundled schema (record, record-tags, alpaca, dolly, dolly-ja, seed-tasks, "
            "...) or a JSON Schema file.",
        ),
    ] = "record",
    max_errors: Annotated[
        int,
        typer.Option(
            "--max-errors",
            min=0,
            metavar="N",
            help="List at most N findings (problems with whole files are always listed); "
            "the counting goes on.",
        ),
    ] = DEFAULT_MAX_ERRORS,
    languages: Annotated[
        str | None,
        typer.Option(
            "--languages",
            metavar="en,ja",
            help="Languages every index of converter output must have.",
        ),
    ] = None,
    format: Annotated[
        ReportFormat,
        typer.Option(
            "--format", "-f", help="text: one line per finding; json: one object on stdout."
        ),
    ] = ReportFormat.text,
    items_path: Annotated[
        str | None,
        typer.Option(
            "--items-path",
            metavar="PREFIX",
            help='Where the records are in a wrapping object, e.g. data.item for {"data": [...]}.',
        ),
    ] = None,
    quiet: Quiet = False,
    plugin: Plugins = None,
    debug: Debug = False,
) -> int:
    """Validate every record of each file; exit 0 all valid, 1 findings, 2 bad command line,
    3 a file unreadable."""
    as_text = format is ReportFormat.text
    for path in files:  # its findings would be read back as records, on and on
        if path != "-" and same_file("-", path):
            raise UsageError(
                f"stdout would write into {path}, which it validates: write it elsewhere"
            )
    if as_text and isinstance(sys.stdout, io.TextIOWrapper):
        # a finding quotes the data: where stdout's encoding lacks a character (LC_ALL=C), an
        # escape, as on stderr, not a failure
        sys.stdout.reconfigure(errors="backslashreplace")
    with stdout_closed_stops():
        result = validate_files(
            paths=files,
            schema=schema,
            max_errors=max_errors,
            languages=[code.strip() for code in (languages or "").split(",") if code.strip()],
            plugins=tuple(plugin or ()),
            on_finding=_print if as_text else None,
            items_path=items_path,
        )
        if not as_text:
            sys.stdout.buffer.write(json_document(result.to_json()))
        sys.stdout.flush()
    if as_text and not quiet:
        sys.stderr.write(result.summary() + "\n")
    return result.exit_status


def _print(finding: Finding) -> None:
    sys.stdout.write(f"{finding}\n")
