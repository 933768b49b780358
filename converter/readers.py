"""Readers: turn an opened input into a stream of records, in batches, never whole.

JSON arrays are cut after a ``},`` into slices of about SLICE bytes that orjson parses in one call
each: if ``[`` + slice + ``]`` parses, the cut lay between two records (a cut inside a string or
a nested value leaves it unbalanced, so it fails), and the records are those of the file. A slice
that does not parse, or that holds what the event reader would refuse (a value nested deeper than
MAX_DEPTH, an integer beyond 64 bits), hands the rest of the array to that reader
(:mod:`converter.events`), which places errors exactly. JSON Lines are parsed a
block of lines at a time, orjson per line; a block with a bad or blank line goes line by line, and
a bad line is one bad item, the rest goes on. A ``{``-first file whose objects span lines is read
as concatenated JSON through ijson. ``--items-path`` (an ijson prefix such as ``data.item``) reads
the records of an array wrapped in an object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import jsonschema_rs
import orjson

from converter.chunks import PositionedReader
from converter.errors import MalformedInput
from converter.events import MAX_DEPTH, Item, event_items
from converter.inputs import JSON_WHITESPACE, Input
from converter.jsonerrors import jsonl_reason

#: How deep a lone object is searched for a wrapped array of records.
WRAPPER_DEPTH = 3
#: About how many bytes of a JSON array (or of JSON Lines) are parsed in one go.
SLICE = 1 << 16
#: A JSON array whose record runs on longer than this is left to the event reader.
MAX_SLICE = 1 << 22
#: Cuts of a slice that may fail to parse before it is left to the event reader.
CUTS_TRIED = 4
#: Objects whose values are strings, booleans or null: nothing the event reader refuses.
_FLAT_OBJECTS = jsonschema_rs.validator_for(
    {"items": {"type": "object", "additionalProperties": {"type": ["string", "boolean", "null"]}}}
)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class Batch(NamedTuple):
    """Consecutive records read in one go, all readable."""

    values: list[Any]
    #: The JSON Lines line of ``values[0]``, the others on the lines after; None for arrays.
    line: int | None = None


def read_items(source: Input, items_path: str | None = None) -> Iterator[Item]:
    """Yield every record of ``source`` in order; raise InputError on a fatal syntax error.

    ``items_path`` (an ijson prefix: ``data.item`` for ``{"data": [...]}``) says where the
    records are; without it a source whose only value wraps an array of records is an error
    that suggests the option. Parquet sources are read by :mod:`converter.parquet`.
    """
    yield from flatten(read_batches(source, items_path))


def read_jsonl_batches(stream: PositionedReader, first_line: int = 1) -> Iterator[Batch | Item]:
    """:func:`read_batches` for a stream known to be JSON Lines (a planned span of a file: no
    sniffing, no wrapper check), numbered from line ``first_line`` on, exactly as the whole
    file's lines are numbered."""
    return _jsonl_batches(stream, first_line)


def flatten(parts: Iterator[Batch | Item]) -> Iterator[Item]:
    """The Items of batches and items, in order."""
    for part in parts:
        if isinstance(part, Item):
            yield part
        elif part.line is None:
            yield from map(Item, part.values)
        else:
            yield from map(Item, part.values, range(part.line, part.line + len(part.values)))


def take(parts: Iterator[Batch | Item], count: int) -> Iterator[Batch | Item]:
    """The batches and items of the first ``count`` records of ``parts`` (the last batch cut
    short), nothing read past them."""
    left = count
    if left <= 0:
        return
    for part in parts:
        size = len(part.values) if isinstance(part, Batch) else 1
        if size > left and isinstance(part, Batch):
            part = Batch(part.values[:left], part.line)
        yield part
        left -= size
        if left <= 0:
            return


def read_batches(source: Input, items_path: str | None = None) -> Iterator[Batch | Item]:
    """:func:`read_items` in batches where the reader has them (JSON arrays, JSON Lines): the
    same records in the same order, a :class:`Batch` for each run of readable records read
    in one go, an :class:`Item` for the others."""
    if source.shape == "parquet":
        from converter.parquet import parquet_items  # pyarrow is optional: imported on use

        return parquet_items(source, items_path)
    if items_path is not None:
        target = tuple(items_path.split(".")) if items_path else ()
        return event_items(source, target, items_path)
    if source.shape == "array":
        return _array_batches(source)
    parts = (
        _jsonl_batches(source.stream, source.stream.next_lines + 1)
        if source.shape == "jsonl"
        else event_items(source, (), None)
    )
    return _refuse_wrapper(source.label, parts)


