"""What plugins register, held to the API: a malformed language, writer or check is a
PluginError naming its plugin, and a third-party plugin's writers, taggers and checks are
wrapped to be held to what they must return."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from converter.errors import PluginError, UsageError
from converter.hookcalls import guard
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

#: A language code as typed on the command line (``zh``, ``pt-br``).
CODE_RE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
#: A seq suffix: 2 to 8 uppercase letters (``EN``, ``ZH``).
SUFFIX_RE = re.compile(r"[A-Z]{2,8}")
#: The scripts a language can say it shows in (``Language.scripts``).
LANGUAGE_SCRIPTS = tuple(s for s in SCRIPTS if s != "und")


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


def check_languages(owned: list[tuple[str, Language]]) -> None:
    """PluginError for a language (with its plugin, built-ins first) that is malformed or
    takes a seq suffix another one took."""
    suffixes: dict[str, str] = {}
    for owner, lang in owned:
        problem = language_problem(lang)
        if problem:
            raise PluginError(f"plugin {owner!r} registers language {lang.code!r}: {problem}")
        if lang.suffix in suffixes:
            raise PluginError(
                f"plugin {owner!r} registers seq suffix {lang.suffix!r}, "
                f"already used by language {suffixes[lang.suffix]!r}"
            )
        suffixes[lang.suffix] = lang.code


def _suffixes_ok(suffixes: Any) -> bool:
    """Whether a writer's ``suffixes`` are a tuple or list of suffixes such as ``.tsv`` (a
    suffix without its dot, ``s.json``, would take the outputs of another writer)."""
    if not isinstance(suffixes, tuple | list):
        return False
    return all(isinstance(s, str) and len(s) > 1 and s.startswith(".") for s in suffixes)


def check_writers(owned: list[tuple[str, WriterSpec]]) -> None:
    """PluginError for a writer (with its plugin, built-ins first) whose output suffixes are
    malformed or another writer's."""
    output_suffixes: dict[str, str] = {}
    for owner, spec in owned:
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


def check_checks(owned: list[tuple[str, Check]]) -> None:
    """PluginError for a check (with its plugin, built-ins first) named ``all``, or with a
    range_safe or default policy that is not one."""
    for owner, check in owned:
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


#: What each kind of registered object must hold callable (True: or None).
_CALLABLES: dict[type, tuple[tuple[str, bool], ...]] = {
    WriterSpec: (("make", False),),
    Tagger: (("make", False),),
    InputFormat: (("detect", False), ("fields", False)),
    Check: (("compare", True), ("features", True), ("configure", True)),
}


def uncallable(item: Any) -> str | None:
    """What a registered object holds that should be callable and is not, as a clause."""
    for name, optional in _CALLABLES.get(type(item), ()):
        value = getattr(item, name)
        if not callable(value) and not (optional and value is None):
            either = " (or None)" if optional else ""
            return f"its {name} is {type(value).__name__}, not a callable{either}"
    return None


#: What a writer has (converter.model.Writer).
WRITER_METHODS = ("row", "encode", "write", "close")


def vetted(item: Any, plugin: str) -> Any:
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
