"""Compression by file suffix: ``.gz`` (gzip) and ``.zst`` (Zstandard), for inputs and outputs.

The format of a compressed file is told by the suffix before the compression one:
``out.jsonl.gz`` is gzipped JSON Lines. Suffixes are told regardless of case (``OUT.JSONL.GZ``).
Zstandard comes from the standard library's
``compression.zstd`` (Python 3.14) or its backport ``backports.zstd``: unlike python-zstandard's
stream reader, it reports a truncated file instead of ending early without a word. gzip output
carries no time stamp or file name, so the same input gives the same bytes.
"""

from __future__ import annotations

import gzip
import sys
from typing import BinaryIO, cast

if sys.version_info >= (3, 14):  # pragma: no cover - depends on the interpreter
    from compression import zstd
else:
    from backports import zstd

GZIP_LEVEL = 6  # gzip's own default; 9 is several times slower for ~1% smaller text
ZSTD_LEVEL = 3  # zstd's own default
SUFFIXES = (".gz", ".zst")
#: The first bytes of compressed data: format name and the suffix converter reads it by (None:
#: not read), to name the compression of data given without its suffix.
MAGIC = (
    (b"\x1f\x8b", "gzip", ".gz"),
    (b"\x28\xb5\x2f\xfd", "zstd", ".zst"),
    (b"BZh", "bzip2", None),
    (b"\xfd7zXZ\x00", "xz", None),
    (b"\x04\x22\x4d\x18", "lz4", None),
    (b"PK\x03\x04", "zip", None),
    (b"7z\xbc\xaf\x27\x1c", "7z", None),
)
#: Compression suffixes converter neither reads nor writes.
FOREIGN_SUFFIXES = (".bz2", ".xz", ".lz4", ".lzma", ".zip", ".7z", ".br", ".z", ".tgz")


def compression_of(path: str) -> str | None:
    """The compression suffix of ``path`` (``.gz``, ``.zst``, in any case), or None."""
    return _suffix(path, SUFFIXES)


def foreign_compression(path: str) -> str | None:
    """The suffix of ``path`` (in any case) naming a compression converter does not support,
    or None."""
    return _suffix(path, FOREIGN_SUFFIXES)


def _suffix(path: str, suffixes: tuple[str, ...]) -> str | None:
    """The one of ``suffixes`` (lower case) ``path`` ends with, in any case, or None."""
    lower = path.lower()
    return next((s for s in suffixes if lower.endswith(s)), None)


def sniff_compression(head: bytes) -> tuple[str, str | None] | None:
    """The compression ``head`` (a file's first bytes) starts with: its name and the suffix
    converter reads it by (None: not supported), or None when it looks uncompressed."""
    return next(((name, suffix) for magic, name, suffix in MAGIC if head.startswith(magic)), None)


def strip_compression(path: str) -> str:
    """``path`` without its compression suffix: the name that tells the format."""
    suffix = compression_of(path)
    return path[: -len(suffix)] if suffix else path


class _ZstdReader(zstd.ZstdFile):
    """A Zstandard reader whose decoding errors are OSErrors, as gzip's are."""

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` decompressed bytes; OSError on corrupt data."""
        try:
            return super().read(size)
        except zstd.ZstdError as exc:
            raise OSError(f"zstd: {exc}") from None


def decompressing(path: str, raw: BinaryIO) -> BinaryIO:
    """``raw`` decompressed as ``path``'s suffix says (``raw`` itself when not compressed)."""
    suffix = compression_of(path)
    if suffix == ".gz":
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if suffix == ".zst":
        return cast(BinaryIO, _ZstdReader(raw, mode="r"))
    return raw


class _Compressing:
    """Writes through a compressor into ``inner``; ``close`` ends the compressed stream and
    closes ``inner`` too (the compressor alone would leave it open)."""

    def __init__(self, outer: BinaryIO, inner: BinaryIO) -> None:
        self.outer, self.inner = outer, inner

    def write(self, data: bytes) -> int:
        """Compress ``data``."""
        return self.outer.write(data)

    def flush(self) -> None:
        """Hand what the compressor holds to ``inner`` and flush it."""
        self.outer.flush()
        self.inner.flush()

    def close(self) -> None:
        """End the compressed stream, then close ``inner``."""
        try:
            self.outer.close()
        finally:
            self.inner.close()


def compressing(path: str, raw: BinaryIO) -> BinaryIO:
    """A stream that compresses into ``raw`` as ``path``'s suffix says (``raw`` when none)."""
    suffix = compression_of(path)
    outer: object
    if suffix == ".gz":
        outer = gzip.GzipFile(
            filename="", fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0
        )
    elif suffix == ".zst":
        outer = zstd.ZstdFile(raw, mode="w", level=ZSTD_LEVEL)
    else:
        return raw
    return cast(BinaryIO, _Compressing(cast(BinaryIO, outer), raw))
