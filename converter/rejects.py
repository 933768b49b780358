"""The rejects file: one JSON line per rejected record, with its source, position and reasons."""

from __future__ import annotations

import json
import os
import re
from contextlib import ExitStack
from decimal import Decimal
from typing import Any, Protocol

import orjson

from converter.inputs import Input
from converter.model import Record, Rejected
from converter.nesting import room_for_deep_records
from converter.output import STDOUT, is_special, shown, start_output

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def default_rejects_path(output: str) -> str:
    """The rejects file beside the output, or ``rejects.jsonl`` for stdout and special files."""
    if is_special(output) or os.path.isdir(output):
        return "rejects.jsonl"
    return output + ".rejects.jsonl"


class RejectSink(Protocol):
    """Where a run sends its rejected records: the rejects file, or a part of it."""

    def write(
        self, source: Input, member: Record | Rejected, reasons: list[str], stage: str | None = None
    ) -> None:
        """Take one rejected record (see :meth:`RejectsFile.write`)."""


def rejects_wanted(given: str | None, path: str, output: str) -> bool:
    """Whether a run writes its rejects file even when it rejects nothing: asked for
    (``--rejects``), or an earlier run's is at the default ``path`` beside the file ``output``
    (it is replaced, so that no stale rejects stay beside the new output; stdout and special
    files have no side)."""
    beside = output != STDOUT and not is_special(output)
    return given is not None or (beside and os.path.lexists(path))


def reject_line(
    source: Input, member: Record | Rejected, reasons: list[str], stage: str | None = None
) -> bytes:
    """The rejects file's line for one rejected record: its stage (in a multi-stage run),
    where it came from, why, and the record (or raw line)."""
    line: dict[str, Any] = {} if stage is None else {"stage": stage}
    line |= {
        "source": shown(source.path),
        "lang": member.lang,
        "index": member.index,
        "line": member.line,
        "reasons": reasons,
    }
    raw = member.raw if type(member) is Rejected else None
    if raw is not None:
        line["raw"] = raw.decode("utf-8", "backslashreplace").rstrip("\n")
    else:
        line["record"] = member.original
    try:
        return orjson.dumps(line, default=_as_text, option=orjson.OPT_APPEND_NEWLINE)
    except (TypeError, orjson.JSONEncodeError):  # lone surrogates, or what orjson cannot write
        return stdlib_line(line)


def _as_text(value: Any) -> str:
    """A value JSON cannot hold, as text: a decimal's digits exactly, else its Python text."""
    return str(value) if type(value) is Decimal else repr(value)


def stdlib_line(line: Any) -> bytes:
    """``line`` as JSON with its newline, by the stdlib encoder: what orjson cannot write of a
    record as read. It escapes lone surrogates, writes integers beyond 64 bits and, given the
    room, the deepest record a reader takes (orjson reads 1,024 levels, and writes 255)."""
    with room_for_deep_records():
        text = json.dumps(line, default=_as_text, ensure_ascii=False, separators=(",", ":"))
    # as orjson writes the others: compact UTF-8, only the lone surrogates as \uXXXX escapes
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode() + b"\n"


class RejectsFile:
    """The rejects file, opened at the first rejected record (or always, when asked for)."""

    def __init__(self, path: str, forced: bool, stack: ExitStack) -> None:
        self.path = path
        self.stack = stack
        self.out = start_output(stack, path) if forced else None

    def write(
        self, source: Input, member: Record | Rejected, reasons: list[str], stage: str | None = None
    ) -> None:
        """Write one rejected record (:func:`reject_line`)."""
        if self.out is None:
            self.out = start_output(self.stack, self.path)
        data = reject_line(source, member, reasons, stage)
        self.out.stream.write(data)
