"""The hand-labelled Japanese register set (tests/data/ja_register.tsv), for tests and bench."""

from __future__ import annotations

from pathlib import Path

LABELLED = Path(__file__).resolve().parent / "data" / "ja_register.tsv"


def labelled() -> list[tuple[str, str]]:
    """(label, text) rows; ``#`` lines are comments and ``\\n`` in a text is a line break."""
    rows = []
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            label, text = line.split("\t", 1)
            rows.append((label, text.replace("\\n", "\n")))
    return rows
