"""Baseline: orjson, whole files in memory.

Loads both arrays with ``orjson.loads``, builds the interleaved, tagged list like
bench/seed_pandas.py, and writes bytes identical to ``json.dump(indent=2, ensure_ascii=False)``:
each record is dumped with ``OPT_INDENT_2`` and re-indented by two spaces inside ``[\\n  ...\\n]``.
Usage: python bench/baselines/orjson_all.py EN.json JA.json N OUT.json
"""

import sys
from pathlib import Path

import orjson
from stdlib_json import interleave


def dump_pretty(records: list[dict]) -> bytes:
    """Encode like ``json.dumps(records, indent=2, ensure_ascii=False)``, as UTF-8 bytes."""
    if not records:
        return b"[]"
    parts = [orjson.dumps(r, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ") for r in records]
    return b"[\n  " + b",\n  ".join(parts) + b"\n]"


def main(argv: list[str]) -> int:
    """Run the baseline: EN JA N OUT."""
    en_path, ja_path, limit, out_path = argv[0], argv[1], int(argv[2]), argv[3]
    en = orjson.loads(Path(en_path).read_bytes())
    ja = orjson.loads(Path(ja_path).read_bytes())
    Path(out_path).write_bytes(dump_pretty(interleave(en, ja, limit)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
