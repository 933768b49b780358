"""From read items to records: detect the input format, map fields, keep extra keys as tags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from converter.errors import UsageError
from converter.model import InputFormat, Record, Rejected
from converter.readers import Item


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
    items: Iterator[Item],
    fmt: InputFormat | None,
    formats: Mapping[str, InputFormat],
    on_format: Callable[[str], None],
    first: int = 0,
) -> Iterator[Record | Rejected]:
    """Map each item onto a Record, or a Rejected with the reason; indexes count from
    ``first`` (0: the whole source; a range of it starts further on).

    Without ``fmt`` the format is detected from the first readable record; ``on_format`` is
    told the format used.
    """
    if fmt is not None:
        on_format(fmt.name)
    own = fmt.own_keys if fmt else frozenset()
    fields = fmt.fields if fmt else None
    for index, item in enumerate(items, first):
        obj = item.value
        if item.error is not None:
            yield Rejected(lang, index, [item.error], obj, item.raw, item.line)
            continue
        if fields is None:  # detect from the first record
            fmt = detect_format(obj, formats)
            own, fields = fmt.own_keys, fmt.fields
            on_format(fmt.name)
        if type(obj) is not dict:
            reason = f"record is {_kind(obj)}, not an object"
            yield Rejected(lang, index, [reason], obj, None, item.line)
            continue
        try:
            instruction, input_, output = fields(obj)
        except KeyError as exc:
            reason = f"missing field {exc.args[0]!r}"
            yield Rejected(lang, index, [reason], obj, None, item.line)
            continue
        except (TypeError, ValueError, IndexError) as exc:
            yield Rejected(lang, index, [str(exc)], obj, None, item.line)
            continue
        if type(instruction) is not str or type(input_) is not str or type(output) is not str:
            names = fmt.field_names if fmt else ("instruction", "input", "output")
            reasons = _type_reasons(zip(names, (instruction, input_, output)))
            yield Rejected(lang, index, reasons, obj, None, item.line)
            continue
        tags = {k: v for k, v in obj.items() if k not in own} if len(obj) > len(own) else {}
        yield Record(lang, index, instruction, input_, output, tags, original=obj, line=item.line)


def _type_reasons(pairs: Iterable[tuple[str, Any]]) -> list[str]:
    return [
        f"field {name!r} is {_kind(value)}, not a string"
        for name, value in pairs
        if type(value) is not str
    ]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "an array",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), "a string")
