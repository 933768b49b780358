"""Baseline: stdlib ``json`` only, whole files in memory (the seed script without pandas).

Loads both arrays with ``json.load``, builds the interleaved, tagged list exactly like
bench/seed_pandas.py and writes it with ``json.dump(indent=2, ensure_ascii=False)``.
Usage: python bench/baselines/stdlib_json.py EN.json JA.json N OUT.json
"""

import json
import sys

LANGS = (("EN", "English"), ("JA", "Japanese"))


def interleave(en: list[dict], ja: list[dict], limit: int) -> list[dict]:
    """Return the tagged records ``0EN, 0JA, 1EN, 1JA, ...`` for the first ``limit`` pairs."""
    records = []
    for i in range(min(limit, len(en), len(ja))):
        for rec, (suffix, name) in zip((en[i], ja[i]), LANGS):
            records.append(
                {
                    "seq": f"{i}{suffix}",
                    "reasoning": f"AI assistant should reply in {name} language.",
                    "instruction": rec["instruction"],
                    "input": rec["input"],
                    "output": rec["output"],
                }
            )
    return records


def main(argv: list[str]) -> int:
    """Run the baseline: EN JA N OUT."""
    en_path, ja_path, limit, out_path = argv[0], argv[1], int(argv[2]), argv[3]
    with open(en_path, encoding="utf-8") as f:
        en = json.load(f)
    with open(ja_path, encoding="utf-8") as f:
        ja = json.load(f)
    records = interleave(en, ja, limit)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(records, f, ensure_ascii=False, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
