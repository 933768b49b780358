"""Describing JSON syntax errors: where (line, column, byte) and what, with the likely cause.

yajl (arrays) and orjson (JSON Lines) word their errors differently and place some one byte
late; these helpers find the exact byte and name common causes: a file that is not UTF-8
(Latin-1, CESU-8), NaN/Infinity, unescaped control characters, lone surrogate escapes.

yajl does not say where it stopped, only the text around that point; where that text occurs
more than once in the chunk (a file of repeated records), or is cut short by a NUL byte, or where
the reader refused a value nested too deep (it knows only the chunk), the file is parsed again to
that point, fed a byte at a time across the span (a long token in growing pieces), which gives
the exact byte. stdin cannot be read again: there the candidates, or the chunk's byte range,
are named and the reason said.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import ijson
import orjson

from converter.chunks import CHUNK, PositionedReader, escaped_backslash
from converter.errors import ConverterError
from converter.inputs import JSON_WHITESPACE, STDIN, Input, open_input

NOT_UTF8 = "not valid UTF-8"
_LEGACY_HINT = "is the file Latin-1 or another legacy encoding? converter reads UTF-8 only"
_NON_FINITE = (b"NaN", b"Infinity", b"-Infinity")
#: Why a record holding a lone surrogate escape (\\ud800 without its pair) is rejected.
NO_SURROGATE = "not a character, cannot be written as UTF-8"
NO_NON_FINITE = "JSON has no NaN or Infinity (write null or a string)"

#: A number where a value may start (after ``[``, ``:`` or ``,``).
_NUMBER = re.compile(rb"[\[:,]\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
_INT64_MAX = (1 << 63) - 1

_CONTEXT = 30  # bytes of input yajl shows either side of the error
_PAD = 10  # spaces before the context when the error is 30 bytes or more into the chunk
_CARET = 40  # column of the caret under the context
_NEWLINES_AS_SPACES = bytes.maketrans(b"\n\r", b"  ")
#: What follows the context: yajl's line break before it is lost when the context holds a NUL
_ARROW = b" " * 21 + b"(right here)"
#: Bytes of a replay's slow span given to yajl one at a time after its last event (see _Feed)
_QUIET = 64
_STDIN_AGAIN = "stdin cannot be read again to place it"

#: What turns the parse events of a replay into values, raising what the first read raised.
Consume = Callable[[Iterator[tuple[str, Any]]], Iterable[Any]]


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
        if bad is not None:
            return f"{stream.where(bad)}: truncated JSON (the input ends inside a character)"
    if bad is None:
        return f"near byte {stream.chunk_start}: {NOT_UTF8}; {_LEGACY_HINT}"
    return f"{stream.where(bad)}: {NOT_UTF8}: {not_utf8(chunk, bad)}"


def describe_yajl_error(
    stream: PositionedReader, exc: Exception, source: Input | None = None
) -> str:
    """Turn a yajl error into ``line L, column C (byte B): what`` using the chunk it failed in.

    yajl shows up to 30 bytes either side of the point where it stopped, under a caret at a fixed
    column; finding that context in the chunk it was parsing gives the exact offset. When the
    context occurs more than once there, ``source`` (the input being read, when it can be opened
    again) is parsed again to tell which; without it the message names every candidate.
    """
    message = _message_bytes(str(exc))
    first, _, rest = message.partition(b"\n")
    what = re.sub(r"^(lexical|parse) error: ", "", first.decode("utf-8", "replace").strip())
    what = what.rstrip(".")
    if "premature EOF" in what:
        return f"{stream.where(None)}: truncated JSON (premature end of input)"
    arrow = rest.rfind(_ARROW)
    context = rest[:arrow].removesuffix(b"\n") if arrow >= 0 else b""
    found = _find_offsets(stream.chunk, context)
    if len(found) > 1:
        found = _disambiguate(stream, found, source, first)
    if not found and "UTF8" in what:
        return describe_bad_utf8(stream)
    if not found:  # where yajl stopped, from parsing the file again to that error
        last = _locate_in_chunk(stream, source, _same_error(first))
        if isinstance(last, str):
            return f"{last}: {what}"
        if last == len(stream.chunk):  # it failed once the input had ended: a cut token
            return f"{stream.where(None)}: truncated JSON ({what})"
        found = [last + 1]  # (yajl stops after the byte it failed on)
    placed = list(dict.fromkeys(_place(stream, max(at - 1, 0), what) for at in found))
    if len(placed) > 1:
        places = " or ".join(where for where, _ in placed)
        return f"{places} (the text around it repeats; which one is not known): {placed[0][1]}"
    return ": ".join(placed[0])


def describe_refused(
    stream: PositionedReader, source: Input, what: str, consume: Consume, refusal: type[Exception]
) -> str:
    """``line L, column C (byte B): what`` for a value the event reader refused, ``consume``
    raising ``refusal`` while the stream's current chunk was parsed (a value nested too deep).

    The events carry no position: ``source`` is parsed again and its events given to
    ``consume`` as the chunk is fed a byte at a time, so the byte is the one whose event it
    refused (the ``[`` or ``{`` one level too deep). stdin keeps the chunk's byte range.
    """
    last = _locate_in_chunk(stream, source, lambda exc: isinstance(exc, refusal), consume)
    where = last if isinstance(last, str) else stream.where(last)
    return f"{where}: {what}"


def _locate_in_chunk(
    stream: PositionedReader,
    source: Input | None,
    stops: Callable[[Exception], bool],
    consume: Consume = list,
) -> int | str:
    """The offset in the chunk being parsed of the byte at which a replay (see :func:`_locate`)
    stops (its length when that came after the end of the input); when it cannot be found, the
    chunk's byte range and, for stdin, why."""
    start, end = stream.chunk_start, stream.chunk_start + len(stream.chunk)
    between = f"between bytes {start} and {end}"
    if source is None or source.path == STDIN:
        return f"{between} ({_STDIN_AGAIN})"
    last = _locate(source, start, end, stops, consume)
    return between if last is None or not start <= last <= end else last - start


def _same_error(first: bytes) -> Callable[[Exception], bool]:
    """True for a yajl error whose message begins with the line ``first``."""
    return lambda exc: (
        isinstance(exc, ijson.JSONError) and _message_bytes(str(exc)).partition(b"\n")[0] == first
    )


def _place(stream: PositionedReader, offset: int, what: str) -> tuple[str, str]:
    """Where and what the error is, for yajl stopping one byte after ``offset`` of the chunk."""
    chunk = stream.chunk
    if "overflow" in what:  # yajl points at the start of the chunk: find the number itself
        for match in _NUMBER.finditer(chunk):
            number = match.group(1)
            if _overflows(number):
                where = stream.where(match.start(1))
                return where, f"number {number[:40].decode()} is too large ({what})"
    if "UTF8" in what:
        string_start = chunk.rfind(b'"', 0, offset) + 1
        bad = first_invalid_utf8(chunk[: offset + 4], string_start, True, True)
        offset = offset if bad is None else bad
        return stream.where(offset), f"{NOT_UTF8}: {not_utf8(chunk, offset)}"
    if "invalid character inside string" in what:
        for at in (offset, offset + 1):
            if at < len(chunk) and chunk[at] < 0x20:
                return stream.where(at), (
                    f"control character 0x{chunk[at]:02X} inside a string "
                    "(JSON needs it escaped, e.g. \\n or \\u0001)"
                )
    for token in _NON_FINITE:
        if chunk.startswith(token, offset):
            what = f"{token.decode()}: {NO_NON_FINITE}"
    closing = chunk[offset : offset + 1]
    if closing in (b"]", b"}") and chunk[:offset].rstrip(JSON_WHITESPACE).endswith(b","):
        what = f"a comma before {closing.decode()} (a trailing comma: JSON has none)"
    return stream.where(offset), what


def jsonl_reason(line: bytes, line_no: int, exc: orjson.JSONDecodeError) -> str:
    """The rejection reason for a JSON Lines line that does not parse (``kind: details``).

    Columns count bytes, as in the positions given for JSON arrays.
    """
    bad = first_invalid_utf8(line)
    if bad is not None:
        where = f"line {line_no}, column {bad + 1}"
        last = not line.endswith(b"\n")  # the input's last line, without a newline
        if last and first_invalid_utf8(line, cut_end=True) is None:
            return f"invalid JSON: {where}: truncated (the input ends inside a character)"
        return f"{NOT_UTF8}: {where}: {not_utf8(line, bad)}"
    text = line.decode("utf-8")
    where = f"line {line_no}, column {len(text[: exc.pos].encode()) + 1}"
    if "surrogate" in exc.msg:  # worded as the array reader words it (converter.events)
        escape = text[exc.pos : exc.pos + 6]
        return f"lone surrogate: {escape} at {where}: {NO_SURROGATE}"
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


def _find_offsets(chunk: bytes, context: bytes) -> list[int]:
    """Every offset in ``chunk`` at which yajl, having stopped there, prints ``context``."""
    chunk = chunk.translate(_NEWLINES_AS_SPACES)  # yajl shows line breaks as spaces
    found = [at for at in range(min(_CONTEXT, len(chunk) + 1)) if _shown(chunk, at) == context]
    shown = context[_PAD:]
    if not context[:_PAD].isspace() or not shown:
        return found
    start = chunk.find(shown)
    while start >= 0:
        if _shown(chunk, start + _CONTEXT) == context:
            found.append(start + _CONTEXT)
        start = chunk.find(shown, start + 1)
    return found


def _shown(chunk: bytes, offset: int) -> bytes:
    """The context yajl prints when it stops at ``offset`` of ``chunk`` (newlines as spaces):
    30 bytes either side, padded so the offset falls under the caret, cut at a NUL byte."""
    if offset > len(chunk):
        return b""
    start = max(offset - _CONTEXT, 0)
    pad = _PAD if offset >= _CONTEXT else _CARET - offset
    text = b" " * pad + chunk[start : offset + _CONTEXT]
    return text.partition(b"\0")[0]


def _disambiguate(
    stream: PositionedReader, found: list[int], source: Input | None, first: bytes
) -> list[int]:
    """The one offset of ``found`` where yajl stopped, by parsing ``source`` again; ``found``
    itself when that cannot be done (stdin) or does not end in the same error.

    Fed a byte at a time from just before the first candidate, yajl fails in the call given the
    byte it stopped at or one after it: it never stops past the byte it failed on, so the right
    candidate is the last one not beyond that byte + 1 (the others around it would repeat the
    60 bytes of context inside the very token that failed).
    """
    if source is None or source.path == STDIN:
        return found
    start = stream.chunk_start
    span = start + found[0] - 2, start + found[-1] + 2 * _CONTEXT
    failed_at = _locate(source, *span, _same_error(first))
    if failed_at is None:
        return found
    before = [at for at in found if start + at <= failed_at + 1]
    return before[-1:] if before else found


def _locate(
    source: Input, start: int, end: int, stops: Callable[[Exception], bool], consume: Consume = list
) -> int | None:
    """The offset of the byte in ``[start, end)`` given to yajl when a replay of ``source``
    stopped on an error for which ``stops`` holds (None if it did not), the byte fed alone.

    yajl fails, and gives an event, in the read holding the byte: when that read held more (a
    long token was fed in pieces, see :class:`_Feed`), the file is replayed across that read
    with pieces at most half as long, until the read is one byte.
    """
    cap = max(end - start, 1)
    while True:
        piece = _replay(source, start, end, stops, consume, cap)
        if piece is None or not start <= piece[0] <= piece[1] <= end:
            return None
        first, last = piece
        if first == last:
            return last
        start, end, cap = first, last + 1, (last - first + 1) // 2


def _replay(
    source: Input,
    slow_from: int,
    slow_to: int,
    stops: Callable[[Exception], bool],
    consume: Consume,
    cap: int,
) -> tuple[int, int] | None:
    """Parse ``source`` again from its start as the reader did, fed slowly in
    ``[slow_from, slow_to)`` in pieces of at most ``cap`` bytes (see :class:`_Feed`), its
    events given to ``consume``; the first and last offset of the bytes last given when that
    stopped on an error for which ``stops`` holds, None if it did not."""
    try:
        again = open_input(source.label, source.path)
    except ConverterError:
        return None
    feed = _Feed(again.stream, slow_from, slow_to, cap)
    try:
        events = ijson.basic_parse(feed, multiple_values=source.shape != "array", buf_size=CHUNK)
        for _ in consume(feed.noting(events)):
            pass
    except Exception as exc:  # the error the first read stopped on, or another
        if stops(exc):
            return feed.piece
        if isinstance(exc, ijson.JSONError | ConverterError | UnicodeDecodeError):
            return None
        raise
    finally:
        again.close()
    return None


class _Feed:
    """What the JSON reader gave yajl (lone surrogates stood in for), slowly within
    ``[slow_from, slow_to)``: a byte at a time while yajl gives events; once _QUIET bytes went
    by without one (a long token: yajl lexes a cut token again from its start), in pieces as
    long as what went by, at most ``cap`` bytes, each ending at the first ``"`` that no
    backslash escapes (where a string may end). ``piece`` is the first and last offset of the
    bytes last given (both the end of the input once yajl was told of it)."""

    def __init__(self, stream: PositionedReader, slow_from: int, slow_to: int, cap: int) -> None:
        stream.for_parser = True
        self.stream = stream
        self.slow_from, self.slow_to, self.cap = slow_from, slow_to, cap
        self.data, self.at, self.piece = b"", stream.next_start, (-1, -1)
        self.quiet = 0  # bytes given in the slow span since yajl's last event

    def noting(self, events: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        """``events``, each one noted (the next slow piece is a byte again)."""
        for event in events:
            self.quiet = 0
            yield event

    def read(self, size: int) -> bytes:
        """The next bytes up to ``size``: slowly within the slow span."""
        if not self.data:
            self.at = self.stream.next_start
            self.data = self.stream.read(size)
        if self.slow_from <= self.at < self.slow_to:
            size = 1 if self.quiet < _QUIET else min(self.quiet, self.cap, self.slow_to - self.at)
            size = _through_quote(self.data, size)
            self.quiet += min(size, len(self.data))
        elif self.at < self.slow_from:
            size = min(size, self.slow_from - self.at)
        piece, self.data = self.data[:size], self.data[size:]
        self.piece = (self.at, self.at + len(piece) - 1) if piece else (self.at, self.at)
        self.at += len(piece)
        return piece


def _through_quote(data: bytes, size: int) -> int:
    """``size``, or fewer bytes: up to the first ``"`` in ``data[:size]`` not escaped by a
    backslash, and that quote."""
    quote = data.find(b'"', 0, size)
    while quote >= 0 and escaped_backslash(data, quote):
        quote = data.find(b'"', quote + 1, size)
    return size if quote < 0 else quote + 1
