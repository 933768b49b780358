"""From read items to records: detect the input format, map fields, keep extra keys as tags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import count, repeat
from typing import Any

from converter.errors import UsageError
from converter.model import InputFormat, Record, Rejected
from converter.readers import Batch, Item


def detect_format(first: Any, formats: Mapping[str, InputFormat]) -> InputFormat:
    """The first registered format whose ``detect`` accepts ``first`` (Alpaca if none does)."""
    if isinstance(first, dict):
        for fmt in formats.values():
            if fmt.detect(first):
                return fmt
    return formats["alpaca"]


def format_named(name: str, formats: Mapping[str, InputFormat]) -> InputFormat:
    """The format called ``name``; UsageError listing the known ones otherwise."""
    try:
        return formats[name]
    except KeyError:
        raise UsageError(f"unknown input format {name!r}; known: {', '.join(formats)}") from None


def to_records(
    lang: str,
    parts: Iterator[Batch | Item],
    fmt: InputFormat | None,
    formats: Mapping[str, InputFormat],
    on_format: Callable[[str], None],
    first: int = 0,
) -> Iterator[Record | Rejected]:
    """Map each record read (``parts``: :func:`converter.readers.read_batches`) onto a Record,
    or a Rejected with the reason; indexes count from ``first`` (0: the whole source; a range
    of it starts further on).

    Without ``fmt`` the format is detected from the first readable record; ``on_format`` is
    told the format used.
    """
    if fmt is not None:
        on_format(fmt.name)
    own = fmt.own_keys if fmt else frozenset()
    fields = fmt.fields if fmt else None
    index = first  # of the part's first record
    for part in parts:
        if isinstance(part, Batch):  # readable records, a batch of them
            values: Sequence[Any] = part.values
            lines: Iterable[int | None] = repeat(None) if part.line is None else count(part.line)
        elif part.error is not None:
            yield Rejected(lang, index, [part.error], part.value, part.raw, part.line)
            index += 1
            continue
        else:
            values, lines = (part.value,), (part.line,)
        for at, (obj, line) in enumerate(zip(values, lines), index):
            if fields is None:  # detect from the first record
                fmt = detect_format(obj, formats)
                own, fields = fmt.own_keys, fmt.fields
                on_format(fmt.name)
            if type(obj) is not dict:
                reason = f"record is {_kind(obj)}, not an object"
                yield Rejected(lang, at, [reason], obj, None, line)
                continue
            try:
                instruction, input_, output = fields(obj)
            except KeyError as exc:
                reason = f"missing field {exc.args[0]!r}"
                yield Rejected(lang, at, [reason], obj, None, line)
                continue
            except (TypeError, ValueError, IndexError) as exc:
                yield Rejected(lang, at, [str(exc)], obj, None, line)
                continue
            if type(instruction) is not str or type(input_) is not str or type(output) is not str:
                names = fmt.field_names if fmt else ("instruction", "input", "output")
                reasons = _type_reasons(zip(names, (instruction, input_, output)))
                yield Rejected(lang, at, reasons, obj, None, line)
                continue
            # (a format may go without some of its own keys: their number tells nothing)
            tags = {} if own.issuperset(obj) else {k: v for k, v in obj.items() if k not in own}
            yield Record(lang, at, instruction, input_, output, tags, original=obj, line=line)
        index += len(values)


def _type_reasons(pairs: Iterable[tuple[str, Any]]) -> list[str]:
    return [
        f"field {name!r} is {_kind(value)}, not a string"
        for name, value in pairs
        if type(value) is not str
    ]


#: What a reason calls a value of each type a reader gives (Parquet's too).
_KINDS = {
    dict: "an object",
    list: "an array",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    bytes: "binary data",
}


def _kind(value: Any) -> str:
    """What ``value`` is, as a reason names it: a JSON kind, binary data, or the type of a
    value only a Parquet column holds (a date, a decimal)."""
    if value is None:
        return "null"
    return _KINDS.get(type(value)) or f"a {type(value).__name__.lower()} value"