def _jsonl_batches(stream: PositionedReader, first_line: int = 1) -> Iterator[Batch | Item]:
    """A Batch per block of lines that all parse, else an Item per line; the stream's first
    line is line ``first_line``."""
    stream.placing = False  # lines are numbered here
    loads = orjson.loads
    line_no = first_line - 1  # lines before the block
    unfinished: list[bytes] = []  # the pieces of a line not ended yet
    while block := stream.read(SLICE):
        end = block.rfind(b"\n")
        if end < 0:
            unfinished.append(block)
            continue
        if unfinished:
            block = b"".join([*unfinished, block])
            end = block.rfind(b"\n")
        unfinished = [block[end + 1 :]] if end + 1 < len(block) else []
        lines = block[:end].split(b"\n")
        try:
            values = list(map(loads, lines))
        except orjson.JSONDecodeError:  # a bad or a blank line: line by line
            yield from _jsonl_lines(lines, line_no, b"\n")
        else:
            if not _unusual(values):
                yield Batch(values, line_no + 1)
            else:  # maybe a number orjson read inexactly: line by line
                yield from _jsonl_lines(lines, line_no, b"\n")
        line_no += len(lines)
    if unfinished:
        yield from _jsonl_lines([b"".join(unfinished)], line_no, b"")


def _jsonl_lines(lines: list[bytes], before: int, newline: bytes) -> Iterator[Item]:
    """An Item per line that is not blank; ``before`` lines came before ``lines``."""
    for line_no, line in enumerate(lines, before + 1):
        if not line or line.isspace():
            continue
        line += newline
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Item(None, line_no, jsonl_reason(line, line_no, exc), line)
            continue
        if _odd(value, MAX_DEPTH):
            value = _exactly(line, value)
        yield Item(value, line_no)


def _exactly(line: bytes, value: Any) -> Any:
    """``line`` read again by the stdlib parser, whose integers are exact (orjson reads one
    beyond 64 bits as a float; a writer that cannot hold it rejects its group); ``value`` if
    nested deeper than the stdlib parser reads."""
    try:
        return json.loads(line)
    except RecursionError:
        return value


def _refuse_wrapper(label: str, parts: Iterator[Batch | Item]) -> Iterator[Batch | Item]:
    """Pass ``parts`` through, unless the only record is an object wrapping an array of records."""
    head: list[Batch | Item] = []
    count = 0
    for part in parts:
        head.append(part)
        count += 1 if isinstance(part, Item) else len(part.values)
        if count > 1:
            break
    if count == 1:
        only = head[0].value if isinstance(head[0], Item) else head[0].values[0]
        path = _wrapped_array_path(only, WRAPPER_DEPTH)
        if path is not None:
            raise MalformedInput(
                f"{label}: holds one object that wraps an array of records at {path!r}; "
                f"read them with --items-path {path}",
                "not-container",
            )
    yield from head
    yield from parts


def _wrapped_array_path(value: Any, depth: int) -> str | None:
    """``key.item`` when ``value`` is an object (not a record) holding an array of objects."""
    if type(value) is not dict or "instruction" in value or depth == 0:
        return None
    for key, inner in value.items():
        if type(inner) is list and inner and type(inner[0]) is dict:
            return f"{key}.item"
        deeper = _wrapped_array_path(inner, depth - 1)
        if deeper is not None:
            return f"{key}.{deeper}"
    return None


