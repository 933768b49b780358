"""The host side of the plugin API: the manager, the registries and the per-run factories."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
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
from converter.langid import SCRIPTS
from converter.model import (
    ALL_CHECKS,
    POLICIES,
    Check,
    InputFormat,
    Language,
    Record,
    Tagger,
    WriterSpec,
)
from converter.validation import schema_path

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
#: The scripts a language can say it shows in (``Language.scripts``).
LANGUAGE_SCRIPTS = tuple(s for s in SCRIPTS if s != "und")


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


def language_problem(lang: Language) -> str | None:
    """What is wrong with a registered language (code, suffix, reasoning, scripts, accepts),
    as a clause, or None."""
    if not isinstance(lang.code, str) or not CODE_RE.fullmatch(lang.code):
        return f"code {lang.code!r} is not a lowercase language code such as 'zh' or 'pt-br'"
    if not isinstance(lang.suffix, str) or not SUFFIX_RE.fullmatch(lang.suffix):
        return f"seq suffix {lang.suffix!r} is not 2 to 8 uppercase letters"
    if not str(lang.reasoning).strip() or not str(lang.name).strip():
        return "its name or reasoning sentence is empty"
    if isinstance(lang.scripts, str):
        return f"scripts is the text {lang.scripts!r}, not a set of script names"
    unknown = sorted(set(lang.scripts) - set(LANGUAGE_SCRIPTS))
    if unknown:
        return f"scripts {unknown} are unknown (known: {', '.join(LANGUAGE_SCRIPTS)})"
    if lang.accepts is not None and not callable(lang.accepts):
        return f"accepts is {type(lang.accepts).__name__}, not a callable (or None)"
    return None


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every ``register_*`` hook and return the registry; duplicates are a PluginError."""
    reg = Registry()
    _collect(pm, "register_languages", "language", reg.languages, lambda x: x.code, reg)
    suffixes: dict[str, str] = {}
    for owner, lang in _builtins_first(reg, "language", reg.languages):
        problem = language_problem(lang)
        if problem:
            raise PluginError(f"plugin {owner!r} registers language {lang.code!r}: {problem}")
        if lang.suffix in suffixes:
            raise PluginError(
                f"plugin {owner!r} registers seq suffix {lang.suffix!r}, "
                f"already used by language {suffixes[lang.suffix]!r}"
            )
        suffixes[lang.suffix] = lang.code
    _collect(pm, "register_input_formats", "input format", reg.formats, lambda x: x.name, reg)
    _collect(pm, "register_writers", "writer", reg.writers, lambda x: x.name, reg)
    output_suffixes: dict[str, str] = {}
    for owner, spec in _builtins_first(reg, "writer", reg.writers):
        if not _suffixes_ok(spec.suffixes):
            raise PluginError(
                f"plugin {owner!r} registers writer {spec.name!r} with output suffixes "
                f"{spec.suffixes!r}: give a tuple of suffixes that start with '.', e.g. ('.tsv',)"
            )
        for suffix in map(str.lower, spec.suffixes):
            # an output goes to the writer of its longest matching suffix: only the same
            # suffix (letter case aside) takes another writer's outputs
            taken = output_suffixes.get(suffix)
            if taken is not None:
                raise PluginError(
                    f"plugin {owner!r} registers writer {spec.name!r} for output suffix "
                    f"{suffix!r}, which would take the outputs of {taken!r} writer"
                )
            output_suffixes[suffix] = spec.name
    _collect(pm, "register_checks", "check", reg.checks, lambda x: x.name, reg)
    for owner, check in _builtins_first(reg, "check", reg.checks):
        if check.name == ALL_CHECKS:
            raise PluginError(
                f"plugin {owner!r} registers check {ALL_CHECKS!r}, the name --check gives "
                "every check: choose another"
            )
        if not isinstance(check.range_safe, bool):
            raise PluginError(
                f"plugin {owner!r} registers check {check.name!r} with range_safe "
                f"{check.range_safe!r}: True or False"
            )
        if check.default_policy not in POLICIES:
            raise PluginError(
                f"plugin {owner!r} registers check {check.name!r} with default policy "
                f"{check.default_policy!r} (known: {', '.join(POLICIES)})"
            )
    _collect(pm, "register_taggers", "tagger", reg.taggers, lambda x: x.name, reg)
    return reg


