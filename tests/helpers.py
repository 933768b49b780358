"""Shared test helpers: real-data paths and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
ALPACA_EN = SHARED / "alpaca-en-ja" / "alpaca_seed_tasks.en.json"
ALPACA_JA = SHARED / "alpaca-en-ja" / "alpaca_seed_tasks.ja.json"
SEED_DIR = SHARED / "alpaca-seed-tasks-en-ja-zh"
DOLLY_DIR = SHARED / "dolly-en-ja"
SAMPLE_EN = ROOT / "tests" / "data" / "sample.en.json"
SAMPLE_JA = ROOT / "tests" / "data" / "sample.ja.json"


def run_cli(
    *args: str | Path, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m converter ARGS`` (never the other ``convert`` on PATH), entry points off."""
    env = {**os.environ, "CONVERTER_LOAD_PLUGINS": ""}
    return subprocess.run(
        [sys.executable, "-m", "converter", *map(str, args)],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