def _array_batches(source: Input) -> Iterator[Batch | Item]:
    """The records of a JSON array, a slice at a time through orjson; the event reader takes
    over from the first slice orjson cannot take (see the module's docstring)."""
    stream = source.stream
    # ``buf`` is what is not consumed: ``[`` and records at first, then ``,`` and records;
    # it starts at byte ``at``, on the line that starts at ``line_start``
    at, line_start = stream.next_start, stream.next_line_start
    buf, first = b"", True
    while True:
        buf, end = _read_more(stream, buf)
        if end:
            values = _last_slice(buf, first)
            if values is None:
                break
            if values:
                yield Batch(values)
            return
        values, cut = _cut_slice(buf)
        if values is None:
            if cut < 0 and len(buf) <= MAX_SLICE:
                continue  # no cut yet: read on
            break
        yield Batch(values)
        newline = buf.rfind(b"\n", 0, cut + 1)
        if newline >= 0:
            line_start = at + newline + 1
        at, buf, first = at + cut + 1, buf[cut + 1 :], False
    lines = stream.next_lines - buf.count(b"\n")  # before ``at``: all of ``buf`` was read
    if first:
        stream.push_back(buf, at, lines, line_start)
        yield from event_items(source, ("item",), None)
        return
    # "[0" stands in for the records read: the event reader goes on after a value
    stream.push_back(b"[0" + buf, at - 2, lines, line_start)
    rest = event_items(source, ("item",), None)
    next(rest, None)  # the stand-in 0
    yield from rest


def _read_more(stream: PositionedReader, buf: bytes) -> tuple[bytes, bool]:
    """``buf`` and at least SLICE more bytes (as many as it holds, so a long record is read in
    doubling steps); True with all that is left once the input ends."""
    pieces, got, want = [buf], 0, max(SLICE, len(buf))
    while got < want:
        data = stream.read(want - got)
        if not data:
            return b"".join(pieces), True
        pieces.append(data)
        got += len(data)
    return b"".join(pieces), False


def _cut_slice(buf: bytes) -> tuple[list[Any] | None, int]:
    """The records before the last ``},`` of ``buf`` (which starts with ``[`` or ``,``) that
    parses as their end, and the offset of that ``}``; ``(None, -1)`` when there is no such
    cut yet, ``(None, offset)`` when the slice is for the event reader."""
    cut, tried = len(buf), 0
    while tried < CUTS_TRIED:
        cut = _cut_before(buf, cut)
        if cut < 0:
            return None, -1
        try:
            values = orjson.loads(b"[" + buf[1 : cut + 1] + b"]")
        except orjson.JSONDecodeError:  # a cut inside a string or a nested value, or bad JSON
            tried += 1
            continue
        return (None, cut) if _unusual(values) else (values, cut)
    return None, cut


def _cut_before(buf: bytes, limit: int) -> int:
    """The offset of the last ``}`` before ``limit`` followed by ``,`` and a newline, else by
    ``,`` (-1 if none): a raw newline is never inside a string, so in pretty-printed JSON that
    cut cannot fall inside one (text that holds ``},`` is common: code, JSON examples)."""
    cut = buf.rfind(b"},\n", 0, limit + 2)
    return cut if cut >= 0 else buf.rfind(b"},", 0, limit + 1)


def _last_slice(buf: bytes, first: bool) -> list[Any] | None:
    """The records of the array's last slice (``buf`` is all that is left), or None when the
    event reader must read it: to place an error, or to refuse a value orjson took."""
    if not first:
        after_comma = buf[1:]
        if after_comma.lstrip(JSON_WHITESPACE)[:1] == b"]":
            return None  # a trailing comma
        buf = b"[" + after_comma
    try:
        values = orjson.loads(buf)
    except orjson.JSONDecodeError:
        return None
    return None if _unusual(values) else values


def _unusual(values: list[Any]) -> bool:
    """True when ``values`` (as orjson read them) may not be what the text says, or hold what
    the event reader refuses: a value nested deeper than MAX_DEPTH, an integer beyond 64 bits
    (orjson takes unsigned 64-bit ones and turns longer ones into floats, so a float that large
    counts too). A JSON array's slice goes to the event reader then, a JSON Lines line is read
    again. Objects of strings, booleans and nulls (the usual records) are seen at once."""
    return not _FLAT_OBJECTS.is_valid(values) and any(_odd(value, MAX_DEPTH) for value in values)


def _odd(value: Any, levels: int) -> bool:
    """:func:`_unusual` for one value, which may hold ``levels`` nested levels."""
    kind = type(value)
    if kind is dict or kind is list:
        if levels == 0:
            return True
        inner = value.values() if kind is dict else value
        return any(_odd(v, levels - 1) for v in inner)
    if kind is int:
        return not _INT64_MIN <= value <= _INT64_MAX
    return kind is float and not _INT64_MIN < value < _INT64_MAX  # (maybe an integer)
