"""Built-in input formats: Alpaca, Dolly, the Japanese Dolly variant, self-instruct seed tasks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from converter import hookimpl
from converter.model import InputFormat

ALPACA_KEYS = frozenset({"instruction", "input", "output"})


def _alpaca_fields(obj: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return obj["instruction"], obj["input"], obj["output"]


def _dolly_fields(obj: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return obj["instruction"], obj["context"], obj["response"]


def _seed_task_fields(obj: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    instances = obj["instances"]
    if type(instances) is not list:
        raise TypeError(f"field 'instances' is {type(instances).__name__}, not a list")
    if len(instances) != 1:
        raise ValueError(
            f"seed task has {len(instances)} instances; exactly one maps onto a record"
        )
    first = instances[0]
    if type(first) is not dict:
        raise TypeError(f"'instances[0]' is {type(first).__name__}, not an object")
    return obj["instruction"], first["input"], first["output"]


SEED_TASKS = InputFormat(
    name="seed-tasks",
    own_keys=frozenset({"instruction", "instances"}),
    detect=lambda obj: "instances" in obj,
    fields=_seed_task_fields,
    field_names=("instruction", "instances[0].input", "instances[0].output"),
    schema="seed-tasks",
)
DOLLY = InputFormat(
    name="dolly",
    own_keys=frozenset({"instruction", "context", "response"}),
    detect=lambda obj: "response" in obj or "context" in obj,
    fields=_dolly_fields,
    field_names=("instruction", "context", "response"),
    schema="dolly",
)
DOLLY_JA = InputFormat(
    name="dolly-ja",
    own_keys=ALPACA_KEYS,
    detect=lambda obj: "category" in obj and "index" in obj and "output" in obj,
    fields=_alpaca_fields,
    schema="dolly-ja",
)
ALPACA = InputFormat(
    name="alpaca",
    own_keys=ALPACA_KEYS,
    detect=lambda obj: "instruction" in obj or "output" in obj,
    fields=_alpaca_fields,
    schema="alpaca",
)


@hookimpl
def register_input_formats(register: Callable[[InputFormat], None]) -> None:
    """Register the built-in formats, most specific first (detection takes the first match)."""
    for fmt in (SEED_TASKS, DOLLY, DOLLY_JA, ALPACA):
        register(fmt)
