"""Provenance of a recipe run: what went in (the recipe, each input's size and SHA-256, the
seed, the tool, Python and plugin versions) and what came out (each output's size and SHA-256),
so that a corpus can be rebuilt and checked byte for byte against its report.

:func:`verify_inputs` checks, before anything is written, that the recipe and the inputs are
the ones a report recorded; :func:`verify_outputs` checks the rebuilt files once they are
finished, before they are put in place.
"""

from __future__ import annotations

import hashlib
import os
import platform
import stat
from collections.abc import Mapping
from typing import Any

import jsonschema_rs
import orjson

from converter.errors import InputError, UsageError
from converter.recipe import Recipe

#: The report's key for this section.
SECTION = "provenance"


class VerifyError(InputError):
    """A rebuild does not match its report: another recipe, input or output (exit 3)."""


def file_digest(path: str, label: str | None = None) -> dict[str, Any] | None:
    """``{"bytes", "sha256"}`` of a regular file; None for stdin and special files. An error
    names the file by ``label`` (``ja=PATH``), else by its path."""
    if path == "-":
        return None
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            digest = hashlib.file_digest(f, "sha256")
            return {"bytes": f.tell(), "sha256": digest.hexdigest()}
    except FileNotFoundError:
        raise InputError(f"{label or path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{label or path}: cannot read: {exc.strerror or exc}") from None


def input_digests(recipe: Recipe) -> list[dict[str, Any]]:
    """Each input of each stage: stage, language, path, bytes and SHA-256, in recipe order."""
    found = []
    for stage in recipe.stages:
        for source in stage.sources:
            entry = {"stage": stage.name, "lang": source.lang, "path": source.path}
            label = f"stage {stage.name!r}: {source.lang}={source.path}"
            digest = file_digest(source.path, label)
            found.append(entry | (digest or {"bytes": None, "sha256": None}))
    return found


