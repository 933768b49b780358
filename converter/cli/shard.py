"""``convert shard SOURCE -o DIR``: a thin typer command over ``converter.scale.shard``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from converter.cli.options import Debug, Quiet
from converter.report import counted
from converter.scale.shard import DEFAULT_RECORDS, SHARDS_INDEX, shard


def shard_command(
    source: Annotated[
        str, typer.Argument(metavar="SOURCE", help="JSON array or JSON Lines file; '-' is stdin.")
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", metavar="DIR", help="New folder for the shards and shards.json."
        ),
    ],
    records: Annotated[
        int,
        typer.Option("--records", min=1, help="Records per shard (a shard may hold a few more)."),
    ] = DEFAULT_RECORDS,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Shard file name prefix (default: the source's file name)."),
    ] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> int:
    """Split a source into JSON Lines shards, every record kept in order, for range planning."""
    result = shard(source, output, records, name)
    if not quiet:
        sys.stderr.write(
            f"convert: {counted(result.records, 'record')} of {source} in "
            f"{counted(len(result.shards), 'shard')} in {output} (index {SHARDS_INDEX})\n"
        )
    return 0
