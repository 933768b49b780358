"""The compiled kernels (converter/_kernels.pyx) give exactly what the Python code they stand in
for gives: each kernel against its Python twin on the real EN/JA/ZH texts and on generated ones,
and whole runs with planted faults, compiled and Python, byte for byte."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from converter_zh import CHINESE
from hypothesis import given, settings
from hypothesis import strategies as st

from converter import alignment, anchors
from converter.anchors import find_anchors, numbers_in, record_anchors, whole_number_in
from converter.builtin import checks
from converter.builtin.languages import ENGLISH, JAPANESE
from converter.kernels import NATIVE, describe
from converter.model import Record
from converter.screening import group_screen, screen_bits
from tests import faults
from tests.helpers import ALPACA_EN, ALPACA_JA, DOLLY_DIR, SHARED

if NATIVE is None and os.environ.get("CONVERTER_REQUIRE_KERNELS"):
    pytest.fail("the compiled kernels are not built (CONVERTER_REQUIRE_KERNELS is set)")
pytestmark = pytest.mark.skipif(NATIVE is None, reason="compiled kernels not built")
native: Any = NATIVE


def _texts() -> list[str]:
    """Every field of the real EN, JA and ZH records."""
    records = json.loads(ALPACA_EN.read_text()) + json.loads(ALPACA_JA.read_text())
    records += json.loads((SHARED / "alpaca-zh" / "alpaca_zh_demo.json").read_text())[:300]
    for path in sorted(DOLLY_DIR.glob("*-excerpts/*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    fields = ("instruction", "input", "output", "context", "response")
    return [r[f] for r in records for f in fields if isinstance(r.get(f), str)]


TEXTS = _texts()
#: Characters that decide numbers, scripts and whitespace: digits, separators, full-width
#: forms, kana, Han, Latin, and whitespace Python splits on (\x1c-\x1f, U+3000 among them).
ALPHABET = "0123456789.,．，０１９%:/ abcXYZ\t\n\x0b\x1c\x1f\u3000\u00a0あアー年漢é"
GENERATED = st.text(alphabet=ALPHABET, max_size=60)


def test_the_compiled_kernels_run() -> None:
    """The package picked the compiled kernels (this module is skipped when they are absent)."""
    assert describe() == "compiled"
    assert anchors.holds_number is native.holds_number
    assert (native.RATIO_GROUPS, native.REFRESH) == (alignment.RATIO_GROUPS, alignment.REFRESH)


def test_numbers_on_real_texts() -> None:
    assert sum(bool(numbers_in(t)) for t in TEXTS) > 100  # the texts do hold numbers
    for text in TEXTS:
        assert native.numbers(text) == numbers_in(text), text


@settings(max_examples=2000, deadline=None)
@given(GENERATED)
def test_numbers_on_generated_texts(text: str) -> None:
    assert native.numbers(text) == numbers_in(text)


@settings(max_examples=2000, deadline=None)
@given(GENERATED, st.sampled_from(["12", "2019", "1.5", "00", "1200", "8"]))
def test_holds_number(text: str, number: str) -> None:
    assert native.holds_number(text, number) == whole_number_in(text, number)


def test_holds_number_on_real_texts() -> None:
    held = 0
    for source, target in pairwise(TEXTS):
        for number in numbers_in(source):
            for text in (source, target):
                result = native.holds_number(text, number)
                assert result == whole_number_in(text, number), (text, number)
                held += result
    assert held > 100


@settings(max_examples=2000, deadline=None)
@given(GENERATED, st.sampled_from([0.9, 0.5]), st.sampled_from([12, 3]))
def test_quick_script(text: str, share: float, letters: int) -> None:
    assert native.quick_script(text, share, letters) == checks.quick_script(text, share, letters)


def test_quick_script_on_real_texts() -> None:
    verdicts = {native.quick_script(t, 0.9, 12) for t in TEXTS}
    assert {"latin", "ja", "und", None} <= verdicts
    for text in TEXTS:
        assert native.quick_script(text, 0.9, 12) == checks.quick_script(text, 0.9, 12), text


@settings(max_examples=2000, deadline=None)
@given(GENERATED, GENERATED)
def test_key_text(instruction: str, input_: str) -> None:
    assert native.key_text(instruction, input_) == checks.key_text(instruction, input_)


def test_key_text_on_real_texts() -> None:
    for instruction, input_ in pairwise(TEXTS):
        assert native.key_text(instruction, input_) == checks.key_text(instruction, input_)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # step to the next group index (0: the same group again)
            st.none() | st.floats(-3, 3, allow_nan=False),
        ),
        max_size=400,
    ),
    st.sampled_from([16, 32, 1]),
)
def test_trailing_median(steps: list[tuple[int, float | None]], warmup: int) -> None:
    compiled, reference = native.TrailingMedian(warmup), alignment.TrailingMedian(warmup)
    index = 0
    for step, value in steps:
        index += step
        assert compiled.add(index, value) == reference.add(index, value)
        assert compiled.value == reference.value


def _records(path: Path, lang: str) -> list[Record]:
    return [
        Record(lang, i, r["instruction"], r["input"], r["output"], {})
        for i, r in enumerate(json.loads(path.read_text()))
    ]


def test_scorer_on_real_pairs() -> None:
    """Scores of true pairs, shifted pairs and gaps, at several learned centres; and learning."""
    en, ja = _records(ALPACA_EN, "en"), _records(ALPACA_JA, "ja")
    compiled = native.Scorer(Record, record_anchors)
    reference = alignment.Scorer(Record, record_anchors)
    for centre in ((0.0, 0.0), (-0.4, -0.6), (1.2, 0.3)):
        for offset in (0, 1, -1, 7):
            for i, source in enumerate(en):
                j = i + offset
                target = ja[j] if 0 <= j < len(ja) else None
                want = reference.score(source, target, *centre)
                assert compiled.score(source, target, *centre) == want
    medians = [native.TrailingMedian() for _ in range(2)]
    twins = [alignment.TrailingMedian() for _ in range(2)]
    for source, target in zip(en, [*ja[:50], None, *ja[51:]]):
        learned = compiled.learn(source, target, *medians)
        assert learned == reference.learn(source, target, *twins)
        assert [m.value for m in medians] == [m.value for m in twins]


@settings(max_examples=1000, deadline=None)
@given(st.lists(GENERATED, min_size=6, max_size=6), st.floats(-2, 2), st.floats(-2, 2))
def test_scorer_on_generated_pairs(fields: list[str], ci: float, co: float) -> None:
    source = Record("en", 0, *fields[:3], {})
    target = Record("ja", 0, *fields[3:], {})
    anchors_of = find_anchors_of_fields
    want = alignment.Scorer(Record, anchors_of).score(source, target, ci, co)
    got = native.Scorer(Record, anchors_of).score(source, target, ci, co)
    assert got == want or (math.isnan(got) and math.isnan(want))


def find_anchors_of_fields(record: Record) -> anchors.Anchors:
    return find_anchors(f"{record.instruction}\n{record.input}\n{record.output}")


@pytest.mark.parametrize(
    "fault",
    [faults.english_in_japanese, faults.untranslated_copy, faults.duplicated_group],
)
def test_whole_runs_agree(tmp_path: Path, fault: Any) -> None:
    """A run with every check on (warn) and --realign gives the same output and report with the
    compiled kernels as with the Python code, on the real pair with a fault planted and a
    record deleted."""
    en, ja = faults.plant(fault)
    del ja[100]
    for name, records in (("en", en), ("ja", ja)):
        (tmp_path / f"{name}.json").write_text(json.dumps(records, ensure_ascii=False))
    outputs = []
    for kernels in ("compiled", "python"):
        out, report = tmp_path / f"{kernels}.jsonl", tmp_path / f"{kernels}.report.json"
        env = {**os.environ, "CONVERTER_KERNELS": kernels}
        cmd = [sys.executable, "-m", "converter", "stream", f"en={tmp_path / 'en.json'}"]
        cmd += [f"ja={tmp_path / 'ja.json'}", "-o", str(out), "--report", str(report)]
        cmd += ["--realign", "--check", "all=warn", "-q"]
        status = subprocess.run(cmd, env=env).returncode  # 1: the orphan was rejected
        found = json.loads(report.read_text())
        outputs.append((status, out.read_bytes(), found["checks"], found["repairs"]))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 1 and outputs[0][3]  # the deletion was found and repaired
    assert any(entry["warned"] for entry in outputs[0][2].values())


def test_plain_numbers_fast_path_on_real_texts() -> None:
    """Where the compiled pass takes a text (no URL, placeholder, code or full-width digit),
    its anchors are the Python scan's."""
    taken = 0
    for text in TEXTS:
        plain = native.plain_numbers(text)
        if plain is not None:
            taken += 1
            assert anchors.Anchors(plain) == _python_anchors(text), text
    assert taken > len(TEXTS) // 2


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=ALPHABET + "{}[_]`$%sdif", max_size=60))
def test_plain_numbers_fast_path_on_generated_texts(text: str) -> None:
    plain = native.plain_numbers(text)
    if plain is not None:
        assert anchors.Anchors(plain) == _python_anchors(text)


