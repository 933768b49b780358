"""Benchmark runner: converter cases and whole-file baselines on generated EN/JA corpora.

Each case runs as its own process; wall time (perf_counter), CPU (user+sys) and peak RSS
(ru_maxrss) come from ``os.wait4`` on that process. The figure shown is the median of
``--runs`` runs, made in rounds (every case once a round). For ``stream_json_jobs2`` (range
mode on both cores) CPU counts its worker processes (reaped by it) and peak RSS is its largest
process's; bench/scale_bench.py sums memory over the processes. Corpora are generated once into
bench/data (reused when their metadata matches) and read once before timing, so they come from
the page cache.

usage: .venv/bin/python bench/run_bench.py [--sizes 10000,100000] [--runs 3] [--cases a,b]
       [--markdown]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

# Extra `convert stream` flags for the "checks off" case.
CHECKS_OFF_FLAGS: list[str] = ["--check", "all=off"]
# Flags added to every `convert stream` / `convert validate` command.
STREAM_FLAGS: list[str] = ["--quiet"]
VALIDATE_FLAGS: list[str] = []
# The pandas seed script is only run up to this size (it is slow and memory-hungry).
PANDAS_MAX_PAIRS = 100_000
# Cases whose output must be byte-identical to json.dump(indent=2, ensure_ascii=False).
PRETTY_JSON_CASES = (
    "stdlib_json",
    "orjson_all",
    "floor",
    "seed_pandas",
    "stream_json",
    "stream_json_python_kernels",
    "stream_json_checks_off",
    "stream_json_jobs2",
)
# Extra `convert stream` flags for the both-cores case (range mode, the local engine).
JOBS2_FLAGS: list[str] = ["--jobs", "2"]
# Cases writing another format: name -> (--format, output suffix).
WRITER_CASES = {
    "stream_template": ("template", "jsonl"),
    "stream_template_text": ("template-text", "txt"),
    "stream_prompt_completion": ("prompt-completion", "jsonl"),
    "stream_sharegpt": ("sharegpt", "jsonl"),
    "stream_messages": ("messages", "jsonl"),
    "stream_alpaca": ("alpaca", "jsonl"),
    "stream_parquet": ("parquet", "parquet"),
    "stream_jsonl_gz": ("jsonl", "jsonl.gz"),
    "stream_jsonl_zst": ("jsonl", "jsonl.zst"),
}
ALL_CASES = (
    "stdlib_json",
    "orjson_all",
    "floor",
    "seed_pandas",
    "stream_json",
    "stream_json_python_kernels",
    "stream_jsonl",
    "stream_jsonl_in",
    "stream_json_checks_off",
    "stream_json_jobs2",
    *WRITER_CASES,
    "validate_json",
    "validate_jsonl",
)
CONVERTER_CASES = tuple(c for c in ALL_CASES if c.startswith(("stream_", "validate_")))
STDERR_TAIL_LINES = 15


@dataclass
class Corpus:
    """A generated EN/JA corpus of one size and form."""

    pairs: int
    form: str
    en: Path
    ja: Path

    @property
    def input_bytes(self) -> int:
        """Size of both input files in bytes."""
        return self.en.stat().st_size + self.ja.stat().st_size


@dataclass
class Case:
    """One command to time: its name, size, argv and the figures used for throughput."""

    name: str
    pairs: int
    argv: list[str]
    input_bytes: int
    records: int
    output: Path | None = None
    prepare_error: str | None = None


@dataclass
class Measure:
    """Figures of one finished process."""

    wall: float
    cpu: float
    rss_mib: float


@dataclass
class Result:
    """All runs of one case, or the reason it failed."""

    case: Case
    runs: list[Measure] = field(default_factory=list)
    error: str | None = None
    output_md5: str | None = None

    def median(self, attr: str) -> float:
        """Median of one figure over the runs."""
        return statistics.median(getattr(m, attr) for m in self.runs)


class RunFailed(Exception):
    """A timed command exited non-zero, was killed, or could not start."""


# --------------------------------------------------------------------------- corpora


def corpus_dir(data_dir: Path, form: str, pairs: int, seed: int, ascii_: bool) -> Path:
    """Folder of the corpus of one form and size."""
    return data_dir / f"{form}{'-ascii' if ascii_ else ''}-{pairs}-s{seed}"


def corpus_is_complete(folder: Path, form: str, pairs: int, seed: int, ascii_: bool) -> bool:
    """True if ``folder`` holds a finished corpus generated with these parameters."""
    meta_path = folder / "corpus.meta.json"
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    wanted = {"pairs": pairs, "seed": seed, "form": form, "ensure_ascii": ascii_}
    if any(meta.get(k) != v for k, v in wanted.items()) or meta.get("langs")[:2] != ["en", "ja"]:
        return False
    if form == "array" and meta.get("indent") != 4:
        return False
    files = meta.get("files", {})
    return all(
        (folder / files[lang]["path"]).is_file()
        and (folder / files[lang]["path"]).stat().st_size == files[lang]["bytes"]
        for lang in ("en", "ja")
    )


def ensure_corpus(data_dir: Path, form: str, pairs: int, seed: int, ascii_: bool) -> Corpus:
    """Generate the corpus unless a complete one with the same parameters exists."""
    folder = corpus_dir(data_dir, form, pairs, seed, ascii_)
    if not corpus_is_complete(folder, form, pairs, seed, ascii_):
        log(f"generating {form} corpus, {pairs} pairs -> {folder}")
        cmd = [sys.executable, str(BENCH_DIR / "gen_corpus.py"), "--pairs", str(pairs)]
        cmd += ["--seed", str(seed), "--out", str(folder), "--form", form, "--langs", "en,ja"]
        cmd += ["--ensure-ascii"] if ascii_ else []
        subprocess.run(cmd, check=True)
    ext = "jsonl" if form == "jsonl" else "json"
    return Corpus(pairs, form, folder / f"corpus.en.{ext}", folder / f"corpus.ja.{ext}")


def warm_page_cache(paths: list[Path]) -> None:
    """Read each file once, in 1 MiB chunks, so timed runs read from the page cache."""
    for path in paths:
        with path.open("rb") as f:
            while f.read(1 << 20):
                pass


# --------------------------------------------------------------------------- cases


def convert_command(spec: str | None) -> list[str]:
    """The converter command: ``--convert`` if given, else the venv's ``convert`` script.

    Falls back to ``python -m converter``. Never the bare name ``convert`` (another program of
    that name is on PATH).
    """
    if spec:
        cmd = shlex.split(spec)
        return [shutil.which(cmd[0]) or cmd[0], *cmd[1:]]
    script = REPO_DIR / ".venv" / "bin" / "convert"
    return [str(script)] if script.exists() else [sys.executable, "-m", "converter"]


def build_case(
    name: str, corpora: dict[str, Corpus], run_dir: Path, fixtures: dict[str, Path], conv: list[str]
) -> Case | None:
    """Return the case ``name`` for one size (None if it does not apply there)."""
    arr = corpora["array"]
    pairs = arr.pairs
    records = 2 * pairs
    baseline = BENCH_DIR / "baselines" / f"{name}.py"
    if name == "seed_pandas":
        if pairs > PANDAS_MAX_PAIRS:
            return None
        baseline = BENCH_DIR / "seed_pandas.py"
    if name in ("stdlib_json", "orjson_all", "floor", "seed_pandas"):
        out = run_dir / "out.json"
        argv = [sys.executable, str(baseline), str(arr.en), str(arr.ja), str(pairs), str(out)]
        return Case(name, pairs, argv, arr.input_bytes, records, out)
    if name.startswith("stream_"):
        src = corpora["jsonl"] if name == "stream_jsonl_in" else arr
        ext = "jsonl" if name in ("stream_jsonl", "stream_jsonl_in") else "json"
        writer, ext = WRITER_CASES.get(name, ("", ext))
        out = run_dir / f"out.{ext}"
        extra = CHECKS_OFF_FLAGS if name == "stream_json_checks_off" else []
        extra = JOBS2_FLAGS if name == "stream_json_jobs2" else extra
        extra = [*extra, "-f", writer] if writer else extra
        argv = [*conv, "stream", f"en={src.en}", f"ja={src.ja}", "-o", str(out)]
        if name == "stream_json_python_kernels":  # the checks' Python code, not the compiled
            argv = ["/usr/bin/env", "CONVERTER_KERNELS=python", *argv]
        return Case(name, pairs, [*argv, *STREAM_FLAGS, *extra], src.input_bytes, records, out)
    if name.startswith("validate_"):
        fixture = fixtures[name.removeprefix("validate_")]
        size = fixture.stat().st_size if fixture.exists() else 0
        argv = [*conv, "validate", str(fixture), *VALIDATE_FLAGS]
        return Case(name, pairs, argv, size, records)
    raise ValueError(f"unknown case {name}")


def make_fixtures(corpus: Corpus, folder: Path, conv: list[str], timeout: float) -> str | None:
    """Write the converter's own out.json / out.jsonl (untimed) for the validate cases.

    Returns an error text if the converter failed, else None.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for ext in ("json", "jsonl"):
        out = folder / f"out.{ext}"
        argv = [*conv, "stream", f"en={corpus.en}", f"ja={corpus.ja}", "-o", str(out)]
        try:
            run_once([*argv, *STREAM_FLAGS], folder / f"prepare-{ext}", timeout)
        except RunFailed as exc:
            return f"could not make the validate input with `convert stream`:\n{exc}"
    return None


