"""CPU cost of each pair check: one run with all checks off, all on, and each check alone.

Usage: .venv/bin/python bench/check_costs.py [CORPUS_DIR]  (default bench/data/array-10000-s1234,
made by bench/run_bench.py or bench/gen_corpus.py). Prints CPU seconds (best of 3, in-process).
"""

import sys
import time

from converter.builtin.checks import BUILTIN_CHECKS
from converter.pipeline import StreamJob, run_stream

CHECKS = tuple(check.name for check in BUILTIN_CHECKS)


def cpu_seconds(corpus: str, checks: dict[str, str]) -> float:
    """Best of three runs' CPU time for the pair in ``corpus`` with these check policies."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        sources = [("en", f"{corpus}/corpus.en.json"), ("ja", f"{corpus}/corpus.ja.json")]
        run_stream(StreamJob(sources=sources, output="/dev/null", format="jsonl", checks=checks))
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    """Print the table."""
    corpus = sys.argv[1] if len(sys.argv) > 1 else "bench/data/array-10000-s1234"
    off = cpu_seconds(corpus, {"all": "off"})
    on = cpu_seconds(corpus, {})
    print(f"all checks off: {off:.3f} s CPU")
    print(f"all checks on:  {on:.3f} s CPU ({on / off:.2f}x)")
    for check in CHECKS:
        alone = cpu_seconds(corpus, {"all": "off", check: "warn"})
        print(f"  {check:13} alone adds {alone - off:+.3f} s")


if __name__ == "__main__":
    main()
