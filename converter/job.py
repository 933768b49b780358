"""What ``convert stream`` was asked to do, and resolving it against the plugin registry:
the languages, the writer and its options, the check policies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from converter.compression import compression_of, strip_compression
from converter.dataset_info import check_dataset_info
from converter.errors import UsageError, refuse_huge
from converter.inputs import STDIN
from converter.model import ALL_CHECKS, POLICIES, Language, WriterOptions, WriterSpec
from converter.output import STDOUT, descriptor_of
from converter.plugins import Registry


@dataclass(frozen=True)
class StreamJob:
    """Everything ``convert stream`` was asked to do (the Python API behind the command)."""

    sources: list[tuple[str, str]]
    output: str = STDOUT
    format: str | None = None
    limit: int | None = None
    unequal: str = "error"
    rejects: str | None = None
    report: str | None = None
    keep_tags: bool = False
    input_formats: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    strict: bool = False
    plugins: tuple[str, ...] = ()
    realign: bool = False
    key: str | None = None
    #: Per language, the ijson prefix of the records (``data.item``) for wrapped arrays.
    items_paths: dict[str, str] = field(default_factory=dict)
    #: The system message (``--system``) and a prompt template file (``--template``).
    system: str = ""
    template: str | None = None
    #: A LLaMA-Factory ``dataset_info.json`` to add the output's entry to.
    dataset_info: str | None = None
    #: Opt-in taggers by name (``--tagger register``), registered with ``register_taggers``.
    taggers: tuple[str, ...] = ()
    #: ``--where`` conditions (converter.filters); a group failing one is filtered out.
    where: tuple[str, ...] = ()
    #: ``--start``/``--stop``: only the groups with index in [start, stop) (``--limit`` counts
    #: from ``start``); the groups before ``start`` are read and counted as skipped.
    start: int = 0
    stop: int | None = None
    #: Output side (converter.selection): ``--sample N`` groups, ``--shuffle``, ``--split``
    #: (split name -> share, in output order), all drawn with ``--seed`` (None: 0).
    sample: int | None = None
    shuffle: bool = False
    split: tuple[tuple[str, float], ...] = ()
    seed: int | None = None


def resolve_languages(job: StreamJob, registry: Registry) -> list[Language]:
    """The registered language of each source, in order; UsageError for unknown or repeated ones."""
    if not job.sources:
        raise UsageError("give at least one source as LANG=PATH")
    seen: set[str] = set()
    languages = []
    for lang, path in job.sources:
        if lang not in registry.languages:
            known = ", ".join(sorted(registry.languages))
            raise UsageError(
                f"unknown language {lang!r} in {lang}={path}; known: {known} (plugins add more)"
            )
        if lang in seen:
            raise UsageError(f"language {lang!r} is given twice")
        seen.add(lang)
        languages.append(registry.languages[lang])
    check_stdin_once((f"{lang}={path}", path) for lang, path in job.sources)
    for lang in job.input_formats:
        if lang not in seen:
            raise UsageError(f"--input-format names {lang!r}, which is not a source")
    return languages


def check_options(job: StreamJob) -> None:
    """UsageError for a negative ``limit``, ``start`` or ``stop``, a ``stop`` not past
    ``start`` (it selects nothing), or ``key`` with ``realign`` (realigning repairs pairing by
    position, which ``key`` replaces)."""
    for name, value in (("--limit", job.limit), ("--start", job.start), ("--stop", job.stop)):
        if value is not None and value < 0:
            raise UsageError(f"{name} must be >= 0, not {value}")
        refuse_huge(name, value)
    if job.stop is not None and job.stop <= job.start:
        raise UsageError(
            f"--stop {job.stop} is not past --start {job.start}: that selects no group"
        )
    if job.key is not None and job.realign:
        raise UsageError(
            "--key and --realign exclude each other: --realign repairs shifts in pairing by "
            "position, --key pairs by a field"
        )


def check_stdin_once(sources: Iterable[tuple[str, str]]) -> None:
    """UsageError when more than one of ``sources`` (how a message names it, its path) reads
    stdin: the first would read all of it."""
    on_stdin = [shown for shown, path in sources if reads_stdin(path)]
    if len(on_stdin) > 1:
        raise UsageError(f"only one source can read stdin: {', '.join(on_stdin)}")


def reads_stdin(path: str) -> bool:
    """Whether a source at ``path`` reads stdin: ``-``, ``/dev/stdin``, ``/proc/self/fd/0``."""
    return path == STDIN or descriptor_of(path) == 0


def resolve_writer(job: StreamJob, registry: Registry) -> WriterSpec:
    """The writer named by ``--format``, or chosen by the output's longest matching suffix,
    letter case aside (JSONL on stdout or without one);
    UsageError for an unknown one (an unsupported compression suffix is refused with every
    other output path, converter.paths)."""
    name = job.format
    if name is None and job.output != STDOUT:  # the writer of the longest suffix that matches
        output = strip_compression(job.output).lower()
        matches: list[tuple[int, str | None]] = [
            (len(suffix), spec.name)
            for spec in registry.writers.values()
            for suffix in spec.suffixes
            if output.endswith(suffix.lower())
        ]
        name = max(matches, default=(0, None))[1]
    name = name or "jsonl"
    if name not in registry.writers:
        raise UsageError(f"unknown format {name!r}; known: {', '.join(registry.writers)}")
    return registry.writers[name]


def resolve_writer_options(job: StreamJob, spec: WriterSpec) -> WriterOptions:
    """The writer's options; UsageError for one it does not take or an impossible entry."""
    options = WriterOptions(keep_tags=job.keep_tags, system=job.system, template=job.template)
    unused = spec.unused(options)
    if unused:
        raise UsageError(f"{', '.join(unused)} does not apply to --format {spec.name}")
    if not spec.compressible and compression_of(job.output):
        raise UsageError(
            f"--format {spec.name} compresses inside and is not read back wrapped: write "
            f"{strip_compression(job.output)!r}, not {job.output!r}"
        )
    check_dataset_info(job.dataset_info, job.output, spec)
    return options


def check_policies(job: StreamJob, registry: Registry) -> dict[str, str]:
    """Each check's policy: the defaults, then ``all=``, then the named ones, then ``--strict``."""
    policies = {name: check.default_policy for name, check in registry.checks.items()}
    given = dict(job.checks)
    if ALL_CHECKS in given:  # ``--check all=off``, then the named ones
        policy = given.pop(ALL_CHECKS)
        given = {**dict.fromkeys(registry.checks, policy), **given}
    for name, policy in given.items():
        if name not in registry.checks:
            raise UsageError(f"unknown check {name!r}; known: {', '.join(registry.checks)}")
        if policy not in POLICIES:
            raise UsageError(
                f"check policy for {name!r} must be one of {', '.join(POLICIES)}, not {policy!r}"
            )
        policies[name] = policy
    if job.strict:
        policies = {n: "reject" if p == "warn" else p for n, p in policies.items()}
    return policies
