"""``convert plugins``: what is loaded; ``convert plugins new LANG``: start a language plugin."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from importlib.metadata import packages_distributions, version
from pathlib import Path
from typing import Annotated, Any

import typer

from converter.cli.options import Debug, Plugins
from converter.output import stdout_closed_stops
from converter.plugins import Registry, build_manager, build_registry
from converter.scaffold import new_plugin

app = typer.Typer(
    help="List the plugins converter loads, or start a new language plugin.",
    invoke_without_command=True,
    add_completion=False,
)

#: What a plugin may add: (registry attribute, owner kind, key in the listing).
_REGISTRIES = (
    ("languages", "language", "languages"),
    ("formats", "input format", "input_formats"),
    ("writers", "writer", "writers"),
    ("checks", "check", "checks"),
    ("taggers", "tagger", "taggers"),
)


class Format(StrEnum):
    """The format of the listing."""

    text = "text"
    json = "json"


def list_plugins(*, plugins: tuple[str, ...] = (), include_builtins: bool = False) -> list[dict]:
    """Describe each loaded plugin: name, kind, distribution, version, hooks and what it adds."""
    pm = build_manager(plugins)
    registry = build_registry(pm)
    entries = []
    for name, plugin in pm.list_name_plugin():
        origin = pm.origins[name]
        if origin.kind == "builtin" and not include_builtins:
            continue
        dist, ver = origin.distribution, origin.version
        if dist is None:
            dist, ver = _module_distribution(name)
            ver = ver or getattr(plugin, "__version__", None)
        entry: dict[str, Any] = {
            "name": name,
            "kind": origin.kind,
            "distribution": dist,
            "version": ver,
            "hooks": sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()),
        }
        entry.update(_registered(registry, name))
        entries.append(entry)
    return entries


def _registered(registry: Registry, plugin: str) -> dict[str, list[str]]:
    """What ``plugin`` registered, per registry, in registration order."""
    return {
        key: [name for name in getattr(registry, attr) if registry.owners[kind, name] == plugin]
        for attr, kind, key in _REGISTRIES
    }


def _module_distribution(module: str) -> tuple[str | None, str | None]:
    """The installed distribution providing ``module`` (a ``--plugin``), if any."""
    dists = packages_distributions().get(module.split(".")[0])
    return (dists[0], version(dists[0])) if dists else (None, None)


def render(entries: list[dict]) -> str:
    """The listing as text: one block per plugin."""
    if not entries:
        return "No plugins loaded besides the built-ins (show them with --all).\n"
    lines = []
    for entry in entries:
        where = ", ".join(x for x in (entry["distribution"], entry["kind"]) if x)
        head = " ".join(x for x in (entry["name"], entry["version"]) if x)
        lines.append(f"{head} ({where})")
        lines.append(f"  hooks: {', '.join(entry['hooks'])}")
        for _, _, key in _REGISTRIES:
            if entry[key]:
                lines.append(f"  {key.replace('_', ' ')}: {', '.join(entry[key])}")
    return "\n".join(lines) + "\n"


@app.callback(invoke_without_command=True)
def plugins(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include the built-in plugins.")] = False,
    format: Annotated[
        Format, typer.Option("--format", "-f", help="Write the listing as text or JSON.")
    ] = Format.text,
    plugin: Plugins = None,
    debug: Debug = False,
) -> None:
    """List the loaded plugins: name, version, hooks, and the languages, formats, writers
    and checks each adds."""
    if ctx.invoked_subcommand is not None:
        return
    entries = list_plugins(plugins=tuple(plugin or ()), include_builtins=all_)
    with stdout_closed_stops():
        if format is Format.json:
            sys.stdout.write(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(render(entries))
        sys.stdout.flush()


@app.command("new")
def new(
    lang: Annotated[str, typer.Argument(metavar="LANG", help="The language code, e.g. ko.")],
    name: Annotated[
        str | None,
        typer.Option("--name", help="The language's English name (known for common codes)."),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Write the package here (default ./langpair-converter-LANG)."),
    ] = None,
    suffix: Annotated[
        str | None,
        typer.Option(
            "--suffix", help="What ends each seq, 2 to 8 uppercase letters (default: from LANG)."
        ),
    ] = None,
    debug: Debug = False,
) -> None:
    """Write a new language plugin package that installs and passes its tests as generated."""
    made = new_plugin(lang=lang, name=name, directory=directory, suffix=suffix)
    for path in made.files:
        sys.stdout.write(f"wrote {path}\n")
    sys.stdout.write(
        f"next: edit {made.module}, then: pip install -e {made.root} && pytest {made.root}\n"
    )
    if made.placeholders:
        sys.stdout.write(
            f"note: {lang!r} is not a language the scaffold knows: it assumed the Latin script "
            f"and wrote a placeholder test sample; set scripts (or accepts) in {made.module} "
            f"and SAMPLE in {made.test} to a real {name or lang} text\n"
        )
