"""The dataset card of a recipe run (``convert run --card PATH``): a Markdown page with the
sources and the licence each one declares in the recipe, the counts per stage, language, filter,
check and split, the command that rebuilds the corpus, and the tool and plugin versions.

It is made from the run's report document (with its provenance section) only, so the same run
gives the same card, byte for byte: no dates, no timings.
"""

from __future__ import annotations

import os
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from converter.recipe import Recipe

NOT_DECLARED = "not declared in the recipe"


def card_markdown(recipe: Recipe, document: dict[str, Any]) -> str:
    """The card of a run: ``document`` is the ``--report`` JSON with its ``provenance``."""
    prov = document["provenance"]
    tool = document["tool"]
    title = recipe.title or os.path.basename(recipe.path)
    parts = [f"# {title}\n"]
    if recipe.description:
        parts.append(f"{recipe.description}\n")
    parts.append(
        f"Built by `convert run` from the recipe `{os.path.basename(recipe.path)}` (SHA-256 "
        f"`{recipe.sha256}`): {len(recipe.stages)} stage(s), mix `{recipe.mix}`, seed "
        f"{prov['seed']}; {document['output']['records']:,} records "
        f"{'would be written (a dry run: nothing was)' if prov['dry_run'] else 'written'}, "
        f"exit status {document['exit_status']}.\n"
    )
    parts += _sources(recipe, prov["inputs"])
    parts += _stages(document["stages"])
    parts += _languages(document["stages"])
    parts += _filters(document["stages"])
    parts += _checks(document["stages"])
    parts += _splits(document, prov["outputs"])
    parts += _rebuild(prov["command"], prov["dry_run"])
    parts += _tool(tool, prov["python"])
    return "\n".join(parts)


def _sources(recipe: Recipe, inputs: list[dict[str, Any]]) -> list[str]:
    digests = {(i["stage"], i["lang"]): i for i in inputs}
    rows = []
    for stage in recipe.stages:
        for source in stage.sources:
            digest = digests.get((stage.name, source.lang), {})
            name = os.path.basename(source.path)
            link = f"[{name}]({source.url})" if source.url else name
            about = f"{link}: {source.description}" if source.description else link
            size = digest.get("bytes")
            rows.append(
                (
                    stage.name,
                    source.lang,
                    about,
                    source.licence or NOT_DECLARED,
                    "" if size is None else f"{size:,}",
                    f"`{digest['sha256']}`" if digest.get("sha256") else "",
                )
            )
    header = ("stage", "language", "source", "licence", "bytes", "SHA-256")
    return ["## Sources\n", _table(header, rows)]


def _stages(stages: list[dict[str, Any]]) -> list[str]:
    rows = []
    for stage in stages:
        groups = stage["groups"]
        counts = ("read", "written", "filtered", "rejected", "skipped")
        rows.append(
            (stage["name"], _number(stage.get("weight")), *(_number(groups.get(c)) for c in counts))
        )
    header = ("stage", "weight", "groups read", "written", "filtered", "rejected", "skipped")
    return ["## Stages\n", _table(header, rows)]


def _languages(stages: list[dict[str, Any]]) -> list[str]:
    written: Counter[str] = Counter()
    read: Counter[str] = Counter()
    for stage in stages:
        for source in stage["sources"]:
            written[source["lang"]] += source["written"]
            read[source["lang"]] += source["read"]
    rows = [(lang, _number(read[lang]), _number(written[lang])) for lang in read]
    return ["## Languages\n", _table(("language", "records read", "records written"), rows)]


def _filters(stages: list[dict[str, Any]]) -> list[str]:
    rows = [
        (stage["name"], f"`{condition}`", _number(count))
        for stage in stages
        for condition, count in stage.get("filters", {}).items()
    ]
    if not rows:
        return ["## Filters\n", "No filters.\n"]
    return ["## Filters\n", _table(("stage", "condition", "groups filtered out"), rows)]


def _checks(stages: list[dict[str, Any]]) -> list[str]:
    rows = [
        (stage["name"], name, check["policy"], _number(check["warned"]), _number(check["rejected"]))
        for stage in stages
        for name, check in stage.get("checks", {}).items()
    ]
    if not rows:
        return ["## Checks\n", "Every check was off.\n"]
    header = ("stage", "check", "policy", "groups warned", "groups rejected")
    return ["## Checks\n", _table(header, rows)]


def _splits(document: dict[str, Any], outputs: dict[str, dict[str, Any]]) -> list[str]:
    splits = document.get("splits") or {}
    if not splits:
        return []
    rows = []
    for name, split in splits.items():
        digest = outputs.get(name, {})
        sha = f"`{digest['sha256']}`" if digest.get("sha256") else ""
        rows.append(
            (
                name,
                os.path.basename(split["path"]),
                _number(split["groups"]),
                _number(split["records"]),
                sha,
            )
        )
    header = ("split", "file", "groups", "records", "SHA-256")
    return ["## Splits\n", _table(header, rows)]


def _rebuild(command: Sequence[str], dry_run: bool) -> list[str]:
    given = shlex.join(command)
    made = "would be made (this was a dry run)" if dry_run else "was made"
    return [
        "## Rebuilding\n",
        f"The same recipe and inputs give the same bytes. This corpus {made} with:\n",
        f"```sh\n{given}\n```\n",
        "Check a rebuild against the report (every input's SHA-256 before writing, every "
        "output's after; a difference is an error):\n",
        "```sh\nconvert run RECIPE.toml --verify REPORT.json -o REBUILT_OUTPUT\n```\n",
    ]


def _tool(tool: dict[str, Any], python: str) -> list[str]:
    rows = [
        (p["name"], p.get("kind", ""), p.get("distribution", ""), p.get("version", ""))
        for p in tool.get("plugins", [])
    ]
    return [
        "## Tool\n",
        f"{tool['name']} {tool['version']}, Python {python}. Plugins:\n",
        _table(("plugin", "kind", "distribution", "version"), rows),
    ]


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table; ``|`` and line breaks in cells are escaped."""
    lines = [_row(header), _row(["---"] * len(header))]
    lines += [_row(row) for row in rows]
    return "\n".join(lines) + "\n"


def _row(cells: Iterable[str]) -> str:
    escaped = (" ".join(str(c).split()).replace("|", "\\|") for c in cells)
    return "| " + " | ".join(escaped) + " |"