# --------------------------------------------------------------------------- running


def run_once(argv: list[str], log_prefix: Path, timeout: float) -> Measure:
    """Run ``argv`` once as a child process and measure it with ``os.wait4``.

    stdout/stderr go to ``<log_prefix>.stdout`` / ``.stderr``. Raises RunFailed with the
    stderr tail if the command cannot start, exits non-zero or is killed.
    """
    out_path, err_path = (
        log_prefix.with_name(f"{log_prefix.name}.{s}") for s in ("stdout", "stderr")
    )
    write = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(out_path), write, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, str(err_path), write, 0o644),
    ]
    start = time.perf_counter()
    try:
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    except OSError as exc:
        raise RunFailed(f"cannot start {argv[0]}: {exc}") from exc
    pidfd = os.pidfd_open(pid)  # signals through a pidfd cannot hit a recycled pid
    timer = threading.Timer(timeout, _kill, (pidfd,))
    timer.start()
    try:
        _, status, usage = os.wait4(pid, 0)
    finally:
        timer.cancel()
        timer.join()
        os.close(pidfd)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        reason = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        if code == -signal.SIGKILL and wall >= timeout:
            reason = f"timed out after {timeout:g} s"
        raise RunFailed(f"{reason}\n{tail(err_path)}")
    return Measure(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def _kill(pidfd: int) -> None:
    """Kill a timed-out child (ignore it if already gone)."""
    with contextlib.suppress(OSError):
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    """Last lines of a log file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def md5_of(path: Path) -> str:
    """MD5 hex digest of a file."""
    digest = hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def reset_dir(path: Path) -> None:
    """Delete and recreate a folder."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def run_cases(
    cases: list[Case], args: argparse.Namespace, run_dir: Path, log_dir: Path
) -> list[Result]:
    """Run every case ``--warmup`` + ``--runs`` times, round by round: each round runs every
    case once, so a change in the machine's speed while the table is made touches every case
    alike (a case's runs in a row would put it on one case). A clean output folder each time,
    and the page cache's dirty pages written out before each run (untimed)."""
    results = [Result(case) for case in cases]
    for result in results:
        result.error = result.case.prepare_error
    total = args.warmup + args.runs
    for i in range(total):
        label = "warm-up" if i < args.warmup else f"run {i - args.warmup + 1}/{args.runs}"
        for result in results:
            case = result.case
            if result.error:
                continue
            reset_dir(run_dir)
            os.sync()  # no earlier run's writes are flushed in this one's time
            try:
                m = run_once(case.argv, log_dir / f"{case.name}-{case.pairs}", args.timeout)
            except RunFailed as exc:
                result.error = str(exc)
                log(f"{case.name} {case.pairs}: {label} FAILED")
                continue
            log(f"{case.name} {case.pairs}: {label} {m.wall:.2f} s, {m.rss_mib:.0f} MiB")
            if i >= args.warmup:
                result.runs.append(m)
            if i == total - 1 and case.name in PRETTY_JSON_CASES and case.output:
                result.output_md5 = md5_of(case.output) if case.output.exists() else "missing"
    reset_dir(run_dir)
    return results


