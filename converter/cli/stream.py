"""``convert stream LANG=PATH ...``: a thin typer command over ``run_stream``."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated

import typer

from converter.cli.options import (
    Debug,
    Plugins,
    Quiet,
    Sample,
    Seed,
    Shuffle,
    Split,
    Start,
    Stop,
    check_policies,
    pairs,
)
from converter.cli.progress import LINE_EVERY, progress_reporter
from converter.errors import UsageError
from converter.output import STDOUT
from converter.pipeline import StreamJob, run_stream
from converter.selection import parse_split


class Engine(StrEnum):
    """Where range mode runs its ranges."""

    local = "local"
    ray = "ray"


class Unequal(StrEnum):
    """What to do when the sources have different record counts."""

    error = "error"
    shortest = "shortest"


def stream(
    sources: Annotated[
        list[str],
        typer.Argument(metavar="LANG=PATH...", help="Sources in output order; PATH '-' is stdin."),
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output file ('-' = stdout).")
    ] = STDOUT,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Writer: json, jsonl, parquet, template, template-text, prompt-completion, "
            "sharegpt, messages, alpaca (plugins add more); default from the output suffix "
            "(before .gz/.zst), jsonl on stdout.",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=0, help="Only N groups (from --start): the first N records."),
    ] = None,
    start: Start = 0,
    stop: Stop = None,
    sample: Sample = None,
    shuffle: Shuffle = False,
    split: Split = None,
    seed: Seed = None,
    unequal: Annotated[
        Unequal,
        typer.Option(
            "--unequal", help="Different record counts: error, or pair up to the shortest."
        ),
    ] = Unequal.error,
    rejects: Annotated[
        str | None,
        typer.Option(
            "--rejects",
            help="Rejects file (default: the output's name + .rejects.jsonl, or rejects.jsonl).",
        ),
    ] = None,
    report: Annotated[
        str | None, typer.Option("--report", help="Write the run's report as JSON here.")
    ] = None,
    keep_tags: Annotated[
        bool,
        typer.Option(
            "--keep-tags", help="Add a 'tags' object to each record (schema record-tags)."
        ),
    ] = False,
    input_format: Annotated[
        list[str] | None,
        typer.Option(
            "--input-format",
            metavar="LANG=FORMAT",
            help="Force a source's input format (alpaca, dolly, dolly-ja, seed-tasks).",
        ),
    ] = None,
    check: Annotated[
        list[str] | None,
        typer.Option(
            "--check",
            metavar="NAME=POLICY",
            help="A check's policy: off, warn or reject; 'all' names every check (repeatable).",
        ),
    ] = None,
    checks_config: Annotated[
        str | None,
        typer.Option(
            "--checks-config",
            metavar="FILE",
            help='TOML with a \\[checks] table of NAME = "POLICY" (--check wins).',
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Every check that warns rejects instead.")
    ] = False,
    realign: Annotated[
        bool,
        typer.Option("--realign", help="Repair detected shifts: re-pair, reject the orphan."),
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", metavar="FIELD", help="Pair records by this field (e.g. id), not by position."
        ),
    ] = None,
    items_path: Annotated[
        list[str] | None,
        typer.Option(
            "--items-path",
            metavar="[LANG=]PREFIX",
            help="Where the records are in a wrapping object, e.g. data.item for "
            '{"data": [...]}; without LANG for every source.',
        ),
    ] = None,
    system: Annotated[
        str,
        typer.Option(
            "--system",
            metavar="TEXT",
            help="System message: {system} in templates; before the reasoning in the system "
            "turn of sharegpt and messages.",
        ),
    ] = "",
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            metavar="FILE",
            help="Prompt template for template, template-text and prompt-completion "
            "(placeholders such as {prompt}, {response}; see output-formats.md in docs).",
        ),
    ] = None,
    dataset_info: Annotated[
        str | None,
        typer.Option(
            "--dataset-info",
            metavar="PATH",
            help="Add the output's entry to this LLaMA-Factory dataset_info.json.",
        ),
    ] = None,
    tagger: Annotated[
        list[str] | None,
        typer.Option(
            "--tagger",
            metavar="NAME",
            help="Run an opt-in tagger, e.g. register (Japanese 敬体/常体 tag) (repeatable).",
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            metavar="CONDITION",
            help="Keep only groups where FIELD=VALUE, FIELD!=VALUE or len(FIELD)<=N holds "
            "(also <, >=, >); FIELD is a record field or a tag; all must hold (repeatable). "
            "See docs/filters.md.",
        ),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Progress on stderr: a bar on a terminal (the default there, unless the records "
            "go to it too), else a line "
            f"every {LINE_EVERY:.0f} s; given, it shows even with -q.",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            metavar="N",
            help="Range mode: cut the groups into ranges and run N at a time (local processes, "
            "or a local Ray instance's CPUs); see docs/scale-out.md.",
        ),
    ] = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="Range mode's engine (ray: range mode).")
    ] = Engine.local,
    address: Annotated[
        str | None,
        typer.Option("--address", metavar="ADDR", help="A Ray cluster to run on (--engine ray)."),
    ] = None,
    range_records: Annotated[
        int | None,
        typer.Option(
            "--range-records",
            metavar="K",
            help="Groups per range (default: max(10,000, groups / (4 * jobs))).",
        ),
    ] = None,
    parts: Annotated[
        str | None,
        typer.Option(
            "--parts",
            metavar="DIR",
            help="Range mode, keeping the parts and manifest in DIR (default: a temporary "
            "folder beside the output, removed after the merge).",
        ),
    ] = None,
    merge: Annotated[
        bool, typer.Option("--merge/--no-merge", help="Merge the parts into the output.")
    ] = True,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Keep the intact parts already in --parts DIR."),
    ] = False,
    quiet: Quiet = False,
    plugin: Plugins = None,
    debug: Debug = False,
) -> int:
    """Pair the sources record by record into one tagged, interleaved, validated output."""
    job_sources = [_source(s) for s in sources]
    job = StreamJob(
        sources=job_sources,
        output=output,
        format=format,
        limit=limit,
        unequal=unequal.value,
        rejects=rejects,
        report=report,
        keep_tags=keep_tags,
        input_formats=pairs(input_format, "--input-format"),
        checks=check_policies(checks_config, check),
        strict=strict,
        realign=realign,
        key=key,
        plugins=tuple(plugin or ()),
        items_paths=_items_paths(items_path, [lang for lang, _ in job_sources]),
        system=system,
        template=template,
        dataset_info=dataset_info,
        taggers=tuple(tagger or ()),
        where=tuple(where or ()),
        start=start,
        stop=stop,
        sample=sample,
        shuffle=shuffle,
        split=parse_split(split) if split is not None else (),
        seed=seed,
    )
    if progress is None:  # by default on a terminal, unless the records go to it too
        to_terminal = job.output == STDOUT and sys.stdout.isatty()
        progress = sys.stderr.isatty() and not quiet and not to_terminal
    if jobs is not None or engine is Engine.ray or parts is not None:
        from converter.scale.run import Parallel, run_parallel

        if parts is not None and os.path.exists(parts) and not os.path.isdir(parts):
            raise UsageError(f"--parts {parts}: is a file; --parts takes a folder (made if new)")
        jobs = 1 if jobs is None else jobs
        options = Parallel(engine.value, jobs, address, range_records, parts, merge, resume)
        with progress_reporter(job, progress) as update:
            result, status = run_parallel(job, options, progress=update)
    else:
        if address or range_records or resume or not merge:
            raise UsageError(
                "--address, --range-records, --resume and --no-merge are range mode's: "
                "add --jobs N (or --parts DIR, --engine ray)"
            )
        with progress_reporter(job, progress) as update:
            result, status = run_stream(job, progress=update)
    if not quiet:
        sys.stderr.write(result.summary() + "\n")
    return status


def _source(value: str) -> tuple[str, str]:
    lang, sep, path = value.partition("=")
    if not sep or not lang or not path:
        raise UsageError(f"a source is LANG=PATH (e.g. en=alpaca.json), got {value!r}")
    return lang.strip(), path


def _items_paths(values: list[str] | None, langs: list[str]) -> dict[str, str]:
    """``--items-path [LANG=]PREFIX`` values as a prefix per source language."""
    paths: dict[str, str] = {}
    for value in values or []:
        lang, sep, prefix = value.rpartition("=")
        if sep and lang not in langs:
            raise UsageError(f"--items-path names {lang!r}, which is not a source")
        paths.update({lang: prefix} if sep else dict.fromkeys(langs, prefix))
    return paths
