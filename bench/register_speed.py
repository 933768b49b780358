"""Print the register tagger's throughput on real Dolly JA outputs and its labelled-set accuracy.

Throughput: ``register_of`` over every ``output`` of databricks-dolly-15k-ja (15,015 texts,
read before timing), repeated for at least one second; one core, the best of three rounds.
Accuracy: tests/data/ja_register.tsv (hand-labelled). Also prints the label counts on Dolly JA.
Usage: .venv/bin/python bench/register_speed.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from ja_register import labelled

from converter.builtin.register import register_of

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DOLLY_JA = SHARED / "dolly-en-ja" / "ja-full" / "databricks-dolly-15k-ja.jsonl"
ROUNDS = 3
MIN_SECONDS = 1.0


def texts_per_second(texts: list[str]) -> float:
    """The best of ROUNDS rounds, each running over ``texts`` until MIN_SECONDS have passed."""
    best = 0.0
    for _ in range(ROUNDS):
        done, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < MIN_SECONDS:
            for text in texts:
                register_of(text)
            done += len(texts)
        best = max(best, done / elapsed)
    return best


def main() -> None:
    """Print throughput, accuracy and the label counts."""
    with DOLLY_JA.open("rb") as f:
        outputs = [orjson.loads(line)["output"] for line in f]
    mean = sum(map(len, outputs)) / len(outputs)
    rate = texts_per_second(outputs)
    rows = labelled()
    right = sum(register_of(text) == label for label, text in rows)
    counts = Counter(map(register_of, outputs))
    print(f"throughput: {rate:,.0f} texts/s ({len(outputs):,} Dolly JA outputs, {mean:.0f} chars)")
    print(f"accuracy: {right}/{len(rows)} = {right / len(rows):.1%} (tests/data/ja_register.tsv)")
    print("Dolly JA labels: " + ", ".join(f"{k} {n:,}" for k, n in counts.most_common()))


if __name__ == "__main__":
    main()