def output_digests(
    roles: Mapping[str, str], finished: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Each file written by role (``output``, a split's name, ``rejects``; ``roles`` gives its
    path): path, bytes and SHA-256, read from where ``finished`` says the finished file is (its
    temporary file, before it is put in place). Roles the run did not write are left out."""
    return {
        role: {"path": path} | (file_digest(finished[path]) or {"bytes": None, "sha256": None})
        for role, path in roles.items()
        if path in finished
    }


def provenance(
    recipe: Recipe,
    inputs: list[dict[str, Any]],
    outputs: dict[str, dict[str, Any]],
    seed: int,
    command: list[str],
    dry_run: bool = False,
) -> dict[str, Any]:
    """The report's ``provenance`` section (``command`` builds the outputs; ``dry_run``: this
    run only counted them)."""
    return {
        "recipe": {"path": recipe.path, "sha256": recipe.sha256, "text": recipe.text},
        "command": command,
        "dry_run": dry_run,
        "python": platform.python_version(),
        "seed": seed,
        "mix": recipe.mix,
        "inputs": inputs,
        "outputs": outputs,
    }


def load_report(path: str) -> dict[str, Any]:
    """The ``provenance`` section of a report written by ``convert run --report``."""
    try:
        with open(path, "rb") as f:
            document = orjson.loads(f.read())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the report: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{path}: the report is not JSON: {exc}") from None
    section = document.get(SECTION) if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise UsageError(f"{path}: not a 'convert run --report' report (no provenance section)")
    problem = next(_SECTION_SHAPE.iter_errors(section), None)
    if problem is not None:
        where = "".join(f"[{p!r}]" for p in problem.instance_path)
        raise UsageError(
            f"{path}: not a 'convert run --report' report: provenance{where}: {problem.message}"
        )
    if section.get("dry_run") is True:
        raise UsageError(
            f"{path}: the report of a dry run (--dry-run) records no outputs to check: "
            "verify against a real run's report"
        )
    tool = document.get("tool")
    return {**section, "tool": tool if isinstance(tool, dict) else {}}


_DIGEST = {"type": ["string", "null"]}
_TEXT = {"type": ["string", "null"]}
#: A file's record: with a checksum, its size too.
_FILE = {
    "if": {"properties": {"sha256": {"type": "string"}}, "required": ["sha256"]},
    "then": {"required": ["bytes"]},
}
#: What ``--verify`` reads of a report's provenance section.
_SECTION_SHAPE = jsonschema_rs.validator_for(
    {
        "type": "object",
        "required": ["recipe", "inputs", "outputs"],
        "properties": {
            "recipe": {"type": "object", "properties": {"sha256": _DIGEST}},
            "inputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "stage": _TEXT,
                        "lang": _TEXT,
                        "sha256": _DIGEST,
                        "bytes": {"type": ["integer", "null"]},
                    },
                    **_FILE,
                },
            },
            "outputs": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["path"],
                    "properties": {
                        "path": {"type": "string"},
                        "sha256": _DIGEST,
                        "bytes": {"type": ["integer", "null"]},
                    },
                    **_FILE,
                },
            },
            "python": {"type": ["string", "null"]},
        },
    }
)


def verify_inputs(
    recorded: dict[str, Any],
    recipe: Recipe,
    inputs: list[dict[str, Any]],
    seed: int,
    report_path: str,
) -> list[str]:
    """VerifyError when the recipe, the seed or an input differs from the report's; the
    warnings (another tool or Python version) otherwise."""
    if recorded["recipe"].get("sha256") != recipe.sha256:
        raise VerifyError(
            f"{recipe.path}: the recipe differs from the one in {report_path} (sha256 "
            f"{_short(recipe.sha256)} vs {_short(recorded['recipe'].get('sha256'))}); its "
            "text is in the report's provenance.recipe.text"
        )
    if recorded.get("seed") != seed:
        raise VerifyError(f"the seed is {seed} but {report_path} used {recorded.get('seed')}")
    before = {(i.get("stage"), i.get("lang")): i for i in recorded["inputs"]}
    for now in inputs:
        then = before.get((now["stage"], now["lang"]), {})
        if then.get("sha256") != now["sha256"] or then.get("bytes") != now["bytes"]:
            raise VerifyError(
                f"{now['lang']}={now['path']} (stage {now['stage']!r}): {_described(now)} but "
                f"{report_path} recorded {_described(then)}: not the same input"
            )
    return _version_warnings(recorded, report_path)


def verify_outputs(
    recorded: dict[str, Any], outputs: dict[str, dict[str, Any]], report_path: str
) -> None:
    """VerifyError naming the first rebuilt output whose bytes differ from the report's."""
    for role, then in recorded["outputs"].items():
        now = outputs.get(role)
        if now is None:
            raise VerifyError(
                f"the rebuild wrote no {role} output; {report_path} has {then['path']}"
            )
        if then.get("sha256") is not None and now["sha256"] != then["sha256"]:
            raise VerifyError(
                f"{now['path']}: the rebuilt {role} output differs from {then['path']} in "
                f"{report_path}: {_described(now)}, recorded {_described(then)}"
            )
    extra = sorted(set(outputs) - set(recorded["outputs"]))
    if extra:
        raise VerifyError(f"the rebuild wrote {extra[0]!r} output, which {report_path} has not")


def _version_warnings(recorded: dict[str, Any], report_path: str) -> list[str]:
    from converter import __version__

    warnings = []
    tool = recorded.get("tool", {}).get("version")
    if tool != __version__:
        warnings.append(f"{report_path} was made by converter {tool}, this is {__version__}")
    python = recorded.get("python")
    if python != platform.python_version():
        warnings.append(
            f"{report_path} was made with Python {python}, this is {platform.python_version()}"
        )
    return warnings


def _described(entry: Mapping[str, Any]) -> str:
    if entry.get("sha256") is None:
        return "no checksum"
    size = entry.get("bytes")
    shown = f"{size:,} bytes" if isinstance(size, int) else "no size"
    return f"{shown}, sha256 {_short(entry['sha256'])}"


def _short(digest: Any) -> str:
    return f"{digest[:12]}…" if isinstance(digest, str) else "none"
