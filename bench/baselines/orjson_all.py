"""Baseline: orjson, whole files in memory.

Loads both arrays with ``orjson.loads``, builds the interleaved, tagged list like
bench/seed_pandas.py, and dumps it in one call with ``OPT_INDENT_2``: bytes identical to
``json.dump(indent=2, ensure_ascii=False)``.
Usage: python bench/baselines/orjson_all.py EN.json JA.json N OUT.json
"""

import sys
from pathlib import Path

import orjson
from stdlib_json import interleave


def main(argv: list[str]) -> int:
    """Run the baseline: EN JA N OUT."""
    en_path, ja_path, limit, out_path = argv[0], argv[1], int(argv[2]), argv[3]
    en = orjson.loads(Path(en_path).read_bytes())
    ja = orjson.loads(Path(ja_path).read_bytes())
    Path(out_path).write_bytes(orjson.dumps(interleave(en, ja, limit), option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
