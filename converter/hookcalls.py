"""Calling plugins' hook implementations and the callables they return, so that an error (or,
for an interleaver, a result that loses records) names the plugin; ``CONVERTER_TRACE_PLUGINS``
tracing of every call and registration."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import pluggy

from converter.errors import PluginError
from converter.model import Record

#: Any non-empty value prints every hook call and registration to stderr.
TRACE_ENV = "CONVERTER_TRACE_PLUGINS"


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
    except Exception as exc:
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
        except Exception as exc:
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
