"""Built-in translator-checks that need no language knowledge."""

from __future__ import annotations

from collections.abc import Callable

from converter import hookimpl
from converter.model import Check, Record


def _blank(text: str) -> bool:
    return not text or text.isspace()


def compare_empty(group: list[Record]) -> list[str]:
    """Find required fields left empty, and fields empty on one side of the pair only."""
    blank_inputs = 0
    for record in group:  # fast path: the common all-filled group allocates nothing
        if not record.instruction or not record.output:
            break
        if record.instruction.isspace() or record.output.isspace():
            break
        blank_inputs += not record.input or record.input.isspace()
    else:
        if blank_inputs == 0 or blank_inputs == len(group):
            return []
    findings = [
        f"{record.lang}: {name} is empty"
        for record in group
        for name, text in (("instruction", record.instruction), ("output", record.output))
        if _blank(text)
    ]
    empty_inputs = [record.lang for record in group if _blank(record.input)]
    if empty_inputs and len(empty_inputs) < len(group):
        findings.append(f"input empty in {','.join(empty_inputs)} but not in the others")
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
