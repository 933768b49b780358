"""``convert run RECIPE.toml``: a thin typer command over ``run_recipe``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from converter.cli.options import Debug, Plugins, Quiet
from converter.output import stdout_closed_stops
from converter.recipe import Overrides
from converter.recipe_run import RecipeRun, plan, run_recipe


def run(
    recipe: Annotated[
        str, typer.Argument(metavar="RECIPE.toml", help="The recipe (see docs/recipes.md).")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Output file ('-' = stdout), instead of the recipe's output path.",
        ),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Writer, instead of the recipe's output format."),
    ] = None,
    rejects: Annotated[
        str | None,
        typer.Option("--rejects", help="Rejects file, instead of the recipe's or the default."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of the mix and the selection, instead of the recipe's."),
    ] = None,
    report: Annotated[
        str | None,
        typer.Option("--report", help="Write the run's report, with its provenance, as JSON here."),
    ] = None,
    card: Annotated[
        str | None,
        typer.Option("--card", metavar="PATH", help="Write a dataset card (Markdown) here."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the plan and the counts; write no output or rejects."
        ),
    ] = False,
    verify: Annotated[
        str | None,
        typer.Option(
            "--verify",
            metavar="REPORT",
            help="Check the rebuild against an earlier --report: the recipe and every input "
            "before writing, every output after (a difference is an error, exit 3).",
        ),
    ] = None,
    quiet: Quiet = False,
    plugin: Plugins = None,
    debug: Debug = False,
) -> int:
    """Run a recipe's stages (sources, filters, checks, taggers) into one output."""
    request = RecipeRun(
        recipe=recipe,
        overrides=Overrides(
            output=output, format=format, rejects=rejects, seed=seed, plugins=tuple(plugin or ())
        ),
        report=report,
        card=card,
        dry_run=dry_run,
        verify=verify,
    )
    result = run_recipe(request)
    for warning in result.warnings:
        sys.stderr.write(f"convert: warning: {warning}\n")
    if dry_run:
        with stdout_closed_stops():
            sys.stdout.write(plan(result) + "\n")
            sys.stdout.flush()
    elif not quiet:
        sys.stderr.write(result.report.summary() + "\n")
    return result.status
