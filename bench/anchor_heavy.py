"""How the pair checks scale with records full of numbers: the same bytes of EN/JA tables cut
into records of more and more rows (each row three numbers, most of them unique), checks on and
off, one process. The checks must cost time linear in the input, whatever a record's size.

Usage: python bench/anchor_heavy.py [--mb 60] [--rows 20,200,2000,20000] [--out-dir bench/out]
Prints one line per record size: wall seconds checks on / off and their ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path


def write_tables(folder: Path, rows: int, total_mb: float) -> int:
    """EN/JA JSON Lines of tables of ``rows`` rows (the JA one with 年 after each year), about
    ``total_mb`` MB together; return the records written."""
    rnd = random.Random(rows)
    records = 0
    size = 0
    with open(folder / "en.jsonl", "w") as en, open(folder / "ja.jsonl", "w") as ja:
        while size < total_mb * 1e6:
            values = [
                (2000 + r % 25, rnd.randrange(10**5, 10**7), rnd.randrange(10**4))
                for r in range(rows)
            ]
            en_rows = "\n".join(f"| {y} | {a} | {b / 100:.2f} |" for y, a, b in values)
            ja_rows = "\n".join(f"| {y}年 | {a} | {b / 100:.2f} |" for y, a, b in values)
            pair = (
                {
                    "instruction": f"Summarise table {records}.",
                    "input": en_rows,
                    "output": f"{rows} rows.",
                },
                {
                    "instruction": f"表{records}を要約して。",
                    "input": ja_rows,
                    "output": f"{rows}行。",
                },
            )
            for stream, record in zip((en, ja), pair):
                line = json.dumps(record, ensure_ascii=False) + "\n"
                stream.write(line)
                size += len(line.encode())
            records += 1
    return records


def timed(args: list[str]) -> float:
    """Wall seconds of ``python -m converter ARGS`` (which must succeed)."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "converter", *args], check=True)
    return time.perf_counter() - began


def main() -> int:
    """Write each corpus, time it checks on and off, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=60.0, help="MB of input per record size")
    parser.add_argument(
        "--rows", default="20,200,2000,20000", help="rows per record, comma-separated"
    )
    parser.add_argument("--out-dir", default="bench/out", help="where corpora and outputs go")
    options = parser.parse_args()
    folder = Path(options.out_dir) / "anchor_heavy"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'rows/record':>12} {'records':>8} {'checks on s':>12} {'off s':>8} {'on/off':>7}")
    for rows in map(int, options.rows.split(",")):
        records = write_tables(folder, rows, options.mb)
        sources = [f"en={folder / 'en.jsonl'}", f"ja={folder / 'ja.jsonl'}", "-q"]
        out = ["-o", str(folder / "out.jsonl")]
        on = timed(["stream", *sources, *out])
        off = timed(["stream", *sources, *out, "--check", "all=off"])
        print(f"{rows:>12,} {records:>8,} {on:>12.2f} {off:>8.2f} {on / off:>6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
