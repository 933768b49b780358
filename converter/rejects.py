"""The rejects file: one JSON line per rejected record, with its source, position and reasons."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from typing import Any

import orjson

from converter.inputs import Input
from converter.model import Record, Rejected
from converter.output import STDOUT, start_output


def default_rejects_path(output: str) -> str:
    """The rejects file beside the output, or ``rejects.jsonl`` for stdout and special files."""
    if output == STDOUT or (os.path.exists(output) and not os.path.isfile(output)):
        return "rejects.jsonl"
    return output + ".rejects.jsonl"


class RejectsFile:
    """The rejects file, opened at the first rejected record (or always, when asked for)."""

    def __init__(self, path: str, forced: bool, stack: ExitStack) -> None:
        self.path = path
        self.stack = stack
        self.out = start_output(stack, path) if forced else None
        self.count = 0

    def write(
        self, source: Input, member: Record | Rejected, reasons: list[str], stage: str | None = None
    ) -> None:
        """Write one rejected record: its stage (in a multi-stage run), where it came from,
        why, and the record (or raw line)."""
        if self.out is None:
            self.out = start_output(self.stack, self.path)
        line: dict[str, Any] = {} if stage is None else {"stage": stage}
        line |= {
            "source": source.path,
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
            data = orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
        except (TypeError, orjson.JSONEncodeError):  # lone surrogates: escape them
            data = json.dumps(line).encode() + b"\n"
        self.out.stream.write(data)
        self.count += 1

    def commit(self) -> None:
        """Put the rejects file in place (if it was opened)."""
        if self.out is not None:
            self.out.commit()
