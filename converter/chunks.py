"""A byte stream read in chunks that knows where each chunk starts, so that a parser error can
be placed at ``line L, column C (byte B)``; for the JSON parser it also keeps escapes whole,
stands in for lone surrogates and grows its chunks while a long string runs on.
"""

from __future__ import annotations

import io
import re
import zlib
from collections import deque
from typing import BinaryIO

from converter.errors import InputError
from converter.kernels import NATIVE

#: Bytes read at a time.
CHUNK = 1 << 16
#: Largest chunk handed to the JSON parser while a long string runs on.
MAX_CHUNK = 1 << 26
#: What reading a file or a ``.gz`` stream may raise.
READ_ERRORS = (OSError, EOFError, zlib.error)
#: The two halves of a UTF-16 surrogate pair's escapes (``\uD83D\uDE00``); yajl turns a lone
#: one into ``?`` or into bytes that are not UTF-8, so the reader finds them first.
_LOW_SURROGATE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
#: What a lone surrogate escape is replaced with (same length, so positions stay right).
SENTINEL_ESCAPE = b"\\uffff"
SENTINEL = "\uffff"
#: What reads as U+FFFF: a surrogate escape (a lone one is replaced with SENTINEL_ESCAPE), a
#: U+FFFF escape or the character itself in UTF-8 (noted, so as not to be taken for a stand-in).
_READS_AS_SENTINEL = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\\u[fF]{4}|\xef\xbf\xbf")
_LONGEST_ESCAPE = 12  # a surrogate pair: \uD83D\uDE00


def count_newlines(data: bytes, start: int = 0, end: int | None = None) -> int:
    """``data.count(b"\\n", start, end)``; compiled, a memchr a line (bytes.count goes a byte
    at a time)."""
    end = len(data) if end is None else end
    return NATIVE.newlines(data, end, start)[0] if NATIVE else data.count(b"\n", start, end)


