"""The plugin manager: loading built-ins, entry points and local modules; the registries."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from converter import PROJECT_NAME, hookspecs
from converter.errors import PluginError
from converter.model import Check, InputFormat, Language, WriterSpec

#: Built-in behaviour, registered exactly like third-party plugins.
DEFAULT_PLUGINS = (
    "converter.builtin.languages",
    "converter.builtin.formats",
    "converter.builtin.writers",
    "converter.builtin.tagger",
    "converter.builtin.interleaver",
    "converter.builtin.checks",
)

#: Comma-separated distribution names allowed to load through entry points ("" loads none).
ALLOW_ENV = "CONVERTER_LOAD_PLUGINS"
#: Comma-separated module paths to load as plugins without packaging them.
MODULES_ENV = "CONVERTER_PLUGINS"
#: Any non-empty value prints every hook call to stderr.
TRACE_ENV = "CONVERTER_TRACE_PLUGINS"


def build_manager(
    extra_modules: Iterable[str] = (), autoload: bool | None = None
) -> pluggy.PluginManager:
    """Return a plugin manager with the built-ins, the allowed entry points and ``extra_modules``.

    Entry points are not loaded under pytest unless ``autoload`` is true; ``CONVERTER_LOAD_PLUGINS``
    restricts them to an allow-list of distribution names.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if autoload is None:
        autoload = not hasattr(sys, "_called_from_test")
    if autoload:
        _load_entry_points(pm)
    modules = [m for m in os.environ.get(MODULES_ENV, "").split(",") if m.strip()]
    for module in [*modules, *extra_modules]:
        _load_module(pm, module.strip())
    _check_hook_names(pm)
    if os.environ.get(TRACE_ENV):
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(str(msg)))
        pm.enable_tracing()
    return pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = os.environ.get(ALLOW_ENV)
    allow = None if allowed is None else {a.strip() for a in allowed.split(",") if a.strip()}
    for ep in entry_points(group=PROJECT_NAME):
        dist = ep.dist.name if ep.dist else ep.name
        if allow is not None and dist not in allow:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {ep.name!r} ({dist}) failed to import: {exc}") from exc
        pm.register(plugin, name=ep.name)
        _DISTRIBUTIONS[ep.name] = (dist, ep.dist.version if ep.dist else "")


#: plugin name -> (distribution, version) for plugins loaded through entry points.
_DISTRIBUTIONS: dict[str, tuple[str, str]] = {}


def plugin_distribution(name: str) -> tuple[str, str] | None:
    """Return (distribution, version) of an entry-point plugin, None for others."""
    return _DISTRIBUTIONS.get(name)


def _load_module(pm: pluggy.PluginManager, module: str) -> None:
    if pm.get_plugin(module) is not None:
        return
    try:
        plugin = importlib.import_module(module)
    except Exception as exc:
        raise PluginError(f"plugin {module!r} failed to import: {exc}") from exc
    pm.register(plugin, name=module)


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {pm.get_name(exc.plugin)!r}: {exc}") from exc


@dataclass
class Registry:
    """Everything the plugins registered, by name, with the plugin that registered each."""

    languages: dict[str, Language] = field(default_factory=dict)
    formats: dict[str, InputFormat] = field(default_factory=dict)
    writers: dict[str, WriterSpec] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every ``register_*`` hook and return the registry; duplicates are a PluginError."""
    reg = Registry()
    _collect(pm, "register_languages", "language", reg.languages, lambda x: x.code, reg)
    suffixes: dict[str, str] = {}
    for lang in reg.languages.values():
        if lang.suffix in suffixes:
            raise PluginError(
                f"plugin {reg.owners['language', lang.code]!r} registers seq suffix "
                f"{lang.suffix!r}, already used by language {suffixes[lang.suffix]!r}"
            )
        suffixes[lang.suffix] = lang.code
    _collect(pm, "register_input_formats", "input format", reg.formats, lambda x: x.name, reg)
    _collect(pm, "register_writers", "writer", reg.writers, lambda x: x.name, reg)
    _collect(pm, "register_checks", "check", reg.checks, lambda x: x.name, reg)
    return reg


def _collect(
    pm: pluggy.PluginManager,
    hook_name: str,
    kind: str,
    into: dict[str, Any],
    key: Callable[[Any], str],
    reg: Registry,
) -> None:
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):

        def register(item: Any, _plugin: str = impl.plugin_name) -> None:
            name = key(item)
            if name in into:
                raise PluginError(
                    f"plugin {_plugin!r} registers {kind} {name!r}, "
                    f"already registered by {reg.owners[kind, name]!r}"
                )
            into[name] = item
            reg.owners[kind, name] = _plugin

        call_hook(impl, register=register)


def call_hook(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one plugin's implementation with the arguments it asks for; errors name the plugin."""
    try:
        return impl.function(**{name: kwargs[name] for name in impl.argnames})
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(
            f"plugin {impl.plugin_name!r} failed in {impl.function.__name__}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def run_factories(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[Any]:
    """Call a ``make_*`` hook plugin by plugin (pluggy's order) and return the non-None results."""
    results = []
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        result = call_hook(impl, **kwargs)
        if result is not None:
            results.append(result)
    return results