# --------------------------------------------------------------------------- reporting


HEADERS = (
    "case",
    "pairs",
    "wall s",
    "cpu s",
    "input MB/s",
    "records/s",
    "peak RSS MiB",
    "x stdlib",
)


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    """Format each result as one table row."""
    ref = {
        r.case.pairs: r.median("wall") for r in results if r.case.name == "stdlib_json" and r.runs
    }
    rows: list[tuple[str, ...]] = []
    for r in results:
        head = (r.case.name, f"{r.case.pairs:,}")
        if r.error or not r.runs:
            rows.append((*head, "FAILED", "", "", "", "", ""))
            continue
        wall, cpu, rss = r.median("wall"), r.median("cpu"), r.median("rss_mib")
        ratio = f"{wall / ref[r.case.pairs]:.2f}x" if r.case.pairs in ref else "-"
        rows.append(
            (
                *head,
                f"{wall:.2f}",
                f"{cpu:.2f}",
                f"{r.case.input_bytes / 1e6 / wall:.1f}",
                f"{r.case.records / wall:,.0f}",
                f"{rss:.0f}",
                ratio,
            )
        )
    return rows


def format_table(rows: list[tuple[str, ...]], markdown: bool) -> str:
    """Render rows as an aligned text table or a markdown table."""
    if markdown:
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(HEADERS)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*row).rstrip() for row in [HEADERS, *rows])


