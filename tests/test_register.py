"""The Japanese register tagger: accuracy on a hand-labelled set, and tagging real Dolly JA."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from helpers import DOLLY_DIR, run_cli
from ja_register import labelled

from converter.builtin.register import LABELS, register_of, sentence_register
from converter.model import Record
from converter.plugins import build_manager, build_registry

EXCERPTS = ("head_00000-00011", "mid_01140-01159", "tail_15009-15014")


def test_the_labelled_set_is_large_and_covers_every_label() -> None:
    counts = Counter(label for label, _ in labelled())
    assert set(counts) == set(LABELS)
    assert counts["polite"] >= 25 and counts["plain"] >= 25 and sum(counts.values()) >= 60


def test_accuracy_on_the_labelled_set_is_at_least_95_percent() -> None:
    rows = labelled()
    failures = [(label, register_of(text), text) for label, text in rows]
    failures = [f for f in failures if f[0] != f[1]]
    accuracy = 1 - len(failures) / len(rows)
    shown = "\n".join(f"want {want}, got {got}: {text!r}" for want, got, text in failures)
    assert accuracy >= 0.95, f"accuracy {accuracy:.1%}; failures:\n{shown}"


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("物価はますます上がっている", "plain"),  # ますます is an adverb
        ("それは正しい判断だと思います", "polite"),
        ("次の文を英語に訳せよ", "plain"),
        ("以下の条件を満たす整数をすべて求めよ", "plain"),
        ("なぜ彼はそんなことをしたのか", "plain"),
        ("会議は何時に始まりますか", "polite"),
        ("ティーン・タイタンズ", None),
        ("はい", None),
    ],
)
def test_sentence_endings(sentence: str, expected: str | None) -> None:
    assert sentence_register(sentence) == expected


def test_quotes_are_ignored_and_mixed_needs_a_quarter() -> None:
    assert register_of("店員は「少々お待ちください」と言った。") == "plain"
    assert register_of("父に『早く寝ろ』と言われました。") == "polite"
    assert register_of("「おはようございます」") == "none"
    three_to_one = "これはペンです。あれは本です。それは机です。猫がいる。"
    four_to_one = three_to_one + "犬もいます。"
    assert register_of(three_to_one) == "mixed"
    assert register_of(four_to_one) == "polite"


def test_the_tagger_is_registered_opt_in_and_tags_only_japanese() -> None:
    registry = build_registry(build_manager(autoload=False))
    languages = list(registry.languages.values())
    make = registry.taggers["register"].make
    tag = make(languages)
    assert tag is not None
    en = Record("en", 0, "Hi", "", "It is fine.", {})
    ja = Record("ja", 0, "こんにちは", "", "大丈夫です。", {})
    tag(en)
    tag(ja)
    assert en.tags == {} and ja.tags == {"register": "polite"}
    assert make([lang for lang in languages if lang.code == "en"]) is None


def test_stream_tags_every_japanese_dolly_record(tmp_path: Path) -> None:
    seen: Counter[str] = Counter()
    for name in EXCERPTS:
        en = DOLLY_DIR / "en-excerpts" / f"databricks-dolly-15k.en.{name}.jsonl"
        ja = DOLLY_DIR / "ja-excerpts" / f"databricks-dolly-15k-ja.{name}.jsonl"
        out = tmp_path / f"{name}.jsonl"
        done = run_cli(
            "stream", f"en={en}", f"ja={ja}", "--tagger", "register", "--keep-tags", "-o", out
        )
        assert done.returncode == 0, done.stderr
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        source = [json.loads(line) for line in ja.read_text(encoding="utf-8").splitlines()]
        ja_rows = [row for row in rows if row["seq"].endswith("JA")]
        assert len(ja_rows) == len(source) == len(rows) // 2
        for row, original in zip(ja_rows, source):
            assert row["tags"]["register"] == register_of(original["output"])
        assert not any("register" in row["tags"] for row in rows if row["seq"].endswith("EN"))
        seen.update(row["tags"]["register"] for row in ja_rows)
    assert sum(seen.values()) == 38
    assert seen["polite"] > seen["plain"] > 0 and seen["mixed"] > 0 and seen["none"] > 0
