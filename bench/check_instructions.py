"""Where the pair checks' cost goes, in instructions: callgrind counts one run with all checks on
and one with all off, and this prints the difference per group and per function.

Instruction counts do not depend on what else the machine is doing (timings here vary by ~10%),
so a change to the checks can be judged on a busy machine too.

Usage: .venv/bin/python bench/check_instructions.py [CORPUS_DIR] [--top N]
(default bench/data/array-10000-s1234, made by bench/run_bench.py or bench/gen_corpus.py; needs
valgrind; takes about a minute for 10,000 pairs).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

#: One run of the corpus, checks on or off, inside the measured process.
RUN = """
import sys
from converter.pipeline import StreamJob, run_stream
corpus, checks = sys.argv[1], {} if sys.argv[2] == "on" else {"all": "off"}
sources = [("en", f"{corpus}/corpus.en.json"), ("ja", f"{corpus}/corpus.ja.json")]
run_stream(StreamJob(sources=sources, output="/dev/null", format="jsonl", checks=checks))
"""
_LINE = re.compile(r"\s*([\d,]+) \([^)]*\)\s+(.*)")


def instructions(corpus: str, checks: str, folder: Path) -> Counter[str]:
    """Instructions per function (self cost) of one run under callgrind."""
    out = folder / f"callgrind.{checks}"
    script = folder / "run.py"
    script.write_text(RUN)
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    cmd += [sys.executable, str(script), corpus, checks]
    subprocess.run(cmd, check=True, capture_output=True)
    annotate = ["callgrind_annotate", "--threshold=100", str(out)]
    report = subprocess.run(annotate, check=True, capture_output=True, text=True).stdout
    counts: Counter[str] = Counter()
    for line in report.splitlines():
        found = _LINE.match(line)
        if found and "PROGRAM TOTALS" not in line:
            function = found.group(2).split(" [")[0].rsplit(":", 1)[-1]
            counts[function] += int(found.group(1).replace(",", ""))
    return counts


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="bench/data/array-10000-s1234")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    args = parser.parse_args()
    pairs = json.loads(Path(args.corpus, "corpus.meta.json").read_text())["pairs"]
    with tempfile.TemporaryDirectory() as tmp:
        on, off = (instructions(args.corpus, mode, Path(tmp)) for mode in ("on", "off"))
    total_on, total_off = sum(on.values()), sum(off.values())
    print(f"{pairs} pairs: checks on {total_on:,} instructions, off {total_off:,}")
    print(f"the checks: {(total_on - total_off) / pairs / 1000:.1f}k instructions a group")
    extra = {name: on[name] - off.get(name, 0) for name in on}
    for name, count in sorted(extra.items(), key=lambda item: -item[1])[: args.top]:
        print(f"  {count / pairs / 1000:6.2f}k  {name[:100]}")


if __name__ == "__main__":
    main()