def flat_memory_line(results: list[Result]) -> str | None:
    """Peak RSS at the largest size / at the smallest, per converter case (two sizes or more)."""
    sizes = sorted({r.case.pairs for r in results})
    if len(sizes) < 2:
        return None
    rss = {(r.case.name, r.case.pairs): r.median("rss_mib") for r in results if r.runs}
    parts = []
    for name in CONVERTER_CASES:
        lo, hi = rss.get((name, sizes[0])), rss.get((name, sizes[-1]))
        if lo and hi:
            parts.append(f"{name} {hi / lo:.2f}x ({lo:.0f} -> {hi:.0f} MiB)")
    if not parts:
        return None
    return f"flat memory (peak RSS {sizes[-1]:,} / {sizes[0]:,} pairs): " + "; ".join(parts)


def parity_lines(results: list[Result]) -> list[str]:
    """Per size: whether the pretty-JSON outputs (baselines, stream_json) are byte-identical."""
    lines = []
    for pairs in sorted({r.case.pairs for r in results}):
        digests = {
            r.case.name: r.output_md5
            for r in results
            if r.case.pairs == pairs and r.output_md5 and not r.error
        }
        if len(digests) < 2:
            continue
        if len(set(digests.values())) == 1:
            md5 = next(iter(digests.values()))
            lines.append(f"parity {pairs:,}: identical output (md5 {md5}): {', '.join(digests)}")
        else:
            detail = ", ".join(f"{name} {md5}" for name, md5 in digests.items())
            lines.append(f"parity {pairs:,}: outputs DIFFER: {detail}")
    return lines


def failure_details(results: list[Result]) -> list[str]:
    """The stderr tail of every failed case."""
    out = []
    for r in results:
        if r.error:
            out.append(
                f"--- {r.case.name} ({r.case.pairs:,} pairs) FAILED: {shlex.join(r.case.argv)}"
            )
            out.append(r.error.rstrip())
    return out


def filesystem_of(path: Path) -> str:
    """File system type of the mount holding ``path`` (from /proc/mounts)."""
    best, fstype = "", "?"
    target = str(path.resolve())
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return fstype
    for line in mounts:
        fields = line.split()
        inside = len(fields) > 2 and (target + "/").startswith(fields[1].rstrip("/") + "/")
        if inside and len(fields[1]) >= len(best):
            best, fstype = fields[1], fields[2]
    return fstype


