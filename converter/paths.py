"""Every file a run will write, checked before anything is written: no two outputs on the same
file, no output over an input (a source, a template, the recipe, the report being verified) nor
inside an input folder (a ``convert shard`` folder, given as the folder or its ``shards.json``),
no output inside the parts folder and that folder nowhere in an input, at most one output on
stdout (``-``, ``/dev/stdout`` or anything else that is stdout's open file), no compression
suffix converter does not write, and each one writable.

Two paths are the same file when :func:`os.path.samefile` says so (hard links, symbolic links)
or, when one is not there yet, when they resolve to the same path. ``/dev/null`` takes any
number of outputs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from converter.compression import SUFFIXES, foreign_compression
from converter.errors import UsageError
from converter.inputs import STDIN
from converter.job import StreamJob
from converter.output import STDOUT, check_writable, is_stdout
from converter.rejects import default_rejects_path
from converter.scale.shard import shard_folder
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
    folders: Sequence[Named] = (),
) -> None:
    """:func:`check_paths` for a run: ``output_job``'s outputs, ``writes`` and the folders
    ``folders`` (``--parts DIR``) against the sources of ``stages`` (default: ``output_job``'s
    own) and ``reads``."""
    if output_job.split:  # each split's file is named from -o: it must name a file too
        _names_file(option("-o", output_job.output))
    read = [*run_reads(stages or [output_job]), *reads]
    check_paths([*run_writes(output_job), *writes], read, folders)


def check_paths(
    writes: Sequence[Named], reads: Sequence[Named], folders: Sequence[Named] = ()
) -> None:
    """Before anything is written: UsageError (exit 2) for two outputs on stdout, an output
    named with a compression suffix converter does not write, two outputs on the same file, an
    output on an input or inside an input folder, a written folder (``folders``) that is or is
    inside an input or holds an output, naming both; OutputError (exit 3) for an output that
    cannot be written (a directory, a missing folder, no permission)."""
    stdin = [r for r in reads if r.path == STDIN]
    reads = [r for r in reads if r.path != STDIN]
    written = [w for w in writes if w.path == STDOUT or not same_file(w.path, os.devnull)]
    on_stdout = [w for w in written if is_stdout(w.path)]
    if len(on_stdout) > 1:
        raise UsageError(
            f"{on_stdout[0].shown} and {on_stdout[1].shown} would both go to stdout: "
            "give one of them a file"
        )
    for folder in folders:
        if not folder.path:
            raise UsageError(f"{folder.shown.rstrip()}: the path is empty")
    for write in written:
        _names_file(write)
    for write in [*written, *folders]:
        foreign = foreign_compression(write.path) if write.path != STDOUT else None
        if foreign is not None:
            raise UsageError(
                f"{write.shown}: {foreign} compression is not supported; "
                f"name it {' or '.join(SUFFIXES)} (or no compression suffix)"
            )
    files = [w for w in written if w.path != STDOUT]
    for k, write in enumerate(files):
        for earlier in [*files[:k], *(w for w in on_stdout if w.path == STDOUT)]:
            if same_file(earlier.path, write.path):
                raise UsageError(
                    f"{earlier.shown} and {write.shown} are the same file: "
                    "give each output its own path"
                )
        _check_apart(write, reads)
    for write in on_stdout:
        _check_apart(write, [*reads, *stdin])
    for folder in folders:
        _check_apart(folder, reads)
        for write in files:
            if inside(write.path, folder.path):
                raise UsageError(f"{write.shown} is inside {folder.shown}: write it elsewhere")
    for write in files:
        check_writable(write.path, write.shown)


def _names_file(write: Named) -> None:
    """UsageError when the output ``write`` is empty or ends in a separator (names a folder)."""
    if not write.path:
        raise UsageError(f"{write.shown.rstrip()}: the path is empty")
    if write.path.endswith(("/", os.sep)):
        raise UsageError(f"{write.shown}: names a folder; name the file")


def _check_apart(write: Named, reads: Sequence[Named]) -> None:
    """UsageError when ``write`` is one of ``reads`` or inside an input folder among them."""
    for read in reads:
        folder = shard_folder(read.path)  # (none for stdin)
        if folder is not None and write.path != STDOUT and inside(write.path, folder):
            raise UsageError(
                f"{write.shown} is inside the folder of {read.shown}: write it elsewhere"
            )
        if same_file(write.path, read.path):
            raise UsageError(f"{write.shown} would overwrite {read.shown}: write it elsewhere")


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or (once written) somewhere under it, links resolved."""
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are (or, written, would be) the same file. ``a`` may be ``-``,
    the file stdout is (``convert stream en=x.jsonl >> x.jsonl``), and ``b`` ``-``, the file
    stdin is (``convert stream en=- < x.jsonl >> x.jsonl``)."""
    if a == STDOUT or b == STDIN:  # (a terminal or /dev/null on both: no file written over)
        try:
            first = os.fstat(1) if a == STDOUT else os.stat(a)
            second = os.fstat(0) if b == STDIN else os.stat(b)
        except OSError:  # a standard stream closed, or a file not there
            return False
        return stat.S_ISREG(first.st_mode) and os.path.samestat(first, second)
    try:
        return os.path.samefile(a, b)
    except OSError:  # one is not there (yet)
        return os.path.realpath(a) == os.path.realpath(b)