def _python_anchors(text: str) -> anchors.Anchors:
    """find_anchors with the compiled pieces swapped for their Python twins."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(anchors, "NATIVE", None)
        patch.setattr(anchors, "_numbers", numbers_in)
        return find_anchors(text)


def _screen_and_checks() -> tuple[Any, list[tuple[int, Any]]]:
    languages = [ENGLISH, JAPANESE, CHINESE]
    stateless = (checks.EMPTY, checks.LANGUAGE, checks.UNTRANSLATED, checks.PRESERVED)
    compares = [(screen_bits(check), check.start(languages)) for check in stateless]
    assert all(bit for bit, _ in compares)
    return group_screen(languages, sum(bit for bit, _ in compares)), compares


def _assert_screen_sound(screen: Any, compares: list[tuple[int, Any]], group: list[Record]) -> int:
    """Every check the screen clears finds nothing in ``group``; the number it cleared."""
    mask, cleared = screen(group), 0
    for bit, compare in compares:
        if not mask & bit:
            cleared += 1
            assert compare(group) == [], (bit, group)
    return cleared


@pytest.mark.parametrize(
    "fault",
    [
        None,
        faults.english_in_japanese,
        faults.chinese_in_japanese,
        faults.untranslated_copy,
        faults.emptied_output,
    ],
)
def test_screen_clears_only_clean_groups_of_real_pairs(fault: Any) -> None:
    """On the real pair (and with each fault planted) a check the screen clears finds nothing;
    on the clean pair it clears most checks, and the planted faults are not cleared."""
    screen, compares = _screen_and_checks()
    en, ja = faults.plant(fault) if fault else (faults.EN, faults.JA)
    cleared = 0
    for i, (a, b) in enumerate(zip(en, ja)):
        group = [
            Record("en", i, a["instruction"], a["input"], a["output"], {}),
            Record("ja", i, b["instruction"], b["input"], b["output"], {}),
        ]
        cleared += _assert_screen_sound(screen, compares, group)
    if fault is None:
        assert cleared > 0.8 * 4 * len(en)


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(st.text(alphabet=ALPHABET + "{}[_`%sdif", max_size=40), min_size=6, max_size=9),
    st.sampled_from([("en", "ja"), ("en", "zh"), ("ja", "en"), ("en", "ja", "zh")]),
    st.sets(st.integers(0, 2)),
)
def test_screen_clears_only_clean_generated_groups(
    fields: list[str], langs: tuple, copied: set[int]
) -> None:
    """Generated groups, some fields of the first translation copied from the source."""
    screen, compares = _screen_and_checks()
    fields += fields[: 3 * len(langs) - len(fields)]
    for f in copied:
        fields[3 + f] = fields[f]
    group = [Record(lang, 0, *fields[3 * k : 3 * k + 3], {}) for k, lang in enumerate(langs)]
    _assert_screen_sound(screen, compares, group)
