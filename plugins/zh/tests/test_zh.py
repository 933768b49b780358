"""The Chinese plugin: its contract (converter.testing), its profile on real Chinese and
Japanese data, and the Simplified/Traditional tag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from converter_zh import CHINESE, make_tagger, zh_script

from converter import Record
from converter.builtin.languages import ENGLISH, JAPANESE
from converter.testing import check_language_plugin, judge, listed_plugin

#: Real data beside the repository (see its README); absent when the plugin is used elsewhere.
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
SEEDS = DATA / "alpaca-seed-tasks-en-ja-zh"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not there")


def seed_texts(name: str) -> list[str]:
    """Each seed task's instruction, input and output as one text."""
    lines = (SEEDS / name).read_text(encoding="utf-8").splitlines()
    tasks = [json.loads(line) for line in lines]
    return [
        "\n".join((t["instruction"], t["instances"][0]["input"], t["instances"][0]["output"]))
        for t in tasks
    ]


def test_contract() -> None:
    (chinese,) = check_language_plugin("converter_zh", samples={"zh": "请用三句话介绍一下长城。"})
    assert chinese == CHINESE
    assert (chinese.code, chinese.name, chinese.suffix) == ("zh", "Chinese", "ZH")
    assert chinese.reasoning == "AI assistant should reply in Chinese language."


def test_installed_and_found_through_its_entry_point() -> None:
    entry = listed_plugin("langpair-converter-zh")
    assert entry["languages"] == ["zh"]
    assert entry["hooks"] == ["make_tagger", "register_languages"]


@needs_data
def test_chinese_instructions_are_chinese() -> None:
    records = json.loads((DATA / "alpaca-zh" / "alpaca_zh_demo.json").read_text("utf-8"))
    verdicts = [judge(CHINESE, r["instruction"]) for r in records]
    # Three instructions are mostly an English phrase to explain (e.g. "Painting the town red").
    assert verdicts.count(True) >= 995
    assert all(judge(JAPANESE, r["instruction"]) is not True for r in records)


@needs_data
def test_japanese_never_passes_as_chinese_nor_chinese_as_japanese() -> None:
    japanese = seed_texts("seed_tasks_jp_cleaned.ja.jsonl")
    chinese = seed_texts("zh_seed_tasks.zh.jsonl")
    assert len(japanese) == len(chinese) == 175
    assert [judge(CHINESE, t) for t in japanese] == [False] * 175
    assert [judge(JAPANESE, t) for t in chinese] == [False] * 175
    assert [judge(CHINESE, t) for t in chinese] == [True] * 175
    # One English seed task is a translation whose output is Chinese: judged Chinese, rightly.
    english = [t for t in seed_texts("seed_tasks.en.jsonl") if judge(CHINESE, t)]
    assert [t.split("\n")[0] for t in english] == ["Translate the English sentence into Chinese."]
    assert all(judge(ENGLISH, t) is False for t in chinese)


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("请写一篇关于环境保护的短文，说明为什么要节约用水。", "Hans"),
        ("請寫一篇關於環境保護的短文，說明為什麼要節約用水。", "Hant"),
        ("这个问题的答案是什么？", "Hans"),
        ("這個問題的答案是什麼？", "Hant"),
        ("你好", "either"),
        ("中文", "either"),
    ],
)
def test_simplified_and_traditional_told_apart(text: str, script: str) -> None:
    assert zh_script(text) == script


@needs_data
def test_tagger_tags_chinese_records_only_when_tags_are_used() -> None:
    assert make_tagger([ENGLISH, CHINESE], {"keep_tags": False, "tags_used": False}) is None
    assert make_tagger([ENGLISH, JAPANESE], {"keep_tags": True, "tags_used": True}) is None
    assert make_tagger([ENGLISH, CHINESE], {"keep_tags": False, "tags_used": True}) is not None
    tag = make_tagger([ENGLISH, CHINESE], {"keep_tags": True, "tags_used": True})
    assert tag is not None
    texts = seed_texts("zh_seed_tasks.zh.jsonl")
    records = [Record("zh", i, t, "", t, {}) for i, t in enumerate(texts)]
    english = Record("en", 0, "Write a poem.", "", "Roses are red.", {})
    for record in [*records, english]:
        tag(record)
    assert english.tags == {}
    # BELLE's seed tasks are written in Simplified characters.
    assert {r.tags["zh_script"] for r in records} == {"Hans"}
