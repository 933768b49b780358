"""Shared test helpers: real-data paths and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from converter.errors import ConverterError
from converter.inputs import open_input
from converter.readers import read_items

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


def read_all(path: Path, items_path: str | None = None) -> tuple[list[Any], str | None]:
    """Every item ``read_items`` gives for ``path`` (value, line, error), and the fatal error."""
    items: list[Any] = []
    try:
        source = open_input(path.name, str(path))
    except ConverterError as exc:
        return items, str(exc)
    try:
        items.extend((i.value, i.line, i.error) for i in read_items(source, items_path))
    except ConverterError as exc:
        return items, str(exc)
    finally:
        source.close()
    return items, None
