"""Every file a run will write, checked before anything is written: no two outputs on the same
file, no output over an input (a source, a template, the recipe, the report being verified), at
most one output on stdout, and each one writable.

Two paths are the same file when :func:`os.path.samefile` says so (hard links, symbolic links)
or, when one is not there yet, when they resolve to the same path. ``/dev/null`` takes any
number of outputs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from converter.errors import UsageError
from converter.job import StreamJob
from converter.output import STDOUT, check_writable
from converter.rejects import default_rejects_path
from converter.selection import Selection


@dataclass(frozen=True)
class Named:
    """A path and how a message names it (``--report r.json``, ``the input en=a.json``)."""

    shown: str
    path: str


def option(name: str, path: str) -> Named:
    """``path`` given by the option ``name`` (``--card``), shown as ``--card PATH``."""
    return Named(f"{name} {path}", path)


def run_writes(job: StreamJob) -> list[Named]:
    """The files a run with the output side ``job`` writes: the output (or one per split), the
    rejects file (the default one too: it is written as soon as a group is rejected), the
    report and dataset_info."""
    splits = [name for name, _ in job.split]
    outputs = Selection(split=job.split).outputs(job.output)
    found = [
        Named(f"-o {job.output} (split {name!r}: {path})", path)
        for name, path in zip(splits, outputs)
    ] or [option("-o", job.output)]
    if job.rejects is not None:
        found.append(option("--rejects", job.rejects))
    else:
        default = default_rejects_path(job.output)
        found.append(Named(f"the rejects file {default} (--rejects' default)", default))
    if job.report is not None:
        found.append(option("--report", job.report))
    if job.dataset_info is not None:
        found.append(option("--dataset-info", job.dataset_info))
    return found


def run_reads(jobs: Sequence[StreamJob]) -> list[Named]:
    """The files the stages' ``jobs`` read: every source and the prompt template."""
    found = [Named(f"the input {lang}={path}", path) for job in jobs for lang, path in job.sources]
    found += [option("--template", job.template) for job in jobs if job.template is not None]
    return found


def check_run_paths(
    output_job: StreamJob,
    stages: Sequence[StreamJob] = (),
    writes: Sequence[Named] = (),
    reads: Sequence[Named] = (),
) -> None:
    """:func:`check_paths` for a run: ``output_job``'s outputs and ``writes`` against the
    sources of ``stages`` (default: ``output_job``'s own) and ``reads``."""
    read = [*run_reads(stages or [output_job]), *reads]
    check_paths([*run_writes(output_job), *writes], read)


def check_paths(writes: Sequence[Named], reads: Sequence[Named]) -> None:
    """Before anything is written: UsageError (exit 2) for two outputs on stdout, two outputs
    on the same file or an output on an input, naming both; OutputError (exit 3) for an output
    that cannot be written (a directory, a missing folder, no permission)."""
    on_stdout = [w for w in writes if w.path == STDOUT]
    if len(on_stdout) > 1:
        raise UsageError(
            f"{on_stdout[0].shown} and {on_stdout[1].shown} would both go to stdout: "
            "give one of them a file"
        )
    files = [w for w in writes if w.path != STDOUT and not same_file(w.path, os.devnull)]
    for k, write in enumerate(files):
        for earlier in files[:k]:
            if same_file(write.path, earlier.path):
                raise UsageError(
                    f"{earlier.shown} and {write.shown} are the same file: "
                    "give each output its own path"
                )
        for read in reads:
            if read.path != STDOUT and same_file(write.path, read.path):
                raise UsageError(f"{write.shown} would overwrite {read.shown}: write it elsewhere")
    for write in files:
        check_writable(write.path, write.shown)


def same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are (or, written, would be) the same file."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one is not there (yet)
        return os.path.realpath(a) == os.path.realpath(b)
