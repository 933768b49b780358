"""Calling plugins' hook implementations and the callables they return, so that an error (or,
for an interleaver, a result that loses records) names the plugin; an error raised anywhere
else in a third-party plugin's code (an object it registered, a writer it made) named after
the plugin too; ``CONVERTER_TRACE_PLUGINS`` tracing of every call and registration."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType, TracebackType
from typing import Any

import pluggy

from converter.errors import PLUGIN_FAILURES, ConverterError, OutputClosed, PluginError
from converter.model import Record

#: Any non-empty value prints every hook call and registration to stderr.
TRACE_ENV = "CONVERTER_TRACE_PLUGINS"
#: Where third-party plugins' code lives: a package (or lone module) name -> the plugin's name.
_PLUGIN_CODE: dict[str, str] = {}


def trace(message: str) -> None:
    """Print ``message`` on stderr when ``CONVERTER_TRACE_PLUGINS`` is set."""
    if os.environ.get(TRACE_ENV):
        sys.stderr.write(f"convert: trace: {message}\n")


def call_hook(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one plugin's implementation with the arguments it asks for; errors name the plugin.

    The core calls implementations one by one (not through ``pm.hook``) to know which plugin
    failed, so ``CONVERTER_TRACE_PLUGINS`` tracing is done here.
    """
    hook = impl.opts.get("specname") or impl.function.__name__
    trace(f"{hook}: calling plugin {impl.plugin_name!r} with {', '.join(impl.argnames)}")
    try:
        result = impl.function(**{name: kwargs[name] for name in impl.argnames})
    except PluginError:
        raise
    except PLUGIN_FAILURES as exc:
        raise PluginError(
            f"plugin {impl.plugin_name!r} failed in {hook}: {type(exc).__name__}: {exc}"
        ) from exc
    trace(f"{hook}: plugin {impl.plugin_name!r} returned {result!r}")
    return result


def guard(function: Callable[[Any], Any], plugin: str, hook: str) -> Callable[[Any], Any]:
    """Wrap a plugin's per-run callable: any error becomes a PluginError naming the plugin."""

    def guarded(arg: Any) -> Any:
        try:
            result = function(arg)
        except PluginError:
            raise
        except PLUGIN_FAILURES as exc:
            raise PluginError(
                f"plugin {plugin!r} failed in the callable from {hook} on {_where(arg)}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if hook == "make_interleaver" and not _reorders(arg, result):
            raise PluginError(
                f"plugin {plugin!r}: the interleaver from {hook} must return the records of "
                f"{_where(arg)} reordered, each once; it returned {_langs(result)} for "
                f"{_langs(arg)}"
            )
        return result

    return guarded


def _reorders(group: list[Record], ordered: Any) -> bool:
    """Whether ``ordered`` holds each record of ``group`` exactly once (nothing dropped, added
    or doubled: the counts of the run must reconcile)."""
    if not isinstance(ordered, list | tuple) or len(ordered) != len(group):
        return False
    return {id(record) for record in ordered} == {id(record) for record in group}


def _langs(records: Any) -> str:
    if not isinstance(records, list):
        return type(records).__name__
    return "[" + ", ".join(getattr(r, "lang", type(r).__name__) for r in records) + "]"


def _where(arg: Any) -> str:
    if isinstance(arg, Record):
        return f"{arg.lang} record {arg.index}"
    if isinstance(arg, list) and arg and isinstance(arg[0], Record):
        return f"group {arg[0].index}"
    return type(arg).__name__


def note_plugin_code(plugin: object, name: str) -> None:
    """Remember the package (or lone module) of third-party plugin ``name``, whose code
    :func:`plugins_blamed` blames."""
    module = plugin if isinstance(plugin, ModuleType) else sys.modules.get(type(plugin).__module__)
    if module is None:
        return
    package = module.__name__ if hasattr(module, "__path__") else module.__package__
    if not package or package.split(".")[0] == __name__.split(".")[0]:  # never the host's
        package = module.__name__
    _PLUGIN_CODE[package] = name


@contextmanager
def plugins_blamed() -> Iterator[None]:
    """Raise an error that a third-party plugin's code raised as a PluginError naming the
    plugin and the function (the innermost of the plugin's frames); any other error as it is.
    Errors the core reports itself (ConverterError, a closed output) pass as they are."""
    try:
        yield
    except (ConverterError, OutputClosed):
        raise
    except PLUGIN_FAILURES as exc:
        frame = _innermost_plugin_frame(exc.__traceback__)
        if frame is None:
            raise
        plugin, tb = frame
        code = tb.tb_frame.f_code
        where = f"{code.co_name} ({os.path.basename(code.co_filename)}:{tb.tb_lineno})"
        raise PluginError(
            f"plugin {plugin!r} failed in {where}: {type(exc).__name__}: {exc}"
        ) from exc


def _innermost_plugin_frame(tb: TracebackType | None) -> tuple[str, TracebackType] | None:
    """The last frame of ``tb`` that runs a third-party plugin's code, with the plugin's name."""
    found = None
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        parts = module.split(".")
        for size in range(len(parts), 0, -1):
            plugin = _PLUGIN_CODE.get(".".join(parts[:size]))
            if plugin is not None:
                found = plugin, tb
                break
        tb = tb.tb_next
    return found
