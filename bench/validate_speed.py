"""`convert validate` speed and memory: records/s and peak RSS on converter output, JSON array
and JSON Lines, at several sizes (flat memory: compare the largest with the smallest), beside a
check-jsonschema-like baseline (json.load of the whole file, then jsonschema per record).

The files validated are `convert stream` output (checks off) of the generated corpora of
bench/gen_corpus.py, written once into bench/data/validate-<pairs>-s<seed>/ and reused. Each
case runs as its own process, measured with ``os.wait4`` as in run_bench.py; the figure is the
median of ``--runs`` runs. records/s = records checked / wall seconds of the whole process.

usage: .venv/bin/python bench/validate_speed.py [--sizes 10000,1000000] [--runs 3]
       [--baseline-max 100000] [--markdown]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from run_bench import (
    BENCH_DIR,
    Measure,
    RunFailed,
    convert_command,
    ensure_corpus,
    log,
    run_once,
    warm_page_cache,
)

#: The baseline: what check-jsonschema does (whole document in memory, jsonschema per record).
BASELINE = """
import json, sys
import jsonschema
from converter.validation import schema_path
schema = json.loads(schema_path("record").read_bytes())
validator = jsonschema.Draft202012Validator(schema)
with open(sys.argv[1], "rb") as f:
    records = json.load(f)
bad = sum(1 for r in records if next(validator.iter_errors(r), None) is not None)
print(len(records), bad)
"""


def fixtures(pairs: int, args: argparse.Namespace, conv: list[str]) -> dict[str, Path]:
    """Converter output of ``pairs`` pairs as a JSON array and as JSON Lines (made once)."""
    corpus = ensure_corpus(args.data_dir, "array", pairs, args.seed, False)
    folder = args.data_dir / f"validate-{pairs}-s{args.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for ext in ("json", "jsonl"):
        out = folder / f"out.{ext}"
        if not out.exists():
            log(f"writing {out} with convert stream")
            part = folder / f"part.{ext}"
            argv = [*conv, "stream", f"en={corpus.en}", f"ja={corpus.ja}", "-o", str(part)]
            run_once([*argv, "--check", "all=off", "--quiet"], folder / "prepare", args.timeout)
            part.rename(out)
        made[ext] = out
    warm_page_cache(list(made.values()))
    return made


def measure(argv: list[str], log_prefix: Path, args: argparse.Namespace) -> Measure | str:
    """The median run of ``argv`` (``--runs`` times), or why it failed."""
    runs = []
    for _ in range(args.runs):
        try:
            runs.append(run_once(argv, log_prefix, args.timeout))
        except RunFailed as exc:
            return str(exc)
    return Measure(
        statistics.median(m.wall for m in runs),
        statistics.median(m.cpu for m in runs),
        statistics.median(m.rss_mib for m in runs),
    )


def main(argv: list[str] | None = None) -> int:
    """Run every case at every size and print one table; exit 1 if a case failed."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,1000000", help="pairs per corpus, comma list")
    p.add_argument("--runs", type=int, default=3, help="timed runs per case (median shown)")
    p.add_argument("--baseline-max", type=int, default=100_000, help="largest baseline size")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data")
    p.add_argument("--convert", help="converter command (default: the venv's bin/convert)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    p.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = p.parse_args(argv)
    conv = convert_command(args.convert)
    logs = args.data_dir / "validate-logs"
    logs.mkdir(parents=True, exist_ok=True)
    rows, peaks, failed = [], {}, False
    for pairs in (int(s) for s in args.sizes.split(",")):
        files = fixtures(pairs, args, conv)
        cases = [(f"validate_{ext}", [*conv, "validate", str(path)]) for ext, path in files.items()]
        if pairs <= args.baseline_max:
            cases.append(("jsonschema_whole", [sys.executable, "-c", BASELINE, str(files["json"])]))
        for name, case_argv in cases:
            log(f"{name}, {pairs} pairs")
            m = measure(case_argv, logs / f"{name}-{pairs}", args)
            if isinstance(m, str):
                failed = True
                rows.append([name, f"{pairs:,}", "failed", m.splitlines()[0], "", "", ""])
                continue
            records = 2 * pairs
            peaks.setdefault(name, []).append(m.rss_mib)
            rows.append(
                [
                    name,
                    f"{records:,}",
                    f"{m.wall:.2f}",
                    f"{m.cpu:.2f}",
                    f"{records / m.wall:,.0f}",
                    f"{records / m.cpu:,.0f}",
                    f"{m.rss_mib:.0f}",
                ]
            )
    header = ["case", "records", "wall s", "cpu s", "records/s", "records/cpu-s", "peak RSS MiB"]
    print(table([header, *rows], args.markdown))
    flat = [f"{n} {v[-1] / v[0]:.2f}x ({v[0]:.0f} -> {v[-1]:.0f} MiB)" for n, v in peaks.items()]
    print("\npeak RSS, largest / smallest size: " + "; ".join(flat))
    return 1 if failed else 0


def table(rows: list[list[str]], markdown: bool) -> str:
    """Rows as a markdown table or as aligned text."""
    if markdown:
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join([lines[0], "|" + "---|" * len(rows[0]), *lines[1:]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


if __name__ == "__main__":
    sys.exit(main())