class PositionedReader(io.RawIOBase):
    """Serves the sniffed head, then the rest of the stream; remembers where each chunk began
    and how many newlines came before it, so a parser error can be placed exactly.

    With ``for_parser`` set (yajl reads it through ``read``): each lone surrogate escape is
    replaced by ``\\uffff`` and described in ``lone_surrogates``, so the record holding it can be
    rejected; and chunks grow while a long string runs on, because yajl lexes a token cut by a
    chunk again from its start (quadratic time on a 50 MB string read 64 KiB at a time).
    """

    def __init__(self, label: str, head: bytes, rest: BinaryIO, skipped: bytes) -> None:
        self.label = label
        self.head = head
        self.head_at = 0
        self.rest = rest
        self.chunk = b""
        self.chunk_start = self.next_start = len(skipped)
        self.lines_before = self.next_lines = skipped.count(b"\n")
        self.line_start = self.next_line_start = skipped.rfind(b"\n") + 1
        self.for_parser = False
        #: Each U+FFFF the parser will read, in order: a lone surrogate's description, or None
        #: for the character itself
        self.lone_surrogates: deque[str | None] = deque()
        self.pending = b""
        self.grow = CHUNK
        #: False for a reader that numbers lines itself (JSON Lines): bytes are only counted
        self.placing = True

    def readable(self) -> bool:
        return True

    def push_back(self, data: bytes, start: int, lines: int, line_start: int) -> None:
        """Serve ``data`` next, as the bytes from offset ``start`` on: ``lines`` newlines come
        before ``start`` and its line begins at ``line_start``. For a reader that read ahead
        and hands the rest over; ``data`` may begin with stand-in bytes, placed just before
        the first real one (positions stay exact from there on)."""
        self.head = data + self.head[self.head_at :]
        self.head_at = 0
        self.next_start, self.next_lines, self.next_line_start = start, lines, line_start

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        size = size if size > 0 else CHUNK
        if not self.placing:
            data = self._take(size)
            self.next_start += len(data)
            return data
        data = self._parser_chunk(size) if self.for_parser else self._take(size)
        if not data:  # the end: errors found now are placed in the last chunk
            return data
        self.chunk_start, self.lines_before = self.next_start, self.next_lines
        self.line_start = self.next_line_start
        last_newline = data.rfind(b"\n")
        if last_newline >= 0:
            self.next_lines += count_newlines(data)
            self.next_line_start = self.chunk_start + last_newline + 1
        self.next_start += len(data)
        self.chunk = data
        if self.for_parser and _READS_AS_SENTINEL.search(data):
            self.chunk = data = self._replace_lone_surrogates(data)
        return data

    def _parser_chunk(self, size: int) -> bytes:
        """The next chunk for yajl: escapes kept whole, bigger while a long string runs on."""
        while True:
            new = self._take(max(max(size, self.grow) - len(self.pending), 1))
            data, self.pending = self.pending + new, b""
            if not new:
                return data
            data, self.pending = _split_tail(data)  # keep a cut escape for the next chunk
            if data:
                break
        long_token = _last_quote(data) < len(data) // 2
        self.grow = min(self.grow * 2, MAX_CHUNK) if long_token else CHUNK
        return data

    def _take(self, size: int) -> bytes:
        if self.head:
            data = self.head[self.head_at : self.head_at + size]
            self.head_at += len(data)
            if self.head_at == len(self.head):
                self.head = b""
            return data
        try:
            return self.rest.read(size)
        except READ_ERRORS as exc:
            raise InputError(
                f"{self.label}: cannot read near byte {self.next_start}: {exc}"
            ) from None

    def _replace_lone_surrogates(self, data: bytes) -> bytes:
        """``data`` with each lone surrogate escape replaced with SENTINEL_ESCAPE and described
        in ``lone_surrogates``; a U+FFFF of the text itself is noted there as None, in order,
        so that the parsed value's U+FFFF characters are told apart."""
        fixed = bytearray(data)
        paired_until = 0
        for match in _READS_AS_SENTINEL.finditer(data):
            start, end = match.span()
            if start < paired_until or (data[start] == 0x5C and escaped_backslash(data, start)):
                continue
            if data[start] != 0x5C or data[start + 2] in b"fF":  # U+FFFF itself
                self.lone_surrogates.append(None)
                continue
            if _HIGH_SURROGATE.match(data, start) and _LOW_SURROGATE.match(data, end):
                paired_until = end + 6
                continue
            escape = match.group().decode("ascii")
            self.lone_surrogates.append(f"{escape} at {self.where(start)}")
            fixed[start:end] = SENTINEL_ESCAPE
        return bytes(fixed)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def where(self, offset_in_chunk: int | None) -> str:
        """Describe a position: ``line L, column C (byte B)``; None means the end of the input."""
        if offset_in_chunk is None:
            return f"end of input (byte {self.next_start})"
        offset_in_chunk = max(0, min(offset_in_chunk, len(self.chunk)))
        before = self.chunk[:offset_in_chunk]
        offset = self.chunk_start + offset_in_chunk
        newline = before.rfind(b"\n")
        line_start = self.chunk_start + newline + 1 if newline >= 0 else self.line_start
        line = self.lines_before + before.count(b"\n") + 1
        return f"line {line}, column {offset - line_start + 1} (byte {offset})"


def escaped_backslash(data: bytes, start: int) -> bool:
    """True when the backslash at ``start`` is the second half of an escaped backslash."""
    return (start - _run_start(data, start)) % 2 == 1


def _run_start(data: bytes, end: int) -> int:
    """Where the run of backslashes that ends just before ``end`` begins."""
    while end > 0 and data[end - 1] == 0x5C:
        end -= 1
    return end


def _last_quote(data: bytes) -> int:
    """The offset of the last ``"`` in ``data`` not escaped by a backslash (-1 if none)."""
    at = data.rfind(b'"')
    while at > 0 and data[at - 1] == 0x5C:
        at = data.rfind(b'"', 0, at - 1)
    return at


def _split_tail(data: bytes) -> tuple[bytes, bytes]:
    """Split off a tail that may hold a character or an escape cut by the chunk boundary: the
    bytes of an unfinished UTF-8 character, or from a backslash in the last bytes on (the
    backslashes of a run before it in pairs, each an escape whole: so every chunk starts where
    a backslash starts an escape, whatever the run's length)."""
    end = _utf8_end(data)
    cut = data.find(b"\\", max(end - _LONGEST_ESCAPE + 1, 0), end)
    if cut < 0:
        return data[:end], data[end:]
    if _HIGH_SURROGATE.match(data, max(cut - 6, 0), cut):  # keep a pair together
        cut -= 6
    run = _run_start(data, cut)
    cut = run + (cut - run) // 2 * 2
    return data[:cut], data[cut:]


def _utf8_end(data: bytes) -> int:
    """Where a UTF-8 character that ``data`` ends in the middle of starts (else its length)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:  # ASCII: nothing unfinished
            return len(data)
        if byte >= 0xC0:  # a lead byte: how many bytes its character has
            size = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if size > back else len(data)
    return len(data)
