"""The host side of the plugin API: the manager, the registries and the per-run factories."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy

from converter import __version__
from converter.discovery import (
    Manager,
    Origin,
    check_hook_names,
    load_entry_points,
    load_modules,
    register_plugin,
)
from converter.errors import PluginError, UsageError
from converter.hookcalls import call_hook, guard, trace
from converter.model import Check, InputFormat, Language, Record, Tagger, WriterSpec
from converter.vetting import check_checks, check_languages, check_writers, uncallable, vetted

#: Built-in behaviour, registered exactly like third-party plugins.
DEFAULT_PLUGINS = (
    "converter.builtin.languages",
    "converter.builtin.formats",
    "converter.builtin.writers",
    "converter.builtin.trainer_writers",
    "converter.builtin.parquet_writer",
    "converter.builtin.tagger",
    "converter.builtin.register",
    "converter.builtin.interleaver",
    "converter.builtin.checks",
)


def build_manager(extra_modules: Iterable[str] = (), autoload: bool | None = None) -> Manager:
    """Return a plugin manager with the built-ins, the allowed entry points and ``extra_modules``.

    Entry points are not loaded when ``sys._called_from_test`` is set (converter's test suite
    sets it) unless ``autoload`` is true; ``CONVERTER_LOAD_PLUGINS`` restricts them to an
    allow-list. A misspelled hook name is a PluginError naming the plugin.
    """
    pm = Manager()
    for name in DEFAULT_PLUGINS:
        builtin = importlib.import_module(name)
        register_plugin(pm, builtin, name, Origin("builtin", "langpair-converter", __version__))
    if autoload is None:
        autoload = not hasattr(sys, "_called_from_test")
    if autoload:
        load_entry_points(pm)
    load_modules(pm, list(extra_modules))
    check_hook_names(pm)
    return pm


@dataclass
class Registry:
    """Everything the plugins registered, by name, with the plugin that registered each."""

    languages: dict[str, Language] = field(default_factory=dict)
    formats: dict[str, InputFormat] = field(default_factory=dict)
    writers: dict[str, WriterSpec] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    taggers: dict[str, Tagger] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every ``register_*`` hook and return the registry; duplicates are a PluginError."""
    reg = Registry()
    _collect(pm, "register_languages", "language", reg.languages, lambda x: x.code, reg)
    check_languages(_builtins_first(reg, "language", reg.languages))
    _collect(pm, "register_input_formats", "input format", reg.formats, lambda x: x.name, reg)
    _collect(pm, "register_writers", "writer", reg.writers, lambda x: x.name, reg)
    check_writers(_builtins_first(reg, "writer", reg.writers))
    _collect(pm, "register_checks", "check", reg.checks, lambda x: x.name, reg)
    check_checks(_builtins_first(reg, "check", reg.checks))
    _collect(pm, "register_taggers", "tagger", reg.taggers, lambda x: x.name, reg)
    return reg


def _builtins_first(reg: Registry, kind: str, items: dict[str, Any]) -> list[tuple[str, Any]]:
    """The registered ``items`` of ``kind`` with their plugins, the built-ins' first (so that
    a clash blames the third-party plugin)."""
    owned = [(reg.owners[kind, name], item) for name, item in items.items()]
    return sorted(owned, key=lambda pair: pair[0] not in DEFAULT_PLUGINS)


def opt_in_taggers(
    names: Sequence[str], registry: Registry, languages: Sequence[Language]
) -> list[Callable[[Record], None]]:
    """The per-record callables of the opt-in taggers named (``--tagger NAME``), in order;
    UsageError for a name no plugin registered."""
    taggers = []
    for name in names:
        if name not in registry.taggers:
            known = ", ".join(sorted(registry.taggers)) or "none"
            raise UsageError(f"unknown tagger {name!r}; known: {known} (plugins add more)")
        tag = registry.taggers[name].make(languages)
        if tag is not None:
            taggers.append(tag)
    return taggers


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
                first, second = _blame(reg.owners[kind, name], _plugin)
                raise PluginError(
                    f"plugin {second!r} registers {kind} {name!r}, already registered by {first!r}"
                )
            if _plugin not in DEFAULT_PLUGINS:
                problem = uncallable(item)
                if problem:
                    raise PluginError(f"plugin {_plugin!r} registers {kind} {name!r}: {problem}")
                item = vetted(item, _plugin)
            into[name] = item
            reg.owners[kind, name] = _plugin
            trace(f"plugin {_plugin!r} registers {kind} {name!r}")

        call_hook(impl, register=register)


def _blame(first: str, second: str) -> tuple[str, str]:
    """Order two plugins that registered the same name so that a built-in is never blamed
    (third-party plugins are called first, so they register first)."""
    return (second, first) if second in DEFAULT_PLUGINS else (first, second)


def run_factories(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[Any]:
    """Call a ``make_*`` hook plugin by plugin (pluggy's order); return the non-None results.

    A ``firstresult`` hook stops at the first. Each result is a one-argument callable for the
    hot loop; a third-party one is wrapped once so that an error inside it names its plugin.
    """
    caller = getattr(pm.hook, hook_name)
    first = bool(caller.spec and caller.spec.opts.get("firstresult"))
    results = []
    for impl in reversed(caller.get_hookimpls()):
        result = call_hook(impl, **kwargs)
        if result is None:
            continue
        builtin = impl.plugin_name in DEFAULT_PLUGINS
        if not builtin and not callable(result):
            raise PluginError(
                f"plugin {impl.plugin_name!r}: {hook_name} returned {type(result).__name__}, "
                "not a callable (or None)"
            )
        results.append(result if builtin else guard(result, impl.plugin_name, hook_name))
        if first:
            break
    return results
