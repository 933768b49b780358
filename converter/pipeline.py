"""``convert stream``: sources in lock-step -> tag -> filter -> check -> interleave -> validate
-> write.

The core owns the loop; plugins supply the pieces, resolved once per run into plain callables.
A group (the records with the same index in every source) is written or rejected whole.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import orjson

from converter.dataset_info import write_dataset_info
from converter.errors import EXIT_OK, EXIT_REJECTED
from converter.filters import parse_conditions
from converter.inputs import open_input
from converter.job import (
    StreamJob,
    check_policies,
    resolve_languages,
    resolve_writer,
    resolve_writer_options,
)
from converter.loop import GroupLoop
from converter.output import start_output
from converter.plugins import build_manager, build_registry, run_factories
from converter.rejects import RejectsFile, default_rejects_path
from converter.report import CheckStats, RunReport, SourceStats


def run_stream(
    job: StreamJob, progress: Callable[[int], None] | None = None
) -> tuple[RunReport, int]:
    """Run ``job``; return the report and the exit status (0 clean, 1 groups rejected).

    Raises ConverterError subclasses for usage, input and output errors; nothing is left
    written then.
    """
    registry = build_registry(pm := build_manager(job.plugins))
    languages = resolve_languages(job, registry)
    spec = resolve_writer(job, registry)
    writer_options = resolve_writer_options(job, spec)
    policies = check_policies(job, registry)
    conditions = parse_conditions(job.where)
    options: dict[str, Any] = {"keep_tags": job.keep_tags, "taggers": job.taggers}
    taggers = run_factories(pm, "make_tagger", languages=languages, options=options)
    interleave = run_factories(pm, "make_interleaver", languages=languages, options=options)[0]
    rejects_path = job.rejects or default_rejects_path(job.output)
    report = RunReport(
        sources=[SourceStats(lang, path) for lang, path in job.sources],
        checks={name: CheckStats(policy) for name, policy in policies.items() if policy != "off"},
        output=job.output,
        writer=spec.name,
        rejects=rejects_path,
        options={
            "limit": job.limit,
            "unequal": job.unequal,
            "keep_tags": job.keep_tags,
            "strict": job.strict,
            "taggers": list(job.taggers),
            "where": list(job.where),
        },
        filters={condition.text: 0 for condition in conditions},
        plugins=pm.describe(),
    )
    with ExitStack() as stack:
        inputs = []
        for lang, path in job.sources:
            source = open_input(f"{lang}={path}", path, hash_it=job.report is not None)
            stack.callback(source.close)
            inputs.append(source)
        out = start_output(stack, job.output)
        rejects = RejectsFile(rejects_path, forced=job.rejects is not None, stack=stack)
        writer = spec.make(out.stream, writer_options)
        loop = GroupLoop(
            job,
            registry,
            inputs,
            report,
            writer,
            rejects,
            taggers,
            interleave,
            policies,
            conditions,
        )
        loop.run(progress)
        writer.close()
        for source, stats in zip(inputs, report.sources):
            if job.report is not None:
                source.disk.drain()
                stats.sha256 = source.disk.sha256.hexdigest() if source.disk.sha256 else None
            stats.bytes = source.disk.bytes_read
        report.finish()
        status = EXIT_REJECTED if report.groups_rejected else EXIT_OK
        out.commit()
        rejects.commit()
        if job.dataset_info is not None:
            write_dataset_info(job.dataset_info, job.output, spec)
        if job.report is not None:
            _write_report(stack, job.report, report.to_json(status))
    return report, status


def _write_report(stack: ExitStack, path: str, document: dict[str, Any]) -> None:
    out = start_output(stack, path)
    out.stream.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    out.commit()
