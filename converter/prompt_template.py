"""Prompt templates: a small, safe placeholder syntax rendered once per record.

Syntax (the same braces as Python's ``str.format``, without its attribute, index, conversion or
format-spec parts, which are errors here):

- ``{name}`` is replaced by a field of the record: ``{instruction}``, ``{input}``, ``{output}``,
  ``{reasoning}``, ``{seq}``, ``{lang}``; ``{system}`` is the ``--system`` text (empty without
  it); ``{prompt}`` is the instruction, plus a newline and the input when the input is not
  empty; ``{response}`` is the output.
- ``{{`` and ``}}`` are a literal ``{`` and ``}``. Any other brace is an error.

The template's markers are the tokens of its own text (not the ``--system`` text) written
``<...>`` or ``[...]`` without spaces: ``<|response|>``, ``</s>``, ``[INST]``. A text splits back
on them into its fields only while no field holds one: :meth:`Template.marker_in` says which does.

A template is parsed before any record is read: an unknown placeholder, a lone brace or a
placeholder that is not a plain name is a UsageError naming the line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from operator import attrgetter

from converter.errors import UsageError
from converter.inputs import read_settings
from converter.model import Record
from converter.validation import cut

#: The seed's training layout.
DEFAULT_TEMPLATE = (
    "<|system|>{system}\n<|prompt|>{prompt}\n<|reasoning|>{reasoning}\n"
    "<|response|>{response}<|endoftext|>"
)
#: The placeholder the template is split at into prompt and completion.
RESPONSE = "response"


def prompt_of(record: Record) -> str:
    """The user's turn: the instruction, plus a newline and the input when there is one."""
    return f"{record.instruction}\n{record.input}" if record.input else record.instruction


#: Placeholders taken from the record, and how.
RECORD_FIELDS: dict[str, Callable[[Record], str]] = {
    "instruction": attrgetter("instruction"),
    "input": attrgetter("input"),
    "output": attrgetter("output"),
    "reasoning": attrgetter("reasoning"),
    "seq": attrgetter("seq"),
    "lang": attrgetter("lang"),
    "prompt": prompt_of,
    RESPONSE: attrgetter("output"),
}
#: Every placeholder a template may use.
PLACEHOLDERS = ("system", *RECORD_FIELDS)
#: The record's fields a placeholder shows, where they are not the placeholder's own name.
SHOWS = {"prompt": ("instruction", "input"), RESPONSE: ("output",)}
#: A marker in the template's text.
MARKER = re.compile(r"<[^\s<>]+>|\[[^\s\[\]]+\]")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
#: The characters of a placeholder quoted in a message, at most (the message stays one line).
QUOTED = 60

Part = str | Callable[[Record], str]


@dataclass(frozen=True)
class Template:
    """A parsed template: literal texts and per-record getters, in order; ``where`` names it
    in messages; ``shown`` are the record's fields it shows, ``markers`` finds its markers,
    which all begin with ``lead`` when they share their first character (a quick test)."""

    parts: tuple[Part, ...]
    where: str = "template"
    shown: tuple[str, ...] = ()
    markers: re.Pattern[str] | None = None
    lead: str = ""

    def render(self, record: Record) -> str:
        """The template's text for ``record``."""
        return "".join([p if isinstance(p, str) else p(record) for p in self.parts])

    def marker_in(self, record: Record) -> str | None:
        """Why the text of ``record`` would not split back into its fields: the first field
        shown that holds one of the template's markers, naming both; None when none does."""
        if self.markers is not None:
            for name in self.shown:
                text = getattr(record, name)
                found = self.lead in text and self.markers.search(text)
                if found:
                    return f"the {name} holds the template's marker {found.group()}"
        return None

    def split(self) -> tuple[Template, Template]:
        """The template before ``{response}`` and from it on: their renderings of a record,
        joined, are the whole template's. UsageError when there is no ``{response}``."""
        getter = RECORD_FIELDS[RESPONSE]
        for at, part in enumerate(self.parts):
            if part is getter:
                return replace(self, parts=self.parts[:at]), replace(self, parts=self.parts[at:])
        raise UsageError(
            f"{self.where}: no {{response}} placeholder, where prompt-completion splits"
        )


def parse_template(text: str, system: str = "", where: str = "template") -> Template:
    """Parse ``text``; ``{system}`` becomes ``system``. ``where`` names the template in errors."""
    parts: list[Part] = []
    literal: list[str] = []
    shown: list[str] = []
    end = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[end : match.start()])
        end = match.end()
        token, name = match.group(), match.group(1)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif name is None:
            hint = "write {{ or }} for a literal brace"
            raise UsageError(f"{where}: {_place(text, match.start())}: lone {token!r}; {hint}")
        elif name == "system":
            literal.append(system)
        elif name in RECORD_FIELDS:
            parts.append("".join(literal))
            literal = []
            parts.append(RECORD_FIELDS[name])
            shown += SHOWS.get(name, (name,))
        else:
            known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            what = "unknown placeholder" if name.isidentifier() else "not a placeholder:"
            raise UsageError(
                f"{where}: {_place(text, match.start())}: {what} {_quoted(token)}; known: {known} "
                "({{ and }} for literal braces)"
            )
    parts.append("".join([*literal, text[end:]]))
    kept = tuple(p for p in parts if p != "")
    return Template(kept, where, tuple(dict.fromkeys(shown)), *_markers(text))


def _markers(text: str) -> tuple[re.Pattern[str] | None, str]:
    """What finds the markers of template ``text`` (outside its placeholders and braces), None
    when it has none, and the first character they all begin with ("" if they differ)."""
    markers = dict.fromkeys(MARKER.findall(_TOKEN.sub(" ", text)))
    leads = {marker[0] for marker in markers}
    found = re.compile("|".join(map(re.escape, markers))) if markers else None
    return found, leads.pop() if len(leads) == 1 else ""


def load_template(path: str | None, system: str = "") -> Template:
    """The template in file ``path`` (one final newline dropped), or the seed's layout."""
    if path is None:
        return parse_template(DEFAULT_TEMPLATE, system)
    try:
        text = read_settings(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"--template {path}: cannot read: {reason}") from None
    return parse_template(text.removesuffix("\n"), system, f"--template {path}")


def _quoted(token: str) -> str:
    """``token`` on one line for a message: line breaks and tabs escaped, cut to
    :data:`QUOTED` characters."""
    return cut(token.translate({10: "\\n", 13: "\\r", 9: "\\t"}), QUOTED)


def _place(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"
