"""The host side of the plugin API: the manager, the registries and the per-run factories."""

from __future__ import annotations

import importlib
import re
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

#: A language code as typed on the command line (``zh``, ``pt-br``).
CODE_RE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
#: A seq suffix: 2 to 8 uppercase letters (``EN``, ``ZH``).
SUFFIX_RE = re.compile(r"[A-Z]{2,8}")


def build_manager(extra_modules: Iterable[str] = (), autoload: bool | None = None) -> Manager:
    """Return a plugin manager with the built-ins, the allowed entry points and ``extra_modules``.

    Entry points are not loaded under pytest unless ``autoload`` is true; ``CONVERTER_LOAD_PLUGINS``
    restricts them to an allow-list. A misspelled hook name is a PluginError naming the plugin.
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


def language_problem(lang: Language) -> str | None:
    """What is wrong with a registered language (code, suffix, reasoning), or None."""
    if not CODE_RE.fullmatch(lang.code):
        return f"code {lang.code!r} is not a lowercase language code such as 'zh' or 'pt-br'"
    if not SUFFIX_RE.fullmatch(lang.suffix):
        return f"seq suffix {lang.suffix!r} is not 2 to 8 uppercase letters"
    if not lang.reasoning.strip() or not lang.name.strip():
        return "an empty name or reasoning sentence"
    return None


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every ``register_*`` hook and return the registry; duplicates are a PluginError."""
    reg = Registry()
    _collect(pm, "register_languages", "language", reg.languages, lambda x: x.code, reg)
    suffixes: dict[str, str] = {}
    builtins_first = sorted(
        reg.languages.values(), key=lambda x: reg.owners["language", x.code] not in DEFAULT_PLUGINS
    )
    for lang in builtins_first:
        owner = reg.owners["language", lang.code]
        problem = language_problem(lang)
        if problem:
            raise PluginError(f"plugin {owner!r} registers language {lang.code!r} with {problem}")
        if lang.suffix in suffixes:
            raise PluginError(
                f"plugin {owner!r} registers seq suffix {lang.suffix!r}, "
                f"already used by language {suffixes[lang.suffix]!r}"
            )
        suffixes[lang.suffix] = lang.code
    _collect(pm, "register_input_formats", "input format", reg.formats, lambda x: x.name, reg)
    _collect(pm, "register_writers", "writer", reg.writers, lambda x: x.name, reg)
    _collect(pm, "register_checks", "check", reg.checks, lambda x: x.name, reg)
    _collect(pm, "register_taggers", "tagger", reg.taggers, lambda x: x.name, reg)
    return reg


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
        results.append(result if builtin else guard(result, impl.plugin_name, hook_name))
        if first:
            break
    return results
