"""Fuzz the readers with atheris (libFuzzer) for a bounded time: bytes -> open_input ->
read_items -> to_records.

Every input must end in items (some possibly rejected, with a reason) or in a ConverterError
with a one-line message naming the source; any other exception, a hang (per-input timeout) or
a blown memory limit is a finding, saved by libFuzzer as ``crash-*``/``timeout-*`` in the
current folder. The first byte of each input picks the variant: plain or ``.gz`` file, and
whether ``--items-path`` is given. Not run in CI.

usage: .venv/bin/pip install atheris
       .venv/bin/python bench/fuzz_readers.py SECONDS [--corpus DIR] [-- LIBFUZZER FLAGS]

The corpus folder (default bench/out/fuzz-corpus) is seeded with JSONTestSuite and slices of
the real datasets, and grows with what the fuzzer finds.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from converter.builtin.formats import ALPACA, DOLLY, DOLLY_JA, SEED_TASKS
    from converter.errors import ConverterError
    from converter.inputs import open_input
    from converter.model import Rejected
    from converter.readers import read_items
    from converter.records import to_records

BENCH_DIR = Path(__file__).resolve().parent
SHARED = BENCH_DIR.parent.parent / "shared" / "data"
FORMATS = {fmt.name: fmt for fmt in (SEED_TASKS, DOLLY, DOLLY_JA, ALPACA)}
ITEMS_PATHS = (None, None, "data.item", "item", "")
SLICE = 4096


class Fuzz:
    """The fuzz target, counting runs and stopping itself after ``seconds``."""

    def __init__(self, folder: Path, seconds: float) -> None:
        self.folder = folder
        self.deadline = time.monotonic() + seconds
        self.started = time.monotonic()
        self.runs = 0
        self.fatal = 0
        self.rejected = 0

    def __call__(self, data: bytes) -> None:
        self.runs += 1
        if time.monotonic() > self.deadline:
            self.finish()
        if not data:
            return
        variant, body = data[0], data[1:]
        gz = variant & 1
        path = self.folder / ("input.json.gz" if gz else "input.json")
        path.write_bytes(gzip.compress(body, mtime=0) if gz and variant & 2 else body)
        items_path = ITEMS_PATHS[(variant >> 2) % len(ITEMS_PATHS)]
        label = f"en={path.name}"
        try:
            source = open_input(label, str(path))
            try:
                items = read_items(source, items_path)
                for record in to_records("en", items, None, FORMATS, lambda name: None):
                    self.rejected += isinstance(record, Rejected)
            finally:
                source.close()
        except ConverterError as exc:
            self.fatal += 1
            message = str(exc)
            if not message.startswith(label) or "\n" in message:
                raise AssertionError(f"bad error message: {message!r}") from exc

    def finish(self) -> None:
        """Print the figures and leave at once (libFuzzer keeps the process otherwise)."""
        seconds = time.monotonic() - self.started
        print(
            f"fuzz_readers: {self.runs:,} inputs in {seconds:,.0f} s "
            f"({self.runs / max(seconds, 1e-9):,.0f}/s), no findings; "
            f"{self.fatal:,} fatal errors, {self.rejected:,} rejected records",
            flush=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)
        os._exit(0)


def seed(corpus: Path) -> None:
    """Fill an empty corpus with JSONTestSuite and the first bytes of each real dataset."""
    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    suite = SHARED / "jsontestsuite" / "test_parsing"
    for path in sorted(suite.glob("*.json")) if suite.is_dir() else []:
        (corpus / path.name).write_bytes(b"\x00" + path.read_bytes())
    for path in sorted(SHARED.glob("*/*.json*")) + sorted(SHARED.glob("*/*/*.jsonl")):
        head = path.read_bytes()[:SLICE]
        (corpus / f"real-{path.name}").write_bytes(b"\x00" + head)
        (corpus / f"real-gz-{path.name}").write_bytes(b"\x03" + head)


def main() -> None:
    """Parse the arguments, seed the corpus and fuzz until the time is up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seconds", type=float, help="how long to fuzz")
    parser.add_argument("--corpus", type=Path, default=BENCH_DIR / "out" / "fuzz-corpus")
    args, libfuzzer = parser.parse_known_args()
    seed(args.corpus)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None  # a file per input: keep it in RAM
    folder = Path(tempfile.mkdtemp(prefix="fuzz-readers-", dir=shm))
    target = Fuzz(folder, args.seconds)
    flags = [f"-max_total_time={int(args.seconds) + 5}", "-timeout=10", "-rss_limit_mb=2048"]
    try:
        atheris.Setup([sys.argv[0], *flags, *libfuzzer, str(args.corpus)], target)
        atheris.Fuzz()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
