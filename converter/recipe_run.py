"""``convert run RECIPE.toml``: a recipe's stages run into one output, with provenance in the
report, an optional dataset card, a dry run that only counts, and a check of a rebuild against
an earlier report (the Python API behind the command)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from converter.card import card_markdown
from converter.errors import UsageError
from converter.job import StreamJob
from converter.output import STDOUT, Companion, shown
from converter.paths import Named, check_run_paths, option
from converter.provenance import (
    input_digests,
    load_report,
    output_digests,
    provenance,
    verify_inputs,
    verify_outputs,
)
from converter.recipe import Overrides, Recipe, RecipeStage, load_recipe, output_job, to_stages
from converter.rejects import default_rejects_path
from converter.report import RunReport
from converter.selection import Selection
from converter.stages import report_file, run_stages


@dataclass(frozen=True)
class RecipeRun:
    """What ``convert run`` was asked to do.

    ``verify`` is an earlier ``--report`` the rebuild must match.
    """

    recipe: str
    overrides: Overrides = field(default_factory=Overrides)
    report: str | None = None
    card: str | None = None
    dry_run: bool = False
    verify: str | None = None

    def command(self) -> list[str]:
        """The command line that makes this run (without ``--verify`` and ``--dry-run``)."""
        given = self.overrides
        options = {
            "-o": given.output,
            "-f": given.format,
            "--rejects": given.rejects,
            "--seed": None if given.seed is None else str(given.seed),
            "--report": self.report,
            "--card": self.card,
        }
        line = ["convert", "run", self.recipe]
        for name, value in options.items():
            if value is not None:
                line += [name, value]
        for module in given.plugins:
            line += ["--plugin", module]
        return line


@dataclass
class RecipeResult:
    """A finished run: the recipe, the report, the exit status and the warnings to show."""

    recipe: Recipe
    report: RunReport
    status: int
    warnings: list[str]


def run_recipe(run: RecipeRun, progress: Callable[[int], None] | None = None) -> RecipeResult:
    """Run the recipe; raise ConverterError subclasses for usage, input, output and verification
    errors. Paths that collide, a changed recipe or input and (with ``verify``) a rebuilt
    output that differs are all found before anything is put in place."""
    if run.verify is not None and run.dry_run:
        raise UsageError("--verify checks the files a run writes, --dry-run writes none: drop one")
    recipe = load_recipe(run.recipe)
    stages = to_stages(recipe, run.overrides)
    job = output_job(recipe, run.overrides)
    check_run_paths(job, [stage.job for stage in stages], *_own_paths(run, recipe))
    recorded = load_report(run.verify) if run.verify is not None else None
    wants_provenance = run.report is not None or run.card is not None or recorded is not None
    inputs = input_digests(recipe) if wants_provenance else []
    seed = job.seed or 0
    warnings = verify_inputs(recorded, recipe, inputs, seed, str(run.verify)) if recorded else []
    outputs: dict[str, dict[str, Any]] = {}

    def files(finished: dict[str, str], report: RunReport, status: int) -> list[Companion]:
        """Hash the finished files (with ``--verify``, compare them with the report's); the
        report and card that hold the checksums, put in place with them."""
        outputs.update(output_digests(_roles(job), finished))
        if recorded is not None:
            verify_outputs(recorded, outputs, str(run.verify))
        document = report.to_json(status)
        _fill_checksums(document, inputs)
        command = run.command()
        document["provenance"] = provenance(
            recipe, inputs, outputs, seed=seed, command=command, dry_run=run.dry_run
        )
        made = [] if run.report is None else [report_file(run.report, document)]
        if run.card is not None:
            made.append((run.card, shown(card_markdown(recipe, document)).encode()))
        return made

    try:
        report, status = run_stages(
            stages,
            job,
            mix=recipe.mix,
            seed=job.seed,
            dry_run=run.dry_run,
            progress=progress,
            companions=files if wants_provenance else None,
        )
    except UsageError as exc:  # a language, format, check or condition the recipe names
        raise UsageError(f"{recipe.path}: {exc}") from None
    return RecipeResult(recipe, report, status, warnings)


def _own_paths(run: RecipeRun, recipe: Recipe) -> tuple[list[Named], list[Named]]:
    """What ``convert run`` writes and reads beyond the stages' files: the report and the card;
    the recipe and the report to verify against."""
    given = (("--report", run.report), ("--card", run.card))
    writes = [option(name, path) for name, path in given if path is not None]
    reads = [Named(f"the recipe {recipe.path}", recipe.path)]
    if run.verify is not None:
        reads.append(option("--verify", run.verify))
    return writes, reads


def _fill_checksums(document: dict[str, Any], inputs: list[dict[str, Any]]) -> None:
    """Put the inputs' SHA-256 (hashed once, before the run) into the report's source entries."""
    digests = {(i["stage"], i["lang"]): i["sha256"] for i in inputs}
    by_path = {i["path"]: i["sha256"] for i in inputs}
    for stage in document["stages"]:
        for source in stage["sources"]:
            source["sha256"] = digests.get((stage["name"], source["lang"]))
    for source in document["sources"]:
        source["sha256"] = by_path.get(source["path"])


def _roles(job: StreamJob) -> dict[str, str]:
    """The files a run may write, by role: the output or each split, and the rejects file."""
    paths = Selection.of(job).outputs(job.output)
    names = [name for name, _ in job.split] or ["output"]
    roles = dict(zip(names, paths))
    roles["rejects"] = job.rejects or default_rejects_path(job.output)
    return {role: path for role, path in roles.items() if path != STDOUT}


def plan(result: RecipeResult) -> str:
    """The dry run's text: each stage's sources, filters and checks with its counts, and the
    output files with theirs."""
    recipe, report = result.recipe, result.report
    lines = [
        f"recipe {recipe.path}: {len(recipe.stages)} stage(s), mix {recipe.mix}, "
        f"seed {report.selection.get('seed', recipe.seed)}"
    ]
    for k, (stage, counts) in enumerate(zip(recipe.stages, report.stages), 1):
        groups = counts["groups"]
        lines.append(f"stage {k} {stage.name} (weight {stage.weight:g}):")
        for source in stage.sources:
            fmt = stage.input_formats.get(source.lang)
            licence = source.licence or "licence not declared"
            lines.append(
                f"  source {source.lang}={source.path}"
                + (f" (format {fmt})" if fmt else "")
                + f"; {licence}"
            )
        settings = _settings(stage)
        if settings:
            lines.append(f"  {settings}")
        lines.append(
            f"  groups: {groups['read']:,} read, {groups['written']:,} would be written, "
            f"{groups['filtered']:,} filtered, {groups['rejected']:,} rejected, "
            f"{groups.get('skipped', 0):,} skipped"
        )
        for condition, n in counts.get("filters", {}).items():
            lines.append(f"  filter {condition}: {n:,} groups")
        for name, split in counts.get("splits", {}).items():
            lines.append(
                f"  split {name}: {split['groups']:,} groups, {split['records']:,} records"
            )
        checks = [_check_counts(name, check) for name, check in counts["checks"].items()]
        lines.append("  checks: " + (", ".join(checks) or "all off"))
    for name, split in report.splits.items():
        lines.append(
            f"split {name} -> {split['path']}: {split['groups']:,} groups, "
            f"{split['records']:,} records"
        )
    if not report.splits:
        lines.append(
            f"output {report.output} ({report.writer}): {report.groups_written:,} groups, "
            f"{report.records_written:,} records"
        )
    lines.append("dry run: nothing written")
    return "\n".join(lines)


def _check_counts(name: str, check: dict[str, Any]) -> str:
    """``language=warn (2 warned)``: a check's policy and what it found, when it found any."""
    found = [f"{check[k]:,} {k}" for k in ("warned", "rejected") if check[k]]
    return f"{name}={check['policy']}" + (f" ({', '.join(found)})" if found else "")


def _settings(stage: RecipeStage) -> str:
    """A stage's reading options that differ from the defaults, as one line."""
    shown = {
        "limit": stage.limit,
        "start": stage.start,
        "stop": stage.stop,
        "key": stage.key,
        "taggers": ", ".join(stage.taggers),
        "where": "; ".join(stage.where),
        "strict": stage.strict,
        "realign": stage.realign,
        "unequal": stage.unequal if stage.unequal != "error" else None,
    }
    return "; ".join(f"{k} {v}" if v is not True else k for k, v in shown.items() if v)
