"""Readers: turn an opened input into a stream of items, one per input record, never whole.

JSON arrays go through ijson's C backend as ``basic_parse`` events, built into values by a small
builder with a nesting limit (``items()`` costs memory quadratic in the depth). JSON Lines go
through orjson one line at a time; a bad line is one bad item, the rest goes on. A ``{``-first
file whose objects span lines is read as concatenated JSON through ijson.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import ijson
import orjson

from converter.errors import InputError
from converter.inputs import Input, PositionedReader

#: Deepest nesting accepted inside one record (Alpaca needs 2, seed tasks 3).
MAX_DEPTH = 64

if ijson.backend != "yajl2_c":  # pragma: no cover - depends on the installed wheel
    import warnings

    warnings.warn(
        f"ijson is using its {ijson.backend} backend (~12x slower); install a wheel with yajl2_c",
        RuntimeWarning,
        stacklevel=1,
    )


class Item(NamedTuple):
    """One input record as read: its value, or the reason it could not be read."""

    value: Any
    line: int | None = None
    error: str | None = None
    raw: bytes | None = None


def read_items(source: Input) -> Iterator[Item]:
    """Yield every record of ``source`` in order; raise InputError on a fatal syntax error."""
    if source.shape == "jsonl":
        return _jsonl_items(source)
    return _event_items(source, item_depth=1 if source.shape == "array" else 0)


def _jsonl_items(source: Input) -> Iterator[Item]:
    line_no = 0
    loads = orjson.loads
    for line in source.lines():
        line_no += 1
        if line.isspace() or not line:
            continue
        try:
            yield Item(loads(line), line_no)
        except orjson.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} (line {line_no}, column {exc.colno})"
            yield Item(None, line_no, reason, line)


class _TooDeep(Exception):
    pass


def _event_items(source: Input, item_depth: int) -> Iterator[Item]:
    events = ijson.basic_parse(
        source.stream, use_float=True, multiple_values=item_depth == 0, buf_size=1 << 16
    )
    try:
        for value in _build(events, item_depth):
            yield Item(value)
    except _TooDeep:
        raise InputError(
            f"{source.label}: near byte {source.stream.next_start}: "
            f"value nested deeper than {MAX_DEPTH} levels"
        ) from None
    except ijson.JSONError as exc:
        raise InputError(f"{source.label}: {locate_yajl_error(source.stream, exc)}") from None


def _build(events: Iterator[tuple[str, Any]], item_depth: int) -> Iterator[Any]:
    """Build each value found at ``item_depth`` from parse events, refusing deep nesting."""
    stack: list[Any] = []
    key: str = ""
    depth = 0
    limit = item_depth + MAX_DEPTH
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "start_map" or event == "start_array":
            if depth >= item_depth:
                if depth >= limit:
                    raise _TooDeep
                container: Any = {} if event == "start_map" else []
                if stack:
                    parent = stack[-1]
                    if type(parent) is dict:
                        parent[key] = container
                    else:
                        parent.append(container)
                stack.append(container)
            depth += 1
        elif event == "end_map" or event == "end_array":
            depth -= 1
            if depth >= item_depth:
                done = stack.pop()
                if not stack:
                    yield done
        elif depth == item_depth:
            yield value
        elif stack:
            parent = stack[-1]
            if type(parent) is dict:
                parent[key] = value
            else:
                parent.append(value)


_CONTEXT = 30  # bytes of input yajl shows either side of the error
_PAD = 10  # spaces before the context when the error is 30 bytes or more into the chunk
_CARET = 40  # column of the caret under the context
_NEWLINES_AS_SPACES = bytes.maketrans(b"\n\r", b"  ")
_ARROW = b"\n" + b" " * 21 + b"(right here)"


def locate_yajl_error(stream: PositionedReader, exc: Exception) -> str:
    """Turn a yajl error into ``line L, column C (byte B): what`` using the chunk it failed in.

    yajl shows up to 30 bytes either side of the point where it stopped, under a caret at a fixed
    column; finding that context in the chunk it was parsing gives the exact offset.
    """
    message = _message_bytes(str(exc))
    first, _, rest = message.partition(b"\n")
    what = re.sub(r"^(lexical|parse) error: ", "", first.decode("utf-8", "replace").strip())
    what = what.rstrip(".")
    if "premature EOF" in what:
        return f"{stream.where(None)}: truncated JSON (premature end of input)"
    context = rest[: rest.rfind(_ARROW)] if _ARROW in rest else b""
    offset = _find_offset(stream.chunk, context)
    if offset is None:
        end = stream.chunk_start + len(stream.chunk)
        return f"between bytes {stream.chunk_start} and {end}: {what}"
    return f"{stream.where(max(offset - 1, 0))}: {what}"


def _message_bytes(text: str) -> bytes:
    """ijson gives the message as text, or as the repr of bytes when the context is not UTF-8."""
    if text[:2] in ("b'", 'b"'):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text.encode("utf-8", "replace")
        if isinstance(value, bytes):
            return value
    return text.encode("utf-8", "surrogatepass")


def _find_offset(chunk: bytes, context: bytes) -> int | None:
    """The offset in ``chunk`` where yajl stopped, from the context it printed."""
    chunk = chunk.translate(_NEWLINES_AS_SPACES)  # yajl shows line breaks as spaces
    shown = context[_PAD:]
    if context[:_PAD].isspace() and len(shown) >= _CONTEXT:
        found = chunk.find(shown)
        while found >= 0:
            if len(shown) == min(2 * _CONTEXT, len(chunk) - found):
                return found + _CONTEXT
            found = chunk.find(shown, found + 1)
    for offset in range(_CONTEXT):
        pad = _CARET - offset
        shown = context[pad:]
        fits = len(shown) == min(offset + _CONTEXT, len(chunk))
        if fits and context[:pad].strip() == b"" and chunk.startswith(shown):
            return offset
    return None
