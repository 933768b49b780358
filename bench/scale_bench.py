"""Range-parallel ``convert stream`` against the single process, on a generated corpus: JSON
arrays in, pretty JSON out (``--form array``, the issue's target shape), or JSON Lines in and
out (``--form jsonl``, the default).

Cases: the single process (no range flags), ``--jobs 1`` and ``--jobs 2`` (local engine, the
default K). Each run is its own process. The timed runs (``--runs``) measure wall time
(perf_counter) and CPU (user + sys of the run and its reaped children, ``os.wait4``) and
nothing else. One more run of each case samples memory every 50 ms from /proc over the run's
process tree: the sum of every process's peak RSS (VmHWM; it counts the pages processes share,
such as the interpreter's, once per process) and the peak of the summed PSS (smaps_rollup: a
shared page split between its sharers, so the tree's real footprint), with each process's peaks
by role (parent, worker, multiprocessing's resource tracker). Reading smaps walks a process's
page tables: on two cores a sampler beside two workers took a share of their CPU, so it is
kept out of the timed runs. Planning, per-range and merge seconds come from the report's
``parallel`` section (the timed runs' last). Every parallel output is checked byte-identical to
the single run's. Prints a markdown table.

usage: .venv/bin/python bench/scale_bench.py [--pairs 100000] [--runs 1] [--jobs 1,2]
       [--form jsonl|array]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
SEED = 1234
#: The figures of the timed runs taken as the median over runs.
TIMES = ("wall", "cpu")


#: Per corpus form: the files' suffix and the output written.
FORMS = {"jsonl": ("jsonl", "out.jsonl"), "array": ("json", "out.json")}


def corpus(pairs: int, form: str) -> Path:
    """The generated EN/JA corpus of ``pairs`` pairs in ``form`` (made once, then reused)."""
    folder = DATA_DIR / f"{form}-{pairs}-s{SEED}"
    if not (folder / "corpus.meta.json").exists():
        options = ["--pairs", str(pairs), "--seed", str(SEED), "--out", str(folder)]
        generate = [sys.executable, BENCH_DIR / "gen_corpus.py", *options, "--form", form]
        subprocess.run([*generate, "--quiet"], check=True)
    for path in folder.glob(f"corpus.*.{FORMS[form][0]}"):  # into the page cache before timing
        path.read_bytes()
    return folder


def _tree(root: int) -> list[int]:
    """``root`` and its descendants now alive."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _kib(path: str, field: str) -> int | None:
    """The value (kiB) of the line ``field`` of a /proc file, None once the process is gone."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _role(pid: int, root: int) -> str:
    """What a process of the run is: the run itself, multiprocessing's resource tracker, or a
    worker."""
    if pid == root:
        return "parent"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            line = f.read()
    except OSError:
        return "worker"
    return "resource tracker" if b"resource_tracker" in line else "worker"


def timed(command: list[str]) -> dict[str, float]:
    """Run ``command``; its wall and CPU seconds (its own and its reaped children's)."""
    began = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"failed: {' '.join(command)}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime}


def measure(command: list[str]) -> dict[str, Any]:
    """Run ``command`` sampling its process tree: the summed peak RSS (MiB) of its tree (the
    sum of every process's VmHWM) and the peak of its summed PSS (MiB; pages shared between
    processes counted once, sampled from smaps_rollup), and each process's role and peaks."""
    peaks: dict[int, int] = {}
    pss: dict[int, int] = {}
    roles: dict[int, str] = {}
    tops = {"pss": 0}
    process = subprocess.Popen(command)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            total = 0
            for pid in _tree(process.pid):
                peak = _kib(f"/proc/{pid}/status", "VmHWM:")
                now = _kib(f"/proc/{pid}/smaps_rollup", "Pss:")
                if peak is None or now is None:
                    continue
                roles.setdefault(pid, _role(pid, process.pid))
                peaks[pid] = max(peaks.get(pid, 0), peak)
                pss[pid] = max(pss.get(pid, 0), now)
                total += now
            tops["pss"] = max(tops["pss"], total)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    watcher.join()
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"failed: {' '.join(command)}")
    if not peaks:  # too short to sample: its own peak (wait4 gives the largest in the tree)
        peaks[process.pid] = usage.ru_maxrss
    by_role: dict[str, list[str]] = {}
    for pid, role in roles.items():
        by_role.setdefault(role, []).append(f"{peaks[pid] / 1024:.0f}/{pss[pid] / 1024:.0f}")
    return {
        "memory": sum(peaks.values()) / 1024,
        "pss": tops["pss"] / 1024,
        "processes": len(peaks),
        "roles": by_role,
    }


def main() -> None:
    """Run the cases and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--jobs", default="1,2", help="comma list of --jobs values")
    parser.add_argument("--form", choices=sorted(FORMS), default="jsonl", help="corpus form")
    args = parser.parse_args()
    folder = corpus(args.pairs, args.form)
    suffix, output = FORMS[args.form]
    out = BENCH_DIR / "out" / "scale"
    out.mkdir(parents=True, exist_ok=True)
    convert = [sys.executable, "-m", "converter", "stream", "-q"]
    sources = [f"{lang}={folder / f'corpus.{lang}.{suffix}'}" for lang in ("en", "ja")]
    cases = [("single process", [])] + [
        (f"--jobs {n}", ["--jobs", n]) for n in args.jobs.split(",")
    ]
    rows = []
    reference = None
    for name, flags in cases:
        runs, parallel = [], {}
        target, report = out / output, out / "report.json"
        command = [*convert, *sources, "-o", str(target), "--report", str(report), *flags]
        for _ in range(args.runs):
            runs.append(timed(command))
            parallel = json.loads(report.read_text()).get("parallel") or {}
            data = target.read_bytes()
            reference = reference or data
            if data != reference:
                raise SystemExit(f"{name}: output differs from the single process's")
            del data
        memory = measure(command)
        medians = {k: statistics.median(r[k] for r in runs) for k in TIMES}
        rows.append((name, {**medians, **memory}, parallel))
    base = rows[0][1]["wall"]
    size = sum(p.stat().st_size for p in folder.glob(f"corpus.*.{suffix}")) / 1e6
    shape = "JSON arrays in, pretty JSON out" if args.form == "array" else "JSON Lines in and out"
    print(f"{args.pairs:,} EN/JA pairs, {size:.0f} MB of input; {shape}; {os.cpu_count()} CPUs")
    print()
    print(
        "| case | wall s | CPU s | input MB/s | speed-up | summed peak RSS MiB (processes) "
        "| peak summed PSS MiB | ranges x K | plan s | per-range s (median, max) | merge s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, m, p in rows:
        ranges = p.get("range_seconds") or []
        per_range = f"{statistics.median(ranges):.2f}, {max(ranges):.2f}" if ranges else "-"
        shape = f"{p['ranges']} x {p['range_records']:,}" if p else "-"
        print(
            f"| {name} | {m['wall']:.2f} | {m['cpu']:.2f} | {size / m['wall']:.1f} "
            f"| {base / m['wall']:.2f}x "
            f"| {m['memory']:.0f} ({m['processes']:.0f}) | {m['pss']:.0f} | {shape} "
            f"| {p.get('plan_seconds', '-')} | {per_range} | {p.get('merge_seconds', '-')} |"
        )
    print()
    print("Peak RSS / peak PSS per process, MiB (the memory run):")
    for name, m, _ in rows:
        roles = "; ".join(f"{role} {', '.join(v)}" for role, v in sorted(m["roles"].items()))
        print(f"- {name}: {roles}")


if __name__ == "__main__":
    main()