def _suffixes_ok(suffixes: Any) -> bool:
    """Whether a writer's ``suffixes`` are a tuple or list of suffixes such as ``.tsv`` (a
    suffix without its dot, ``s.json``, would take the outputs of another writer)."""
    if not isinstance(suffixes, tuple | list):
        return False
    return all(isinstance(s, str) and len(s) > 1 and s.startswith(".") for s in suffixes)


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
                problem = _uncallable(item)
                if problem:
                    raise PluginError(f"plugin {_plugin!r} registers {kind} {name!r}: {problem}")
                item = _vetted(item, _plugin)
            into[name] = item
            reg.owners[kind, name] = _plugin
            trace(f"plugin {_plugin!r} registers {kind} {name!r}")

        call_hook(impl, register=register)


#: What each kind of registered object must hold callable (True: or None).
_CALLABLES: dict[type, tuple[tuple[str, bool], ...]] = {
    WriterSpec: (("make", False),),
    Tagger: (("make", False),),
    InputFormat: (("detect", False), ("fields", False)),
    Check: (("compare", True), ("features", True), ("configure", True)),
}


def _uncallable(item: Any) -> str | None:
    """What a registered object holds that should be callable and is not, as a clause."""
    for name, optional in _CALLABLES.get(type(item), ()):
        value = getattr(item, name)
        if not callable(value) and not (optional and value is None):
            either = " (or None)" if optional else ""
            return f"its {name} is {type(value).__name__}, not a callable{either}"
    return None


#: What a writer has (converter.model.Writer).
WRITER_METHODS = ("row", "encode", "write", "close")


def _vetted(item: Any, plugin: str) -> Any:
    """A third-party plugin's writer, tagger or check held to what it must return (else a
    PluginError names the plugin); anything else as it is."""
    if isinstance(item, WriterSpec):
        return replace(item, make=_checked_writer(item, plugin))
    if isinstance(item, Tagger):
        return replace(item, make=_checked_tagger(item, plugin))
    if isinstance(item, Check):
        configure = _checked_check(item, plugin)
        return replace(item, compare=None, configure=configure, range_safe=item.runs_in_ranges())
    return item


def _checked_writer(spec: WriterSpec, plugin: str) -> Callable[[Any, Any], Any]:
    """``spec.make``, its writer held to have a writer's methods and schema."""

    def make(stream: Any, options: Any) -> Any:
        made = spec.make(stream, options)
        lacks = [m for m in WRITER_METHODS if not callable(getattr(made, m, None))]
        lacks += [] if isinstance(getattr(made, "schema", None), str) else ["schema"]
        if lacks:
            raise PluginError(
                f"plugin {plugin!r}: writer {spec.name!r} made {type(made).__name__}, "
                f"which lacks {', '.join(lacks)} (see converter.model.Writer)"
            )
        try:
            schema_path(made.schema)
        except UsageError as exc:
            raise PluginError(f"plugin {plugin!r}: writer {spec.name!r}: {exc}") from None
        return made

    return make


def _checked_tagger(
    tagger: Tagger, plugin: str
) -> Callable[[Sequence[Language]], Callable[[Record], None] | None]:
    """``tagger.make``, held to make a callable or None; the callable guarded."""

    def make(languages: Sequence[Language]) -> Callable[[Record], None] | None:
        tag = tagger.make(languages)
        if tag is None:
            return None
        if not callable(tag):
            raise PluginError(
                f"plugin {plugin!r}: tagger {tagger.name!r} made {type(tag).__name__}, "
                "not a callable (or None)"
            )
        return guard(tag, plugin, f"tagger {tagger.name!r}")

    return make


def _checked_check(
    check: Check, plugin: str
) -> Callable[[Sequence[Language]], Callable[[list[Record]], list[str]]]:
    """The check's ``configure``: its compare for the run, held to return a list of texts."""

    def configure(languages: Sequence[Language]) -> Callable[[list[Record]], list[str]]:
        try:
            compare = check.start(languages)
        except TypeError as exc:  # neither compare nor configure
            raise PluginError(f"plugin {plugin!r}: {exc}") from None
        if not callable(compare):
            raise PluginError(
                f"plugin {plugin!r}: check {check.name!r} configured "
                f"{type(compare).__name__}, not a compare callable"
            )

        def checked(group: list[Record]) -> list[str]:
            found = compare(group)
            odd = [f for f in found if not isinstance(f, str)] if type(found) is list else []
            if type(found) is not list or odd:
                what = f"a list holding {type(odd[0]).__name__}" if odd else type(found).__name__
                raise PluginError(
                    f"plugin {plugin!r}: check {check.name!r} returned {what}, "
                    "not a list of finding texts"
                )
            return found

        return checked

    return configure


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
