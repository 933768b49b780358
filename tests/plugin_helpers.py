"""Helpers of the plugin tests: small plugin files, JSONL inputs, one-line error checks."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

ZH_DIST = "langpair-converter-zh"

#: A small French plugin the hook tests build on.
FRENCH = """
from converter import Language, hookimpl

FRENCH = Language("fr", "French", "FR", "AI assistant should reply in French language.",
                  frozenset({"latin"}))

@hookimpl
def register_languages(register):
    register(FRENCH)
"""


def plugin_file(tmp_path: Path, name: str, source: str) -> str:
    """Write a plugin module ``name``.py into ``tmp_path``; return its path for --plugin."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return str(path)


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def french_source(tmp_path: Path) -> Path:
    """Two French records (our own translations of the first two English sample records)."""
    return jsonl(
        tmp_path / "fr.jsonl",
        [
            {"instruction": "Que puis-je manger au petit déjeuner sans œufs ?", "input": "",
             "output": "Un smoothie protéiné à l'avoine et à la banane, avec du bacon."},
            {"instruction": "Quelle est la relation entre les paires données ?",
             "input": "Nuit : Jour :: Droite : Gauche",
             "output": "Ce sont des paires d'opposés."},
        ],
    )  # fmt: skip


def out_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_one_line_error(done: subprocess.CompletedProcess[str], *parts: str) -> None:
    """Exit 2, one ``convert: error:`` line holding every part, no traceback."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convert: error: plugin "), done.stderr
    for part in parts:
        assert part in lines[0], lines[0]
