"""Behaviour tests for converter.langid on hand cases and on real third-party datasets."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from converter import _char_tables
from converter.langid import SCRIPTS, ScriptCounts, classify, count_scripts, strip_noise

REPO = Path(__file__).resolve().parent.parent


def _data_dir() -> Path | None:
    """The shared real-data folder: $LANGPAIR_TEST_DATA, ../shared/data, or /work/shared/data."""
    candidates = [REPO.parent / "shared" / "data", Path("/work/shared/data")]
    if os.environ.get("LANGPAIR_TEST_DATA"):
        candidates.insert(0, Path(os.environ["LANGPAIR_TEST_DATA"]))
    return next((path for path in candidates if (path / "README.md").exists()), None)


DATA = _data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="shared/data (real datasets) not found")


# --- Hand cases ---------------------------------------------------------------------------------

JA_FENCED = """次のコードを実行して、結果を確認してください。
```python
import requests
for url in ["https://example.com", "https://example.org"]:
    print(requests.get(url).status_code)
```
"""
JA_INLINE = "`pip install requests` を実行してから、`import requests` と書きます。"
JA_UNFENCED_CODE = (
    "このLeetCodeの問題を解くPythonコードを書きなさい。\n"
    "class Solution(object):\n"
    "    def addTwoNumbers(self, l1, l2):\n"
    "        carry = 0\n"
    "        result = ListNode(0)\n"
    "        return result.next\n"
)
EN_WITH_JA_NAMES = (
    "Hayao Miyazaki (宮崎駿) co-founded Studio Ghibli (スタジオジブリ) in 1985 with Isao "
    "Takahata (高畑勲) and Toshio Suzuki (鈴木敏夫). Its films include Spirited Away "
    "(千と千尋の神隠し) and My Neighbor Totoro (となりのトトロ)."
)


@pytest.mark.parametrize(
    ("text", "script", "variant"),
    [
        # kanji-only Japanese: Japanese-only forms (駅, 広) or a Simplified/Traditional mix
        ("駅前広場集合。", "ja", None),
        ("会議室予約済", "ja", None),
        ("国語辞典", "ja", None),
        ("这是一个简单的问题", "zh", "Hans"),
        ("這是一個簡單的問題", "zh", "Hant"),
        ("你好", "zh", None),
        ("谢谢", "zh", "Hans"),
        ("はい", "ja", None),
        ("東京へ", "ja", None),
        ("新しいiPhone 15 Proを買いました。", "ja", None),
        ("안녕하세요. 오늘 날씨가 정말 좋네요.", "ko", None),
        ("네", "ko", None),
        ("大韓民國은 民主共和國이다.", "ko", None),
        ("Yes", "latin", None),
        ("Ça va très bien, merci.", "latin", None),
        ("The novel Norwegian Wood was written by 村上春樹 and published in 1987.", "latin", None),
        (EN_WITH_JA_NAMES, "latin", None),
        (JA_FENCED, "ja", None),
        (JA_INLINE, "ja", None),
        (JA_UNFENCED_CODE, "ja", None),
        (
            "根据自然语言描述，生成SQL语句。\nSELECT d.name, d.budget FROM instructor i JOIN "
            "department d ON i.dept_name = d.name WHERE i.salary > 100000;",
            "zh",
            "Hans",
        ),
    ],
)
def test_hand_cases(text: str, script: str, variant: str | None) -> None:
    guess = classify(text)
    assert (guess.script, guess.variant) == (script, variant), guess


@pytest.mark.parametrize(
    "text",
    [
        "",
        "42",
        "OK",
        "3.14159",
        "2023-10-05",
        "$1,299.00",
        "[__]",
        "https://example.com",
        "www.example.com/path?q=1",
        "someone@example.co.jp",
        "```\nx = y + 1\n```",
        "```python\nfor item in items:\n    print(item)\n```",
        "`x = y + 1`",
        "   \n\t ",
        "１２３．４５",
    ],
)
def test_no_language_is_und(text: str) -> None:
    guess = classify(text)
    assert guess.script == "und", guess
    assert guess.variant is None


def test_strip_noise() -> None:
    assert strip_noise("詳細はhttps://example.com/a?b=1を参照。") == "詳細は を参照。"
    assert strip_noise("连接 www.example.cn，然后") == "连接  ，然后"
    for mixed in ("wWw.example.cn", "WwW.example.cn", "Www.example.cn"):  # any case, alone
        assert strip_noise(f"连接 {mixed}，然后") == "连接  ，然后", mixed
    assert strip_noise("連絡先: taro.yamada@example.co.jp まで") == "連絡先:   まで"
    assert strip_noise("a `code` b") == "a   b"
    assert strip_noise("前\n```js\nlet x = 1;\n```\n後") == "前\n \n後"
    assert strip_noise("前\n```\nunclosed fence") == "前\n "
    text = "何もない普通の文です。"
    assert strip_noise(text) is text


def test_count_scripts() -> None:
    counts = count_scripts("Aé 日本語のテキスト、한국 这個 駅 ```code here```")
    # 日 本 (common) 語 個 (Traditional-only) 这 (Simplified-only) 駅 (Japanese-only) = 6 Han
    assert counts == ScriptCounts(
        latin=2,
        kana=5,
        han=6,
        ja_only=1,
        simplified_only=1,
        traditional_only=2,
        hangul=2,
        cjk_punct=1,
    )
    assert count_scripts("plain ascii, 7 letters!") == ScriptCounts(latin=17)


def test_char_tables() -> None:
    ja_only = set(_char_tables.JA_ONLY)
    simplified = set(_char_tables.SIMPLIFIED_ONLY)
    traditional = set(_char_tables.TRADITIONAL_ONLY)
    assert set("図駅気検実処済発変総") <= ja_only
    assert set("这个们简单问题发") <= simplified
    assert set("這個們簡單問題發") <= traditional
    assert not (ja_only & simplified or ja_only & traditional or simplified & traditional)
    # forms shared by Japanese and Chinese are in no table
    assert not set("日本人大学的") & ja_only


def test_generated_tables_are_current() -> None:
    """The committed tables are what tools/gen_char_tables.py makes from the same OpenCC data."""
    try:
        version = importlib.metadata.version("opencc-python-reimplemented")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("opencc-python-reimplemented (OpenCC dictionaries) not installed")
    if f"opencc-python-reimplemented {version}" not in (_char_tables.__doc__ or ""):
        pytest.skip(f"tables were generated from another version than {version}")
    spec = importlib.util.spec_from_file_location("gen", REPO / "tools" / "gen_char_tables.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.main(["--check"]) == 0


# --- Properties ---------------------------------------------------------------------------------

#: Arbitrary characters (lone surrogates included) mixed with script samples and noise markers.
NOISY = st.lists(
    st.one_of(
        st.characters(exclude_categories=()),
        st.sampled_from(
            [*"あア日本语語這駅한Azé `@:/.w\n、。", "```", "http://", "www.", "a@b.cc"]
        ),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(NOISY)
@example("\ud800駅\udfff` x@y.zz ```\udc80")
@example("\U000e0100\U0010ffff" * 3)
def test_classify_never_raises(text: str) -> None:
    guess = classify(text)
    assert guess.script in SCRIPTS
    if guess.script != "zh":
        assert guess.variant is None
    else:
        assert guess.variant in ("Hans", "Hant", None)
    counts = guess.counts
    assert counts == count_scripts(text)
    assert counts.han >= counts.ja_only + counts.simplified_only + counts.traditional_only
    assert counts.latin + counts.cjk + counts.cjk_punct <= len(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=60))
def test_ascii_fast_path_matches_general_path(text: str) -> None:
    # A non-ASCII character that belongs to no class forces the general path.
    assert count_scripts(text + "\u2603") == count_scripts(text)


# --- Real data ----------------------------------------------------------------------------------


def _json_array(name: str) -> list[dict[str, Any]]:
    assert DATA is not None
    with open(DATA / name, encoding="utf-8") as handle:
        records: list[dict[str, Any]] = json.load(handle)
    return records


def _jsonl(name: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
    assert DATA is not None
    with open(DATA / name, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if limit is not None and number >= limit:
                return
            yield json.loads(line)


def _seed_texts(name: str) -> list[str]:
    texts = []
    for record in _jsonl(name):
        texts.append(f"{record['instruction']}\n{record['instances'][0]['output']}")
    return texts


def _instruction_output(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return [f"{record['instruction']}\n{record['output']}" for record in records]


def _assert_rate(texts: list[str], expected: str, minimum: float) -> None:
    """Among texts not judged ``und``, at least ``minimum`` must be ``expected``."""
    guesses = [classify(text) for text in texts]
    judged = [(text, g) for text, g in zip(texts, guesses, strict=True) if g.script != "und"]
    failures = [(text, g) for text, g in judged if g.script != expected]
    rate = 1 - len(failures) / len(judged) if judged else 0.0
    listing = "\n".join(
        f"  {g.script} {tuple(g.counts)}: {text[:100]!r}" for text, g in failures[:40]
    )
    assert len(judged) >= 0.9 * len(texts), f"only {len(judged)}/{len(texts)} judged"
    assert rate >= minimum, (
        f"{expected} rate {rate:.4f} < {minimum} ({len(failures)}/{len(judged)} judged texts "
        f"failed, {len(texts) - len(judged)} und):\n{listing}"
    )


@needs_data
def test_alpaca_seed_tasks_ja() -> None:
    texts = _instruction_output(_json_array("alpaca-en-ja/alpaca_seed_tasks.ja.json"))
    assert len(texts) == 175
    _assert_rate(texts, "ja", 0.98)


@needs_data
def test_alpaca_seed_tasks_en() -> None:
    # One record is "Translate the English sentence into Chinese." with a Chinese output.
    texts = _instruction_output(_json_array("alpaca-en-ja/alpaca_seed_tasks.en.json"))
    assert len(texts) == 175
    _assert_rate(texts, "latin", 0.98)


@needs_data
def test_alpaca_zh_demo() -> None:
    # The few misses are records whose output really is English.
    texts = _instruction_output(_json_array("alpaca-zh/alpaca_zh_demo.json"))
    assert len(texts) == 1000
    _assert_rate(texts, "zh", 0.98)
    variants = [classify(text).variant for text in texts]
    assert variants.count("Hans") >= 0.95 * len(texts)


@needs_data
def test_alpaca_en_demo() -> None:
    texts = _instruction_output(_json_array("alpaca-zh/alpaca_en_demo.json"))
    _assert_rate(texts, "latin", 0.99)


@needs_data
def test_zh_seed_tasks() -> None:
    texts = _seed_texts("alpaca-seed-tasks-en-ja-zh/zh_seed_tasks.zh.jsonl")
    assert len(texts) == 175
    _assert_rate(texts, "zh", 0.98)


@needs_data
@pytest.mark.parametrize(
    "name",
    [
        "seed_tasks_jp_cleaned.ja.jsonl",
        "seed_tasks_jp_row.ja.jsonl",
        "seed_tasks_japanese.ja.jsonl",
    ],
)
def test_ja_seed_tasks(name: str) -> None:
    _assert_rate(_seed_texts(f"alpaca-seed-tasks-en-ja-zh/{name}"), "ja", 0.98)


@needs_data
def test_dolly_ja() -> None:
    records = list(_jsonl("dolly-en-ja/ja-full/databricks-dolly-15k-ja.jsonl", limit=2000))
    assert len(records) == 2000
    _assert_rate(_instruction_output(records), "ja", 0.98)


@needs_data
def test_dolly_en_excerpts() -> None:
    assert DATA is not None
    texts = []
    for path in sorted((DATA / "dolly-en-ja" / "en-excerpts").glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                texts.append(f"{record['instruction']}\n{record['response']}")
    assert len(texts) == 38
    _assert_rate(texts, "latin", 1.0)
