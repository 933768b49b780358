"""The event reader: ijson's C backend as ``basic_parse`` events, built into values by a small
builder with a nesting limit (``items()`` costs memory quadratic in the depth), every error placed
at its exact byte (:mod:`converter.jsonerrors`). It reads what the fast paths of
:mod:`converter.readers` leave to it: arrays from the first slice orjson cannot take, concatenated
JSON, and ``--items-path``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from functools import partial
from typing import Any, NamedTuple

import ijson

from converter.chunks import CHUNK, SENTINEL, PositionedReader
from converter.errors import MalformedInput
from converter.inputs import Input
from converter.jsonerrors import (
    NO_SURROGATE,
    describe_bad_utf8,
    describe_refused,
    describe_yajl_error,
)

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


class _TooDeep(Exception):
    pass


class _ReadOnly:
    """Offers ijson ``read`` only: given ``readinto`` it reads into a fixed 64 KiB buffer, and
    the reader could not hand it bigger chunks while a long string runs on."""

    def __init__(self, stream: PositionedReader) -> None:
        self.stream = stream
        self.form_feed: str | None = None

    def read(self, size: int) -> bytes:
        """The next chunk, cut before a raw form feed: yajl takes one for whitespace, JSON does
        not. What comes before it is parsed first (an earlier error wins), then it is refused."""
        if self.form_feed is not None:
            raise MalformedInput(self.form_feed)
        data = self.stream.read(size)
        at = data.find(b"\x0c")
        if at >= 0:
            where = self.stream.where(at)
            self.form_feed = f"{self.stream.label}: {where}: raw form feed (U+000C) is not JSON"
            if at == 0:
                raise MalformedInput(self.form_feed)
            self.stream.chunk = data = data[:at]  # what yajl saw, to place its errors
        return data


def event_items(source: Input, target: tuple[str, ...], items_path: str | None) -> Iterator[Item]:
    """The values at the ijson prefix ``target`` of ``source`` (``("item",)``: the elements of
    a top-level array; ``()``: each top-level value); MalformedInput placing any error."""
    stream = source.stream
    stream.for_parser = True
    events = ijson.basic_parse(
        _ReadOnly(stream), use_float=True, multiple_values=source.shape != "array", buf_size=CHUNK
    )
    seen = _Seen(not target)
    notes = _Notes(stream.lone_surrogates)
    objects_only = source.shape == "concatenated" and items_path is None
    try:
        for value in _build(events, target, seen, notes):
            if objects_only and type(value) is not dict and type(value) is not list:
                raise MalformedInput(
                    f"{source.label}: between bytes {stream.chunk_start} and {stream.next_start}: "
                    f"a top-level {type(value).__name__} among the objects (trailing garbage?)"
                )
            found, notes.found = notes.found, []
            yield Item(value) if not found else Item(value, None, _surrogate_reason(found))
    except _TooDeep:
        what = f"value nested deeper than {MAX_DEPTH} levels"
        rebuild = partial(_build, target=target, seen=_Seen(not target), notes=_Notes(deque()))
        described = describe_refused(stream, source, what, rebuild, _TooDeep)
        raise MalformedInput(f"{source.label}: {described}") from None
    except ijson.JSONError as exc:
        described = describe_yajl_error(stream, exc, source)
        raise MalformedInput(f"{source.label}: {described}") from None
    except UnicodeDecodeError:  # yajl passes CESU-8 surrogates through; Python refuses them
        raise MalformedInput(f"{source.label}: {describe_bad_utf8(stream)}") from None
    if not seen.opened:
        raise MalformedInput(
            f"{source.label}: --items-path {items_path} matches nothing in this file "
            f"({seen.hint()})",
            "not-container",
        )


class _Seen:
    """What the event reader saw of a file's top level, outside the items: whether the
    container of ``--items-path`` opened, the top-level value's kind and the keys of a
    top-level object that hold arrays."""

    def __init__(self, opened: bool) -> None:
        self.opened = opened
        self.top: str | None = None
        self.arrays: list[str] = []

    def container(self, depth: int, is_array: bool, path: list[str]) -> None:
        """A container starts at ``depth`` (0 or 1) under the keys ``path``."""
        if depth == 0:
            self.top = "array" if is_array else "object"
        elif is_array and self.top == "object" and len(self.arrays) < 3:
            key = path[0]  # (one a path cannot name, holding a dot, is left out)
            if key and "." not in key and key not in self.arrays:
                self.arrays.append(key)

    def hint(self) -> str:
        """What to give ``--items-path`` instead (or leave out), from what was seen."""
        if self.top == "array":
            return "the file is an array: its records are read without --items-path"
        if self.arrays:
            return "; ".join(f"an array at {key!r} is read with {key}.item" for key in self.arrays)
        # (a top-level scalar is refused before)
        return "no top-level key --items-path can name holds an array"


class _Notes:
    """The reader's notes of the U+FFFF it read (converter.chunks: a lone surrogate's
    description, or None for the character itself), taken as the parser's keys and strings
    hold them, every one of them, built into an item or not (a duplicate key's first value,
    text outside ``--items-path``): ``found`` holds the descriptions since the current item
    began."""

    def __init__(self, lone: deque[str | None]) -> None:
        self.lone = lone
        self.found: list[str] = []

    def take(self, text: str) -> None:
        """Take the notes of the U+FFFF in ``text``, the next key or string read."""
        for _ in range(min(text.count(SENTINEL), len(self.lone))):
            note = self.lone.popleft()
            if note is not None:
                self.found.append(note)


def _build(
    events: Iterator[tuple[str, Any]], target: tuple[str, ...], seen: _Seen, notes: _Notes
) -> Iterator[Any]:
    """Build each value found at the ijson prefix ``target`` from parse events.

    ``target`` is the prefix split on dots: ``("item",)`` for the elements of a top-level array,
    ``()`` for each top-level value. Values elsewhere are skipped without being built; nesting
    deeper than MAX_DEPTH inside an item raises _TooDeep. ``seen`` notes the top level (and
    ``seen.opened`` once the container holding the items was seen). ``notes`` takes the
    U+FFFF of every key and string.
    """
    item_depth = len(target)
    limit = item_depth + MAX_DEPTH
    stack: list[Any] = []
    path: list[str] = []  # the key (or "item") at each level above the items
    key = ""
    depth = 0
    for event, value in events:
        if type(value) is str and SENTINEL in value:
            notes.take(value)
        if stack:  # inside an item: the hot path
            if event == "map_key":
                key = value
            elif event == "start_map" or event == "start_array":
                if depth >= limit:
                    raise _TooDeep
                container: Any = {} if event == "start_map" else []
                parent = stack[-1]
                if type(parent) is dict:
                    parent[key] = container
                else:
                    parent.append(container)
                stack.append(container)
                depth += 1
            elif event == "end_map" or event == "end_array":
                depth -= 1
                done = stack.pop()
                if not stack:
                    yield done
            else:
                parent = stack[-1]
                if type(parent) is dict:
                    parent[key] = value
                else:
                    parent.append(value)
        elif event == "map_key":
            if depth <= item_depth:
                path[depth - 1] = value
        elif event == "end_map" or event == "end_array":
            depth -= 1
            if depth < item_depth:
                path.pop()
        elif depth == item_depth and tuple(path) == target:  # an item starts here
            if event == "start_map" or event == "start_array":
                notes.found.clear()  # what came before it is not the item's
                stack.append({} if event == "start_map" else [])
                depth += 1
            else:
                yield value
        elif event == "start_map" or event == "start_array":
            is_array = event == "start_array"
            if depth < 2 and item_depth:
                seen.container(depth, is_array, path)
            if depth < item_depth:
                if depth == item_depth - 1 and tuple(path) == target[:-1]:
                    seen.opened = seen.opened or is_array == (target[-1] == "item")
                path.append("item" if is_array else "")
            depth += 1


def _surrogate_reason(found: list[str]) -> str:
    """The rejection reason for a record holding the lone surrogates ``found`` (in order)."""
    return f"lone surrogate: {', '.join(found)}: {NO_SURROGATE} (shown as U+FFFF in the record)"
