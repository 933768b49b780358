"""``--where`` conditions: keep or drop a whole group by its fields, tags and lengths.

A condition is one of (no ``eval``: a small parser, anything else is a UsageError)::

    FIELD=VALUE        FIELD!=VALUE        len(FIELD)<=N   (also <, >=, >, =, !=)

FIELD is ``instruction``, ``input``, ``output``, ``seq`` or ``reasoning`` (every record has
them), or else a tag name: input keys beyond the format's own (``category`` in Dolly) and
what taggers add (``register`` from ``--tagger register``). VALUE is compared with the field's
text (a tag that is a number, true/false or null is compared in its JSON spelling); an empty
VALUE matches an empty field. ``len`` counts characters (items for a list or object tag).

Semantics: a condition holds for a group when every record of the group that has the field
satisfies it and at least one record has it. So ``register=polite`` judges the Japanese
record of an EN/JA pair (English records have no ``register`` tag), ``category!=creative_writing``
drops the pair when either side is creative writing, and a condition on a tag no record has
drops every group. All conditions must hold. They are tried in the order given: a dropped
group is counted under the first condition it fails, so the counts add up to the groups
filtered. The filter runs after tagging and before the checks; filtered groups are neither
written nor rejected.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from converter.errors import UsageError
from converter.model import Record

#: Fields every record has; any other name is looked up in the record's tags.
RECORD_FIELDS = frozenset({"instruction", "input", "output", "seq", "reasoning"})
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
_LENGTH = re.compile(rf"\s*len\(\s*({_NAME})\s*\)\s*(<=|>=|==|!=|<|>|=)\s*([0-9]+)\s*")
_EQUALITY = re.compile(rf"\s*({_NAME})\s*(==|!=|=)(.*)", re.S)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
}
_MISSING = object()


@dataclass(frozen=True)
class Condition:
    """One parsed ``--where`` condition; ``text`` is how it was given (the report's key)."""

    text: str
    field: str
    op: str
    value: str | int
    length: bool

    def holds(self, group: Sequence[Record]) -> bool:
        """True when every record that has the field satisfies it and at least one has it."""
        compare = _COMPARE[self.op]
        found = False
        for record in group:
            value = _get(record, self.field)
            if value is _MISSING:
                continue
            measured = _length(value) if self.length else _text(value)
            if not compare(measured, self.value):
                return False
            found = True
        return found


def parse_condition(text: str) -> Condition:
    """Parse ``FIELD=VALUE``, ``FIELD!=VALUE`` or ``len(FIELD)<=N``; UsageError otherwise."""
    length = _LENGTH.fullmatch(text)
    if length:
        name, op, number = length.groups()
        return Condition(text, name, op, int(number), length=True)
    equality = _EQUALITY.fullmatch(text)
    if equality:
        name, op, value = equality.groups()
        return Condition(text, name, op, value.strip(), length=False)
    raise UsageError(
        f"--where {text!r} is not a condition; write FIELD=VALUE, FIELD!=VALUE or "
        "len(FIELD)<=N (also <, >=, >, =, !=), e.g. category!=creative_writing"
    )


def parse_conditions(texts: Iterable[str]) -> list[Condition]:
    """Parse every ``--where`` value (the first malformed one is a UsageError)."""
    return [parse_condition(text) for text in texts]


def first_failure(conditions: Sequence[Condition], group: Sequence[Record]) -> str | None:
    """The text of the first condition ``group`` fails, or None when it passes them all."""
    for condition in conditions:
        if not condition.holds(group):
            return condition.text
    return None


def _get(record: Record, name: str) -> Any:
    if name in RECORD_FIELDS:
        return getattr(record, name)
    return record.tags.get(name, _MISSING)


def _text(value: Any) -> str:
    return value if type(value) is str else json.dumps(value, ensure_ascii=False)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | dict) else len(_text(value))
