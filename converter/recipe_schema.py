"""The structure of a recipe file as a JSON Schema, and its violations as one line each.

jsonschema checks the decoded TOML; the first problem (unknown keys before missing ones) is
described with the table and the key it is in: ``[[stage]] 2 ('dolly'): unknown key 'limt'``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from converter.model import POLICIES
from converter.selection import SPLIT_NAME
from converter.stages import MIXES, STAGE_NAME

if TYPE_CHECKING:
    import jsonschema

_POLICY = {"enum": list(POLICIES)}
_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}}
_COUNT = {"type": "integer", "minimum": 0}
_SPLIT_PATTERN = f"^{SPLIT_NAME.pattern}$"
_SOURCE = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "licence": {"type": "string"},
        "url": {"type": "string"},
        "description": {"type": "string"},
    },
    "required": ["path"],
    "additionalProperties": False,
}

#: The structure of a recipe file (after TOML decoding), as a JSON Schema.
RECIPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "description": {"type": "string"},
        "plugins": _NAMES,
        "seed": {"type": "integer"},
        "output": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1},
                "format": {"type": "string", "minLength": 1},
                "rejects": {"type": "string", "minLength": 1},
                "keep_tags": {"type": "boolean"},
                "shuffle": {"type": "boolean"},
                "sample": _COUNT,
                "split": {
                    "type": "object",
                    "minProperties": 2,
                    "propertyNames": {"pattern": _SPLIT_PATTERN},
                    "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                },
            },
            "additionalProperties": False,
        },
        "mix": {
            "type": "object",
            "properties": {"mode": {"enum": list(MIXES)}},
            "additionalProperties": False,
        },
        "stage": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "pattern": f"^{STAGE_NAME.pattern}$"},
                    "sources": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": {
                            "anyOf": [{"type": "string", "minLength": 1}, _SOURCE]
                        },
                    },
                    "input_formats": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "minLength": 1},
                    },
                    "limit": _COUNT,
                    "start": _COUNT,
                    "stop": _COUNT,
                    "where": _NAMES,
                    "checks": {"type": "object", "additionalProperties": _POLICY},
                    "strict": {"type": "boolean"},
                    "taggers": _NAMES,
                    "key": {"type": "string", "minLength": 1},
                    "realign": {"type": "boolean"},
                    "unequal": {"enum": ["error", "shortest"]},
                    "weight": {"type": "number", "exclusiveMinimum": 0},
                },
                "required": ["name", "sources"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["stage"],
    "additionalProperties": False,
}


def structure_problem(table: Mapping[str, Any]) -> str | None:
    """The first structural problem of a decoded recipe, as one line (None: it has none)."""
    import jsonschema  # only recipes need it: imported here, not by every command

    draft = jsonschema.Draft202012Validator
    # TOML tells 3 from 3.0: a count is an integer (3.0 is not); a number is a finite one
    types = draft.TYPE_CHECKER.redefine_many(
        {
            "integer": lambda _, value: type(value) is int,
            "number": lambda _, value: type(value) in (int, float) and math.isfinite(value),
        }
    )
    validator = jsonschema.validators.extend(draft, type_checker=types)(RECIPE_SCHEMA)
    # A missing key last: ``[[stages]]`` is first an unknown key, then a missing ``stage``.
    errors = sorted(
        validator.iter_errors(table),
        key=lambda e: (e.validator == "required", [str(p) for p in e.absolute_path]),
    )
    return _describe(errors[0], table) if errors else None


def _describe(error: jsonschema.ValidationError, table: Mapping[str, Any]) -> str:
    """One line for a schema violation: where (table and key) and what."""
    if error.validator == "anyOf" and isinstance(error.instance, dict):  # a source table
        error = next(e for e in error.context or () if e.relative_schema_path[0] == 1)
    where = list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = error.schema.get("properties", {})
        extra = sorted(set(error.instance) - set(allowed))
        known = ", ".join(allowed) or "none"
        return f"{_table(where, table)}: unknown key {extra[0]!r} (known: {known})"
    if error.validator == "required":
        missing = next(k for k in error.validator_value if k not in error.instance)
        return f"{_table(where, table)}: missing key {missing!r}"
    if not where:
        return f"top level: {error.message}"
    key = where.pop()
    return f"{_table(where, table)}: key {key!r}: {_problem(error)}"


def _problem(error: jsonschema.ValidationError) -> str:
    """What is wrong with a value, in words."""
    value, rule, schema = error.instance, error.validator, error.schema
    if rule == "anyOf":  # a source: a path, or a table with a path
        return f"a source is a path string or a table with 'path', not {_kind(value)}"
    if rule == "type" and type(value) is float and not math.isfinite(value):
        return f"must be a finite number, not {value!r}"
    if rule == "type":
        return f"must be {_a(schema['type'])}, not {_kind(value)} ({value!r})"
    if rule == "enum":
        return f"must be one of {', '.join(map(str, schema['enum']))}, not {value!r}"
    if rule == "pattern" and error.validator_value == _SPLIT_PATTERN:
        return f"{value!r}: split names are letters, digits, '_' or '-' (they name the files)"
    if rule == "pattern":
        return f"{value!r} must be lowercase letters, digits, '_' or '-' (it prefixes seq)"
    if rule in ("minimum", "exclusiveMinimum"):
        bound = "at least" if rule == "minimum" else "more than"
        return f"must be {bound} {error.validator_value}, not {value!r}"
    if rule == "minProperties" and error.validator_value > 1:
        return f"needs at least {error.validator_value} entries"
    if rule in ("minLength", "minItems", "minProperties"):
        return "must not be empty"
    return error.message


def _a(kind: str) -> str:
    words = {"integer": "an integer", "array": "an array", "object": "a table"}
    return words.get(kind, f"a {kind}")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    return {
        str: "a string",
        float: "a number",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _table(where: list[Any], table: Mapping[str, Any]) -> str:
    """The TOML table a path points into: ``[output]``, ``[[stage]] 2 ("dolly") sources.en``."""
    if not where:
        return "top level"
    if where[0] != "stage" or len(where) < 2:
        return "[" + ".".join(map(str, where)) + "]"
    k = where[1]
    name = table["stage"][k].get("name") if isinstance(table["stage"][k], dict) else None
    rest = ".".join(map(str, where[2:]))
    return stage_label(k, name) + (f" {rest}" if rest else "")


def stage_label(k: int, name: Any) -> str:
    """``[[stage]] 2 ("dolly")``: the 1-based position and the name, as a reader counts them."""
    return f"[[stage]] {k + 1}" + (f" ({name!r})" if isinstance(name, str) else "")
