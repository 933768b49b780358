"""Describing JSON syntax errors: where (line, column, byte) and what, with the likely cause.

yajl (arrays) and orjson (JSON Lines) word their errors differently and place some one byte
late; these helpers find the exact byte and name common causes: a file that is not UTF-8
(Latin-1, CESU-8), NaN/Infinity, unescaped control characters, lone surrogate escapes.
"""

from __future__ import annotations

import ast
import math
import re

import orjson

from converter.chunks import PositionedReader

NOT_UTF8 = "not valid UTF-8"
_LEGACY_HINT = "is the file Latin-1 or another legacy encoding? converter reads UTF-8 only"
_NON_FINITE = (b"NaN", b"Infinity", b"-Infinity")
NO_NON_FINITE = "JSON has no NaN or Infinity (write null or a string)"

#: A number where a value may start (after ``[``, ``:`` or ``,``).
_NUMBER = re.compile(rb"[\[:,]\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
_INT64_MAX = (1 << 63) - 1

_CONTEXT = 30  # bytes of input yajl shows either side of the error
_PAD = 10  # spaces before the context when the error is 30 bytes or more into the chunk
_CARET = 40  # column of the caret under the context
_NEWLINES_AS_SPACES = bytes.maketrans(b"\n\r", b"  ")
_ARROW = b"\n" + b" " * 21 + b"(right here)"


def not_utf8(data: bytes, at: int) -> str:
    """``byte 0xE9; is the file Latin-1 ...`` for the bad byte at ``at``: the likely cause."""
    what = f"byte 0x{data[at]:02X}" if at < len(data) else "a character cut short by the end"
    return f"{what}; {_LEGACY_HINT}"


def first_invalid_utf8(
    data: bytes, start: int = 0, cut_start: bool = False, cut_end: bool = False
) -> int | None:
    """The offset of the first byte of ``data[start:]`` that is not UTF-8, None if all is.

    ``cut_start``/``cut_end``: ``data`` is a chunk of a longer input, so a character cut by
    that end is not counted.
    """
    if cut_start:
        while start < min(3, len(data)) and 0x80 <= data[start] < 0xC0:
            start += 1
    try:
        data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        if cut_end and exc.reason == "unexpected end of data" and start + exc.end == len(data):
            return None
        return start + exc.start
    return None


def describe_bad_utf8(stream: PositionedReader) -> str:
    """Place the first non-UTF-8 byte of the chunk being parsed (or of the last one)."""
    chunk = stream.chunk
    bad = first_invalid_utf8(chunk, cut_start=True, cut_end=True)
    if bad is None:  # nothing but a character cut short by the end of the input
        bad = first_invalid_utf8(chunk, cut_start=True)
    if bad is None:
        return f"near byte {stream.chunk_start}: {NOT_UTF8}; {_LEGACY_HINT}"
    return f"{stream.where(bad)}: {NOT_UTF8}: {not_utf8(chunk, bad)}"


def describe_yajl_error(stream: PositionedReader, exc: Exception) -> str:
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
    found = _find_offset(stream.chunk, context)
    if found is None and "UTF8" in what:
        return describe_bad_utf8(stream)
    if found is None:
        end = stream.chunk_start + len(stream.chunk)
        return f"between bytes {stream.chunk_start} and {end}: {what}"
    chunk, offset = stream.chunk, max(found - 1, 0)
    if "overflow" in what:  # yajl points at the start of the chunk: find the number itself
        for match in _NUMBER.finditer(chunk):
            number = match.group(1)
            if _overflows(number):
                where = stream.where(match.start(1))
                return f"{where}: number {number[:40].decode()} is too large ({what})"
    if "UTF8" in what:
        string_start = chunk.rfind(b'"', 0, offset) + 1
        bad = first_invalid_utf8(chunk[: offset + 4], string_start, True, True)
        offset = offset if bad is None else bad
        return f"{stream.where(offset)}: {NOT_UTF8}: {not_utf8(chunk, offset)}"
    if "invalid character inside string" in what:
        for at in (offset, offset + 1):
            if at < len(chunk) and chunk[at] < 0x20:
                return (
                    f"{stream.where(at)}: control character 0x{chunk[at]:02X} inside a string "
                    "(JSON needs it escaped, e.g. \\n or \\u0001)"
                )
    for token in _NON_FINITE:
        if chunk.startswith(token, offset):
            what = f"{token.decode()}: {NO_NON_FINITE}"
    return f"{stream.where(offset)}: {what}"


def jsonl_reason(line: bytes, line_no: int, exc: orjson.JSONDecodeError) -> str:
    """The rejection reason for a JSON Lines line that does not parse (``kind: details``).

    Columns count bytes, as in the positions given for JSON arrays.
    """
    bad = first_invalid_utf8(line)
    if bad is not None:
        return f"{NOT_UTF8}: line {line_no}, column {bad + 1}: {not_utf8(line, bad)}"
    text = line.decode("utf-8")
    where = f"line {line_no}, column {len(text[: exc.pos].encode()) + 1}"
    if "surrogate" in exc.msg:
        return f"lone surrogate: {where}: {exc.msg}; it cannot be written as UTF-8"
    if text.startswith(("NaN", "Infinity"), exc.pos) or text.startswith("-Infinity", exc.pos - 1):
        return f"invalid JSON: {where}: {NO_NON_FINITE}"
    return f"invalid JSON: {where}: {exc.msg}"


def _overflows(number: bytes) -> bool:
    """True when yajl cannot hold ``number``: beyond 64-bit integers or double precision."""
    if number.lstrip(b"-").isdigit():  # (int() refuses strings of over 4,300 digits)
        return len(number) > 20 or not -_INT64_MAX - 1 <= int(number) <= _INT64_MAX
    return math.isinf(float(number))


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
