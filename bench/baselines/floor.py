"""Reference, not a competitor: the least work any streaming converter of this job must do.

It reads both arrays with converter's own streaming reader, builds each tagged row, validates it
with the compiled validator of ``schemas/`` and writes it as the json writer does (orjson, pretty,
batched), with no pair checks, no records, no plugins, no report, no rejects and no test that the
sources end together. Validating each row against the schema stays: the job as specified
validates every output record. Its time is a floor under `convert stream` in one process: what
the pipeline adds (plugins, pair checks, reconciliation) is the difference. Output identical to
``json.dump(indent=2, ensure_ascii=False)``.
Usage: python bench/baselines/floor.py EN.json JA.json N OUT.json
"""

import sys
from collections.abc import Iterator
from itertools import islice
from typing import Any

import orjson

from converter.inputs import open_input
from converter.readers import Batch, read_batches
from converter.validation import validator_for

LANGS = (("EN", "English"), ("JA", "Japanese"))
BATCH = 512


def values(label: str, path: str) -> Iterator[Any]:
    """The records of one JSON array, streamed: batches, or single items where the reader
    fell back to its event reader."""
    for part in read_batches(open_input(label, path)):
        if isinstance(part, Batch):
            yield from part.values
        elif part.error is None:
            yield part.value
        else:
            raise SystemExit(f"{path}: {part.error}")


def encoded(en: Iterator[Any], ja: Iterator[Any], limit: int) -> Iterator[bytes]:
    """Each tagged, validated, pretty-encoded record of the first ``limit`` pairs."""
    is_valid = validator_for("record").fast.is_valid
    for i, pair in enumerate(islice(zip(en, ja), limit)):
        for rec, (suffix, name) in zip(pair, LANGS):
            row = {
                "seq": f"{i}{suffix}",
                "reasoning": f"AI assistant should reply in {name} language.",
                "instruction": rec["instruction"],
                "input": rec["input"],
                "output": rec["output"],
            }
            if not is_valid(row):
                raise SystemExit(f"record {i}{suffix} does not match the schema")
            yield orjson.dumps([row], option=orjson.OPT_INDENT_2)[4:-2]


def main(argv: list[str]) -> int:
    """Run the floor: EN JA N OUT."""
    en_path, ja_path, limit, out_path = argv[0], argv[1], int(argv[2]), argv[3]
    chunks = encoded(values("en", en_path), values("ja", ja_path), limit)
    with open(out_path, "wb") as out:
        lead = b"[\n  "
        while batch := list(islice(chunks, BATCH)):
            out.write(lead + b",\n  ".join(batch))
            lead = b",\n  "
        out.write(b"[]" if lead == b"[\n  " else b"\n]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
