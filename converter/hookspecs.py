"""The plugin API: every hook converter calls, its arguments, its calling rule.

Hooks are called by keyword; an implementation takes only the arguments it needs. Hooks that
add to a registry (languages, input formats, writers, checks) get a ``register`` callback; the
host rejects duplicates with a clear error instead of overwriting. Per-record work is never a
hook call: ``make_*`` hooks run once per run and return plain callables for the hot loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pluggy

from converter import PROJECT_NAME
from converter.model import Check, InputFormat, Language, Record, Tagger, WriterSpec

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def register_languages(register: Callable[[Language], None]) -> None:
    """Register languages a source can be declared in. Collect-all: every plugin is called;
    call ``register(Language(...))`` once per language. A code or suffix registered twice is
    an error naming both plugins."""


@hookspec
def register_input_formats(register: Callable[[InputFormat], None]) -> None:
    """Register input record formats (Alpaca, Dolly, ...). Collect-all, register callback.
    Detection asks formats in registration order; the first whose ``detect`` is true wins."""


@hookspec
def register_writers(register: Callable[[WriterSpec], None]) -> None:
    """Register output formats chosen with ``--format NAME``. Collect-all, register callback."""


@hookspec
def register_checks(register: Callable[[Check], None]) -> None:
    """Register translator-checks run on each aligned group. Collect-all, register callback.
    Each check's policy (off, warn, reject) is set with ``--check NAME=POLICY``."""


@hookspec
def register_taggers(register: Callable[[Tagger], None]) -> None:
    """Register opt-in taggers, run only when named with ``--tagger NAME``. Collect-all,
    register callback; an unknown name on the command line is an error listing these."""


@hookspec
def make_tagger(
    languages: Sequence[Language], options: dict[str, Any]
) -> Callable[[Record], None] | None:
    """Return a per-run tagger that always runs: a callable that sets ``seq``/``reasoning`` or
    adds ``tags`` on each record, or None to stay out of this run (opt-in taggers use
    ``register_taggers``). Collect-all: every tagger returned runs on
    every record, built-ins first (they are registered first and marked ``tryfirst``).

    ``options`` holds ``keep_tags`` (``--keep-tags``: tags are written), ``tags_used`` (tags
    are written or a ``--where`` condition reads one: a tagger whose tags nothing reads may stay
    out) and ``seq_prefix`` (a stage's ``name/`` prefix of ``seq``, ``""`` for ``convert
    stream``)."""


@hookspec(firstresult=True)
def make_interleaver(
    languages: Sequence[Language], options: dict[str, Any]
) -> Callable[[list[Record]], list[Record]] | None:
    """Return a per-run interleaver: given one aligned group (records in source order), return
    the records in output order. First-result: the first plugin to return a callable wins; the
    built-in one (the order the sources were given) is ``trylast``, so any plugin overrides it.
    ``options`` is ``make_tagger``'s."""
