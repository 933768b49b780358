"""Recipes: a TOML file describing a staged dataset, read into a validated :class:`Recipe`.

The file's structure is checked against :data:`converter.recipe_schema.RECIPE_SCHEMA` (jsonschema);
the first problem becomes one :class:`~converter.errors.UsageError` line naming the recipe file,
the table and the key. Relative paths are resolved against the recipe file's folder, so a
recipe runs the same from any working directory. See docs/recipes.md.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from converter.errors import UsageError
from converter.inputs import read_settings
from converter.job import StreamJob
from converter.output import STDOUT
from converter.recipe_schema import stage_label, structure_problem
from converter.stages import Mix, Stage, check_stages


@dataclass(frozen=True)
class Source:
    """One source of a stage: its language, its path (resolved) and what the card says of it."""

    lang: str
    path: str
    licence: str = ""
    url: str = ""
    description: str = ""


@dataclass(frozen=True)
class RecipeStage:
    """One ``[[stage]]`` table: its sources and how they are read, filtered and checked."""

    name: str
    sources: tuple[Source, ...]
    input_formats: dict[str, str] = field(default_factory=dict)
    limit: int | None = None
    start: int | None = None
    stop: int | None = None
    where: tuple[str, ...] = ()
    checks: dict[str, str] = field(default_factory=dict)
    strict: bool = False
    taggers: tuple[str, ...] = ()
    key: str | None = None
    realign: bool = False
    unequal: str = "error"
    weight: float = 1.0


@dataclass(frozen=True)
class OutputSettings:
    """The ``[output]`` table; the command line's options override these (see docs/recipes.md)."""

    path: str | None = None
    format: str | None = None
    rejects: str | None = None
    keep_tags: bool = False
    shuffle: bool = False
    sample: int | None = None
    split: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """A read and validated recipe file, with its text and SHA-256 for provenance."""

    path: str
    text: str
    sha256: str
    stages: tuple[RecipeStage, ...]
    output: OutputSettings = field(default_factory=OutputSettings)
    mix: Mix = "concat"
    #: Seeds the mix by weights and the selection (sample, shuffle, split).
    seed: int = 0
    title: str = ""
    description: str = ""
    plugins: tuple[str, ...] = ()


def load_recipe(path: str) -> Recipe:
    """Read, decode and validate the recipe at ``path``; UsageError (one line) when it is wrong."""
    try:
        data = read_settings(path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the recipe: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
        table = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: the recipe is not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    return parse_recipe(table, path, text, hashlib.sha256(data).hexdigest())


def parse_recipe(table: Mapping[str, Any], path: str, text: str = "", sha256: str = "") -> Recipe:
    """Validate a decoded recipe ``table`` read from ``path`` and build the :class:`Recipe`."""
    problem = structure_problem(table)
    if problem:
        raise UsageError(f"{path}: {problem}")
    base = os.path.dirname(os.path.abspath(path))
    stages = tuple(_stage(raw, k, base, path) for k, raw in enumerate(table["stage"]))
    out = table.get("output", {})
    mix = table.get("mix", {})
    return Recipe(
        path=path,
        text=text,
        sha256=sha256,
        stages=stages,
        output=OutputSettings(
            path=_resolve(base, out.get("path")),
            format=out.get("format"),
            rejects=_resolve(base, out.get("rejects")),
            keep_tags=out.get("keep_tags", False),
            shuffle=out.get("shuffle", False),
            sample=out.get("sample"),
            split=dict(out.get("split", {})),
        ),
        mix=cast(Mix, mix.get("mode", "concat")),
        seed=table.get("seed", 0),
        title=table.get("title", ""),
        description=table.get("description", ""),
        plugins=tuple(_plugin(base, given) for given in table.get("plugins", ())),
    )


@dataclass(frozen=True)
class Overrides:
    """Command-line options that win over the recipe's ``[output]`` table and ``seed``."""

    output: str | None = None
    format: str | None = None
    rejects: str | None = None
    seed: int | None = None
    plugins: tuple[str, ...] = ()


def to_stages(recipe: Recipe, overrides: Overrides = Overrides()) -> list[Stage]:
    """The recipe's stages for :func:`converter.stages.run_stages`; UsageError naming the
    recipe for a problem between stages (a name given twice)."""
    plugins = recipe.plugins + overrides.plugins
    stages = [
        Stage(
            name=s.name,
            job=StreamJob(
                sources=[(source.lang, source.path) for source in s.sources],
                input_formats=s.input_formats,
                limit=s.limit,
                start=s.start or 0,
                stop=s.stop,
                unequal=s.unequal,
                key=s.key,
                realign=s.realign,
                where=s.where,
                checks=s.checks,
                strict=s.strict,
                taggers=s.taggers,
                plugins=plugins,
            ),
            weight=s.weight,
        )
        for s in recipe.stages
    ]
    try:
        check_stages(stages, recipe.mix)
    except UsageError as exc:
        raise UsageError(f"{recipe.path}: {exc}") from None
    return stages


def output_job(recipe: Recipe, overrides: Overrides = Overrides()) -> StreamJob:
    """The output side of the run: the recipe's ``[output]`` with the command line's overrides."""
    out = recipe.output
    return StreamJob(
        sources=[],
        output=overrides.output or out.path or STDOUT,
        format=overrides.format or out.format,
        rejects=overrides.rejects or out.rejects,
        keep_tags=out.keep_tags,
        plugins=recipe.plugins + overrides.plugins,
        sample=out.sample,
        shuffle=out.shuffle,
        split=tuple(out.split.items()),
        seed=recipe.seed if overrides.seed is None else overrides.seed,
    )


def _stage(raw: Mapping[str, Any], k: int, base: str, path: str) -> RecipeStage:
    name = raw["name"]
    sources = []
    for lang, given in raw["sources"].items():
        spec = {"path": given} if isinstance(given, str) else dict(given)
        spec["path"] = _resolve(base, spec["path"])
        sources.append(Source(lang=lang, **spec))
    langs = {source.lang for source in sources}
    for lang in raw.get("input_formats", {}):
        if lang not in langs:
            raise UsageError(
                f"{path}: {stage_label(k, name)}: key 'input_formats' names {lang!r}, "
                "which is not one of its sources"
            )
    start, stop = raw.get("start"), raw.get("stop")
    if start is not None and stop is not None and stop <= start:
        raise UsageError(
            f"{path}: {stage_label(k, name)}: 'stop' ({stop}) is not past 'start' ({start}): "
            "that selects no group"
        )
    return RecipeStage(
        name=name,
        sources=tuple(sources),
        input_formats=dict(raw.get("input_formats", {})),
        limit=raw.get("limit"),
        start=start,
        stop=stop,
        where=tuple(raw.get("where", ())),
        checks=dict(raw.get("checks", {})),
        strict=raw.get("strict", False),
        taggers=tuple(raw.get("taggers", ())),
        key=raw.get("key"),
        realign=raw.get("realign", False),
        unequal=raw.get("unequal", "error"),
        weight=float(raw.get("weight", 1.0)),
    )


def _plugin(base: str, given: str) -> str:
    """A plugin: a ``.py`` file relative to the recipe's folder, an import path as it is."""
    return (_resolve(base, given) or given) if given.endswith(".py") else given


def _resolve(base: str, given: str | None) -> str | None:
    """``given`` relative to the recipe's folder; ``-`` (stdout/stdin) and absolute paths kept."""
    if given is None or given == "-" or os.path.isabs(given):
        return given
    return os.path.normpath(os.path.join(base, os.path.expanduser(given)))
