"""Built-in translator-checks that need no language knowledge."""

from __future__ import annotations

from collections.abc import Callable

from converter import hookimpl
from converter.model import Check, Record


def compare_empty(group: list[Record]) -> list[str]:
    """Find required fields left empty, and fields empty on one side of the pair only."""
    findings = []
    for record in group:
        for name in ("instruction", "output"):
            if not getattr(record, name).strip():
                findings.append(f"{record.lang}: {name} is empty")
    inputs = {bool(record.input.strip()) for record in group}
    if len(inputs) > 1:
        empty = [r.lang for r in group if not r.input.strip()]
        findings.append(f"input empty in {','.join(empty)} but not in the others")
    return findings


EMPTY = Check(
    name="empty",
    compare=compare_empty,
    default_policy="warn",
    description="instruction or output empty, or input empty on one side only",
)


@hookimpl
def register_checks(register: Callable[[Check], None]) -> None:
    """Register the ``empty`` check."""
    register(EMPTY)