def machine_lines(out_dir: Path, conv: list[str]) -> list[str]:
    """Machine, versions and the exact command line, for the markdown report."""
    uname = platform.uname()
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for dist in ("orjson", "ijson", "pandas", "jsonschema-rs", "langpair-converter"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    return [
        f"- machine: `{uname.system} {uname.release} {uname.machine}`, {cpu}, "
        f"{os.cpu_count()} CPUs, {mem_total_gib():.0f} GiB RAM",
        f"- python {platform.python_version()}; {', '.join(versions)}",
        f"- converter command: `{shlex.join(conv)}`",
        f"- outputs written to `{out_dir}` ({filesystem_of(out_dir)})",
        f"- command: `{shlex.join(sys.orig_argv)}`",
    ]


def mem_total_gib() -> float:
    """Total RAM in GiB (0 if unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def log(message: str) -> None:
    """Progress message on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="pairs per corpus, comma list")
    p.add_argument("--runs", type=int, default=3, help="timed runs per case (median shown)")
    p.add_argument("--warmup", type=int, default=0, help="untimed runs before the timed ones")
    p.add_argument("--cases", default="", help=f"comma list among: {', '.join(ALL_CASES)}")
    p.add_argument("--markdown", action="store_true", help="print a markdown report")
    p.add_argument("--seed", type=int, default=1234, help="corpus seed")
    p.add_argument("--ensure-ascii", action="store_true", help="use \\uXXXX-escaped corpora")
    p.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data")
    p.add_argument("--out-dir", type=Path, default=BENCH_DIR / "out", help="deleted and reused")
    p.add_argument("--convert", help="converter command (default: the venv's bin/convert)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()] or list(ALL_CASES)
    unknown = sorted(set(args.cases) - set(ALL_CASES))
    if unknown:
        p.error(f"unknown case(s) {unknown}; known: {', '.join(ALL_CASES)}")
    if args.runs < 1 or args.warmup < 0 or not args.sizes or min(args.sizes) < 1:
        p.error("--runs must be >= 1, --warmup >= 0, sizes >= 1")
    return args


def run_size(pairs: int, args: argparse.Namespace, conv: list[str]) -> list[Result]:
    """Prepare the corpora of one size and run every selected case on them."""
    corpora = {"array": ensure_corpus(args.data_dir, "array", pairs, args.seed, args.ensure_ascii)}
    if "stream_jsonl_in" in args.cases:
        corpora["jsonl"] = ensure_corpus(
            args.data_dir, "jsonl", pairs, args.seed, args.ensure_ascii
        )
    warm_page_cache([p for c in corpora.values() for p in (c.en, c.ja)])
    run_dir, log_dir = args.out_dir / "run", args.out_dir / "logs"
    fixture_dir = args.out_dir / "fixtures"
    fixtures = {"json": fixture_dir / "out.json", "jsonl": fixture_dir / "out.jsonl"}
    prepare_error = None
    if any(c.startswith("validate_") for c in args.cases):
        log(f"writing validate inputs with convert stream ({pairs} pairs)")
        prepare_error = make_fixtures(corpora["array"], fixture_dir, conv, args.timeout)
        warm_page_cache([f for f in fixtures.values() if f.exists()])
    cases = []
    for name in args.cases:
        case = build_case(name, corpora, run_dir, fixtures, conv)
        if case is None:
            continue
        if name.startswith("validate_"):
            case.prepare_error = prepare_error
        cases.append(case)
    results = run_cases(cases, args, run_dir, log_dir)
    shutil.rmtree(fixture_dir, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit status 1 if any case failed."""
    args = parse_args(argv)
    conv = convert_command(args.convert)
    reset_dir(args.out_dir)
    (args.out_dir / "logs").mkdir()
    if "stream_json_checks_off" in args.cases and not CHECKS_OFF_FLAGS:
        log("stream_json_checks_off skipped: CHECKS_OFF_FLAGS is empty")
    results: list[Result] = []
    for pairs in args.sizes:
        results += run_size(pairs, args, conv)
    shutil.rmtree(args.out_dir / "run", ignore_errors=True)
    report: list[str] = []
    if args.markdown:
        report += [*machine_lines(args.out_dir, conv), ""]
        report.append(f"Median of {args.runs} runs ({args.warmup} warm-up); MB = 10^6 bytes.")
        report.append("")
    report.append(format_table(table_rows(results), args.markdown))
    extra = [line for line in [flat_memory_line(results), *parity_lines(results)] if line]
    failures = failure_details(results)
    if extra:
        report += ["", *extra]
    if failures:
        report += ["", "```", *failures, "```"] if args.markdown else ["", *failures]
    print("\n".join(report).rstrip())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
