"""Finding plugins: entry points (with an allow-list), local modules and files, hook-name checks."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy

from converter import PROJECT_NAME, hookspecs
from converter.errors import PLUGIN_FAILURES, PluginError
from converter.hookcalls import note_plugin_code

#: Comma-separated distribution (or entry-point) names allowed to load ("" loads none).
ALLOW_ENV = "CONVERTER_LOAD_PLUGINS"
#: Comma-separated module paths (or ``.py`` files) to load as plugins without packaging them.
MODULES_ENV = "CONVERTER_PLUGINS"
#: Every hook name, for "did you mean" hints.
HOOK_NAMES = tuple(n for n in vars(hookspecs) if hasattr(getattr(hookspecs, n), "converter_spec"))


@dataclass(frozen=True)
class Origin:
    """Where a plugin came from: ``builtin``, ``entry point`` or ``module``, and its package."""

    kind: str
    distribution: str | None = None
    version: str | None = None


class Manager(pluggy.PluginManager):
    """pluggy's plugin manager with converter's hooks, remembering each plugin's origin."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, Origin] = {}

    def describe(self) -> list[dict[str, str]]:
        """Each plugin's name, kind, distribution and version, for the run's report."""
        return [
            {
                "name": n,
                "kind": o.kind,
                "distribution": o.distribution or "",
                "version": o.version or "",
            }
            for n, o in self.origins.items()
        ]


def register_plugin(pm: Manager, plugin: object, name: str, origin: Origin) -> None:
    """Register ``plugin`` under ``name``; PluginError if pluggy rejects it or it has no hooks."""
    if pm.is_registered(plugin):  # the same module reached twice (entry point and --plugin)
        return
    other = pm.get_plugin(name)
    if other is not None:
        first, second = _described(other, pm.origins[name]), _described(plugin, origin)
        raise PluginError(
            f"plugin name {name!r} is taken twice: by the {first}, and by the {second}; "
            f"uninstall one, or leave one out ({ALLOW_ENV} lists the ones to load)"
        )
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        message = " ".join(str(exc).split())
        raise PluginError(f"plugin {name!r} cannot be registered: {message}") from exc
    if not pm.get_hookcallers(plugin):
        pm.unregister(plugin)
        raise PluginError(f"plugin {name!r} implements no hook: mark them with @converter.hookimpl")
    pm.origins[name] = origin
    if origin.kind != "builtin":
        note_plugin_code(plugin, name)


def _described(plugin: object, origin: Origin) -> str:
    """Where a plugin comes from, for a message: its distribution and file."""
    where = getattr(plugin, "__file__", None) or type(plugin).__module__
    if origin.distribution:
        package = " ".join(filter(None, (origin.distribution, origin.version)))
        return f"{origin.kind} of {package} ({where})"
    return f"{origin.kind} {where}"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def load_entry_points(pm: Manager) -> None:
    """Load the ``converter`` entry-point group, restricted by ``CONVERTER_LOAD_PLUGINS``.

    The allow-list takes distribution or entry-point names; naming one that is not installed
    is an error, so that a reproducible run never goes ahead without its plugins.
    """
    allowed = os.environ.get(ALLOW_ENV)
    allow = None if allowed is None else {_normal(a) for a in allowed.split(",") if a.strip()}
    found: set[str] = set()
    for ep in entry_points(group=PROJECT_NAME):
        dist, version = (ep.dist.name, ep.dist.version) if ep.dist else (None, None)
        names = {_normal(ep.name), _normal(dist or ep.name)}
        if allow is not None and not names & allow:
            continue
        found |= names
        try:
            plugin = ep.load()
        except PLUGIN_FAILURES as exc:
            raise PluginError(
                f"plugin {ep.name!r} ({dist}) failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        register_plugin(pm, plugin, ep.name, Origin("entry point", dist, version))
    missing = sorted((allow or set()) - found)
    if missing:
        raise PluginError(f"{ALLOW_ENV} names {', '.join(missing)}: no such plugin is installed")


def load_modules(pm: Manager, modules: list[str]) -> None:
    """Load ``CONVERTER_PLUGINS`` and then ``modules`` (import paths or ``.py`` files)."""
    from_env = [m.strip() for m in os.environ.get(MODULES_ENV, "").split(",") if m.strip()]
    for module in [*from_env, *modules]:
        try:
            plugin = _import_file(Path(module)) if module.endswith(".py") else None
            plugin = plugin or importlib.import_module(module)
        except PLUGIN_FAILURES as exc:
            raise PluginError(
                f"plugin {module!r} failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        register_plugin(pm, plugin, plugin.__name__, Origin("module"))


def _import_file(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    loaded = sys.modules.get(path.stem)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() == path.resolve():
            return loaded
        raise ImportError(f"a module named {path.stem!r} is already loaded; rename {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:  # not left half-made for the next import to take
        del sys.modules[path.stem]
        raise
    return module


def check_hook_names(pm: Manager) -> None:
    """pluggy's ``check_pending``: an implementation of no known hook names its plugin."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin)
        bad = [h.name for h in pm.get_hookcallers(exc.plugin) or () if not h.has_spec()]
        if not bad:
            raise PluginError(f"plugin {name!r}: {exc}") from exc
        close = difflib.get_close_matches(bad[0], HOOK_NAMES, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"hooks are: {', '.join(HOOK_NAMES)}"
        raise PluginError(f"plugin {name!r} implements unknown hook {bad[0]!r}; {hint}") from exc
