"""The compiled kernels (converter/_kernels.pyx) give exactly what the Python code they stand in
for gives: each kernel against its Python twin on the real EN/JA/ZH texts and on generated ones,
and whole runs with planted faults, compiled and Python, byte for byte."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from array import array
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import faults
import pytest
import xxhash
from converter_zh import CHINESE
from helpers import ALPACA_EN, ALPACA_JA, DOLLY_DIR, SHARED
from hypothesis import given, settings
from hypothesis import strategies as st

from converter import alignment, anchors, langid, screening
from converter.anchors import find_anchors, numbers_in, record_anchors, whole_number_in
from converter.builtin import checks
from converter.builtin.languages import ENGLISH, JAPANESE
from converter.kernels import NATIVE, describe
from converter.model import Check, Record, Rejected
from converter.scale import plan, tail
from converter.screening import group_screen, screen_bits
from converter.seen import LINE_BITS, SeenSet, bloom_add

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
ALPHABET = "\x000123456789.,．，０１９%:/ abcXYZ\t\n\x0b\x1c\x1f\u3000\u00a0あアー年漢é"
GENERATED = st.text(alphabet=ALPHABET, max_size=60)
#: What anchors are made of: URL schemes and characters, placeholder brackets, fences,
#: full-width digits and separators.
ANCHOR_TEXTS = st.lists(
    st.sampled_from(
        [*ALPHABET, *"{}[_]`$%sdifhtp:/?#@!&'*+;=~-", "http://", "https://", "```", "${"]
    ),
    max_size=40,
).map("".join)


def test_the_compiled_kernels_run() -> None:
    """The package picked the compiled kernels (this module is skipped when they are absent)."""
    assert describe() == "compiled"
    assert anchors.holds_number is native.holds_number
    assert (native.RATIO_GROUPS, native.REFRESH) == (alignment.RATIO_GROUPS, alignment.REFRESH)
    assert native.LINE_BITS == LINE_BITS


@settings(max_examples=1000, deadline=None)
@given(
    st.text(alphabet="ah:/ptsx\u3042\U0001f600", max_size=60),
    st.sampled_from(["http", "https://x.io", "a", "://", "t\u00e9"]),
)
def test_find_is_str_find(text: str, needle: str) -> None:
    """The in-place search finds what str.find finds, in text of each width, the needle at
    any place (block edges included), partly or not at all."""
    for widen in ("", "\u3042", "\U0001f600"):
        wide = text + widen
        assert native.find(wide, needle) == wide.find(needle), (wide, needle)
        for at in (0, 15, 16, 17, 31, 32):
            placed = wide[:at] + needle + wide[at:]
            assert native.find(placed, needle) == placed.find(needle), (placed, needle)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["12", "3.5", "1,000", "https://a.io/7", "{x}", "%s", "`x`", "\uff11\uff12"]),
    st.integers(0, 40),
    st.sampled_from(["a", "\u3042", "\U0001f600"]),
    st.sampled_from(["  ", "7 ", ":/"]),
    st.sampled_from(["", "\U0001f600"]),
)
def test_wide_text_scans_at_block_edges(
    token: str, at: int, filler: str, noise: str, tail: str
) -> None:
    """Numbers, digit runs and triggers are found wherever they sit against the 16-character
    blocks the scans of two- and four-byte text skip, as the Python code finds them (four-byte
    text of ASCII blocks, an emoji at its end, read a block as bytes)."""
    text = filler * at + noise + token + filler * 20 + tail
    assert native.numbers(text) == numbers_in(text)
    assert _native_anchors(text) == _python_anchors(text)
    for number in ("12", "7", "1000"):
        assert native.holds_number(text, number) == whole_number_in(text, number), number
    source = Record("en", 0, "Add 12 and 7.", "", "1000", {})  # numbers, no URL
    target = Record("ja", 0, text, "", "", {})  # its digit runs read, a URL in them or not
    want = alignment.Scorer(Record, _python_record_anchors).score(source, target, 0.0, 0.0)
    assert native.Scorer(Record, alignment.LINES_AGREE).score(source, target, 0.0, 0.0) == want


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=80).map(lambda b: b.translate(bytes.maketrans(b"abcdef", b"\n \t\r{}"))))
def test_planner_line_counts_match_the_python_count(data: bytes) -> None:
    """The range planner's compiled newline count gives what bytes.count and the blank-line
    expression give, on lines with and without blanks, whitespace and a cut anywhere."""
    for end in range(len(data) + 1):
        lines, spaced = native.newlines(data, end)
        assert lines == data.count(b"\n", 0, end)
        if plan._BLANK_NEXT.search(data, 0, end):
            assert spaced  # the expression is skipped only where it cannot match
        with pytest.MonkeyPatch.context() as patch:
            python = plan.line_counts(data, end)
            patch.setattr(plan, "NATIVE", None)
            assert plan.line_counts(data, end) == python


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=60).map(lambda b: b.translate(bytes.maketrans(b"ab", b"\n\n"))),
    st.integers(0, 5),
    st.integers(1, 4),
)
def test_planner_line_starts_match_the_python_walk(data: bytes, first: int, every: int) -> None:
    """Where the planner's marked lines start: the compiled walk gives the Python one's."""
    lines = data.count(b"\n")
    want = plan._line_starts(data, first, every, lines)
    assert native.line_starts(data, first, every, lines) == want
    assert all(at == 0 or data[at - 1 : at] == b"\n" for at in want)


def test_numbers_on_real_texts() -> None:
    assert sum(bool(numbers_in(t)) for t in TEXTS) > 100  # the texts do hold numbers
    for text in TEXTS:
        assert native.numbers(text) == numbers_in(text), text


@settings(max_examples=2000, deadline=None)
@given(GENERATED)
def test_numbers_on_generated_texts(text: str) -> None:
    assert native.numbers(text) == numbers_in(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(10, 40), max_size=60), st.sampled_from(["", "https://x.io/12 "]))
def test_many_numbers_each_counted_once(values: list[int], url: str) -> None:
    """Past a few numbers the kernel tells them apart by a set: the same numbers, each once,
    whatever the repeats (and those inside a URL left out)."""
    text = url + " ".join(f"{v},5" if v % 3 else str(v) for v in values)
    assert native.numbers(text) == numbers_in(text)
    found = native.anchor_parts(text)
    assert (found[0] if found else frozenset()) == find_anchors(text).numbers
    source = Record("en", 0, text, "", "", {})
    target = Record("ja", 0, " ".join(str(v) for v in values[::2]), "", "", {})
    want = alignment.Scorer(Record, _python_record_anchors).score(source, target, 0.0, 0.0)
    assert (
        native.Scorer(Record, alignment.LINES_AGREE).score(source, target, 0.0, 0.0) == want
    )  # kept / distinct


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


#: What code is made of: indentation and line breaks (Unicode whitespace too), the code words
#: with what may follow them (word characters, CJK, underscore), code symbols.
CODE_TEXTS = st.lists(
    st.sampled_from(
        [
            *" \n\t\r\x0b\x1c\u3000\u00a0\x85ab_1漢あアーｱ〇\u3040\ua000.",
            *checks.CODE_WORDS,
            *"{}[]()<>=;_\\$^*|",
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(CODE_TEXTS | GENERATED, st.sampled_from([-1, 0, 1, 4]))
def test_code_and_prose(text: str, words: int) -> None:
    assert native.looks_like_code(text) == checks.looks_like_code(text)
    assert native.is_prose(text, words) == checks.is_prose(text, words)


def test_code_and_prose_on_real_texts() -> None:
    assert 50 < sum(map(checks.looks_like_code, TEXTS)) < len(TEXTS) / 2
    for text in TEXTS:
        assert native.looks_like_code(text) == checks.looks_like_code(text), text
        assert native.is_prose(text, 4) == checks.is_prose(text, 4), text


def test_classifier_constants_are_langids() -> None:
    assert native.classifier_constants() == {
        name: getattr(langid, name) for name in native.classifier_constants()
    }


#: What the classifier's noise is made of: fences, inline code, URLs (any case, www.), e-mail
#: addresses, and the scripts around them.
NOISE_TEXTS = st.lists(
    st.sampled_from(
        [
            "```",
            "`",
            "\n",
            "http",
            "HTTPS",
            "hTtp",
            "://",
            "s",
            "www.",
            "WWW.",
            "wWw.",
            "WwW.",
            "W",
            "ww",
            "w",
            ".",
            "@",
            "-",
            "_",
            "%",
            "+",
            "a",
            "Z",
            "9",
            " ",
            "/",
            "x.io",
            "a-b",
            "日本",
            "です",
            "的",
            "這",
            "간",
            "、",
            "。",
            "ｱ",
            "é",
            "\U0002000b",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=4000, deadline=None)
@given(NOISE_TEXTS, st.sampled_from([(0.9, 12), (0.5, 3)]))
def test_field_script_on_generated_texts(text: str, thresholds: tuple[float, int]) -> None:
    """The compiled classifier (noise stripped, classes counted, the rules) gives the Python
    field_script's verdict, whatever the code, URLs and addresses in the text."""
    share, letters = thresholds
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "ASCII_LATIN_SHARE", share)
        patch.setattr(checks, "MIN_LETTERS", letters)
        want = checks.field_script(text)
    assert native.field_script(text, share, letters) == want


def test_field_script_on_real_texts() -> None:
    """Every real EN/JA/ZH field, long texts past the 2000 characters classified too."""
    verdicts = set()
    for text in [*TEXTS, "".join(TEXTS[:40])]:
        verdict = native.field_script(text, checks.ASCII_LATIN_SHARE, checks.MIN_LETTERS)
        assert verdict == checks.field_script(text), text
        verdicts.add(verdict)
    assert {"latin", "ja", "zh", "und"} <= verdicts


def test_quick_script_on_real_texts() -> None:
    verdicts = {native.quick_script(t, 0.9, 12) for t in TEXTS}
    assert {"latin", "ja", "und", None} <= verdicts
    for text in TEXTS:
        assert native.quick_script(text, 0.9, 12) == checks.quick_script(text, 0.9, 12), text


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3) | st.integers(4, 200),  # to the next index (0: the same again)
            st.none() | st.floats(-3, 3, allow_nan=False) | st.sampled_from([0.0, 1.0, -0.5]),
            st.booleans(),  # read the value for the index first
        ),
        max_size=400,
    ),
    st.sampled_from([16, 32, 1]),
)
def test_trailing_median(steps: list[tuple[int, float | None, bool]], warmup: int) -> None:
    compiled, reference = native.TrailingMedian(warmup), alignment.TrailingMedian(warmup)
    index = 0
    for step, value, read in steps:
        index += step
        if read:
            assert compiled.value_at(index) == reference.value_at(index)
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
    compiled = native.Scorer(Record, alignment.LINES_AGREE)
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


def test_a_record_read_as_source_and_as_translation_scores_the_same() -> None:
    """The kernels cache a record's anchors or its digit runs, and both when it is read both
    ways: scores are those of fresh records in either order; a foreign cache is refused."""
    en, ja = _records(ALPACA_EN, "en"), _records(ALPACA_JA, "ja")
    scorer = native.Scorer(Record, alignment.LINES_AGREE)

    def fresh(record: Record) -> Record:
        return Record(
            record.lang, record.index, record.instruction, record.input, record.output, {}
        )

    both = 0
    for a, b in zip(en, ja):
        want = (
            scorer.score(fresh(a), fresh(b), 0.1, -0.2),
            scorer.score(fresh(b), fresh(a), 0.1, -0.2),
        )
        assert (scorer.score(a, b, 0.1, -0.2), scorer.score(b, a, 0.1, -0.2)) == want
        assert (scorer.score(a, b, 0.1, -0.2), scorer.score(b, a, 0.1, -0.2)) == want
        both += (type(a.kernel_cache) is list) + (type(b.kernel_cache) is list)
    assert both > len(en) // 2  # read both ways (a translation's runs: where numbers are)
    foreign = Record("en", 0, "Add 12 and 30.", "", "42", {}, kernel_cache={"mine": 1})
    plain = Record("en", 0, "Say hello.", "", "Hello.", {})
    for source, target in ((foreign, ja[0]), (plain, foreign), (foreign, foreign)):
        with pytest.raises(TypeError):
            scorer.score(source, target, 0.0, 0.0)


@settings(max_examples=1000, deadline=None)
@given(st.lists(ANCHOR_TEXTS, min_size=6, max_size=6), st.floats(-2, 2), st.floats(-2, 2))
def test_scorer_on_generated_pairs(fields: list[str], ci: float, co: float) -> None:
    source = Record("en", 0, *fields[:3], {})
    target = Record("ja", 0, *fields[3:], {})
    want = alignment.Scorer(Record, _python_record_anchors).score(source, target, ci, co)
    got = native.Scorer(Record, alignment.LINES_AGREE).score(source, target, ci, co)
    assert got == want or (math.isnan(got) and math.isnan(want))


@settings(max_examples=2000, deadline=None)
@given(st.lists(ANCHOR_TEXTS | GENERATED, min_size=3, max_size=3))
def test_record_anchors_read_field_by_field(fields: list[str]) -> None:
    """A record's anchors are read from each field where it lies (none joined), numbers kept
    as a numbers text: the same anchors as the Python code finds in the joined text (a
    full-width digit in one field has the others read as ASCII too)."""
    source = Record("en", 0, *fields, {})
    native.Scorer(Record, alignment.LINES_AGREE).score(
        source, Record("ja", 0, "a", "", "b", {}), 0.0, 0.0
    )
    want = _python_record_anchors(source)
    cached = source.kernel_cache
    if not want:
        assert cached == ()
        return
    numbers, urls, placeholders, fences = cached
    each = numbers.decode().split()
    assert len(each) == len(set(each)) and numbers == (
        f" {' '.join(each)} ".encode() if each else b""
    )
    assert (frozenset(each), urls, placeholders, fences) == tuple(want)


def _python_record_anchors(record: Record) -> anchors.Anchors:
    return _python_anchors(f"{record.instruction}\n{record.input}\n{record.output}")


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
        assert found["tool"]["kernels"] == kernels  # the report says which code ran
        outputs.append((status, out.read_bytes(), found["checks"], found["repairs"]))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 1 and outputs[0][3]  # the deletion was found and repaired
    assert any(entry["warned"] for entry in outputs[0][2].values())


def test_warnings_the_step_counts_itself_match_the_python_count(tmp_path: Path) -> None:
    """Past a check's first examples the compiled step counts its warnings itself: the report
    is the Python code's, on the real pair given twice (every source of the second half a
    duplicate) with another check rejecting."""
    en, ja = faults.plant(faults.english_in_japanese)
    for name, records in (("en", en + en), ("ja", ja + ja)):
        (tmp_path / f"{name}.json").write_text(json.dumps(records, ensure_ascii=False))
    reports = []
    for kernels in ("compiled", "python"):
        report = tmp_path / f"{kernels}.report.json"
        env = {**os.environ, "CONVERTER_KERNELS": kernels}
        cmd = [sys.executable, "-m", "converter", "stream", f"en={tmp_path / 'en.json'}"]
        cmd += [f"ja={tmp_path / 'ja.json'}", "-o", str(tmp_path / f"{kernels}.jsonl")]
        cmd += ["--report", str(report), "--check", "all=warn", "--check", "language=reject"]
        subprocess.run([*cmd, "-q"], env=env)
        reports.append(json.loads(report.read_text())["checks"])
    assert reports[0] == reports[1]
    duplicates = reports[0]["duplicate"]
    assert duplicates["warned"] == len(en)
    assert [e["index"] for e in duplicates["examples"]] == list(range(len(en), len(en) + 5))
    assert reports[0]["language"]["rejected"] >= 2  # the planted English record, twice


def _native_anchors(text: str) -> anchors.Anchors:
    found = native.anchor_parts(text)
    return anchors.NONE if found is None else anchors.Anchors(*found)


def test_anchors_on_real_texts() -> None:
    """Numbers, URLs, placeholders and code fences of every real text, as the Python scan finds
    them (the texts hold numbers, URLs and fences; placeholders only the generated ones)."""
    found = [_python_anchors(text) for text in TEXTS]
    for kind in ("numbers", "urls", "fences"):
        assert sum(bool(getattr(a, kind)) for a in found) >= 3, kind
    for text, want in zip(TEXTS, found):
        assert _native_anchors(text) == want, text


@settings(max_examples=3000, deadline=None)
@given(ANCHOR_TEXTS)
def test_anchors_on_generated_texts(text: str) -> None:
    assert _native_anchors(text) == _python_anchors(text)


def _python_anchors(text: str) -> anchors.Anchors:
    """find_anchors with the compiled pieces swapped for their Python twins."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(anchors, "NATIVE", None)
        return find_anchors(text)


def _screen_and_checks() -> tuple[Any, list[tuple[int, Any]]]:
    languages = [ENGLISH, JAPANESE, CHINESE]
    stateless = (checks.EMPTY, checks.LANGUAGE, checks.UNTRANSLATED, checks.PRESERVED)
    compares = [(screen_bits(check), check.start(languages)) for check in stateless]
    assert all(bit for bit, _ in compares)
    return group_screen(languages, sum(bit for bit, _ in compares)).screen, compares


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


@pytest.mark.parametrize(
    "fault", [faults.english_in_japanese, faults.untranslated_copy, faults.duplicated_group]
)
def test_check_step_finds_what_each_compare_finds(monkeypatch: Any, fault: Any) -> None:
    """The compiled step gives, group by group, what calling every compare in order gives (the
    screen's skips, the built-in kernels called directly, a plugin's compare on every group)."""
    languages = [ENGLISH, JAPANESE]
    called: list[int] = []

    def plugin(group: list[Record]) -> list[str]:
        called.append(group[0].index)
        return ["odd"] if group[0].index % 2 else []

    every = (*checks.BUILTIN_CHECKS, Check(name="plugin", compare=plugin))
    compiled = screening.check_step(languages, [(c, c.start(languages)) for c in every])
    monkeypatch.setattr(screening, "NATIVE", None)
    each = screening.check_step(languages, [(c, c.start(languages)) for c in every])
    en, ja = faults.plant(fault)
    found = 0
    for i, (a, b) in enumerate(zip(en, ja)):
        fields = [
            (a["instruction"], a["input"], a["output"]),
            (b["instruction"], b["input"], b["output"]),
        ]
        got = compiled([Record("en", i, *fields[0], {}), Record("ja", i, *fields[1], {})])
        want = each([Record("en", i, *fields[0], {}), Record("ja", i, *fields[1], {})])
        assert (got or []) == want, i
        found += sum(k < len(every) - 1 for k, _ in want)
    assert found >= len(faults.POSITIONS)  # the planted faults were found
    assert called == [i for i in range(len(en)) for _ in range(2)]


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.text(alphabet=ALPHABET + "{}[_`%sdif", max_size=40) | CODE_TEXTS, min_size=6, max_size=9
    ),
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


#: Numbers and what may stand around them in a translation: a digit or separator that makes
#: a longer number of it (full-width ones too), or one that does not.
NUMBER_PIECES = st.lists(
    st.sampled_from(["12", "2019", "1.5", "00", "1200", "3,000", "8", "1", ".", ",", "．", "，"])
    | st.sampled_from(["１", "２", " ", "年", "a", "\n", "://", "x"]),
    max_size=24,
).map("".join)


def _preserved_screen() -> Any:
    """A compiled screen of the preserved check alone, English then Japanese."""
    languages = {"en": (True, False, frozenset()), "ja": (False, False, frozenset())}
    return native.GroupScreen(languages, 0.9, 12, 3, native.PRESERVED)


@settings(max_examples=2000, deadline=None)
@given(st.lists(NUMBER_PIECES, min_size=6, max_size=6))
def test_screen_preserved_bit_is_the_substring_tests(fields: list[str]) -> None:
    """The screen's preserved bit is set exactly where a source's number (or URL) is not in
    the translation as written: a number found in the translation's digit runs as the Python
    code's whole-number test finds it in the joined text."""
    source, target = Record("en", 0, *fields[:3], {}), Record("ja", 0, *fields[3:], {})
    screen = _preserved_screen()
    found = _python_record_anchors(source)
    text = "\n".join(fields[3:])
    kept = (
        all(whole_number_in(text, n) for n in found.numbers)
        and all(t in text for t in (*found.urls, *found.placeholders))
        and text.count("```") // 2 >= found.fences
    )
    assert bool(screen.screen([source, target]) & native.PRESERVED) == (bool(found) and not kept)


def test_screen_reads_each_records_language() -> None:
    """The screen remembers the language at each position of the last group: groups whose
    languages change place (and a language given as an equal, other string) are screened as
    by a new screen."""
    en, ja = _records(ALPACA_EN, "en")[:60], _records(ALPACA_JA, "ja")[:60]
    screen = _screen_and_checks()[0]
    for k, (a, b) in enumerate(zip(en, ja)):
        group = [a, b] if k % 3 else [b, a]
        if k % 5 == 0:
            b.lang = "".join(["j", "a"])
        assert screen(group) == _screen_and_checks()[0](group), k
    b.lang = None  # no language: refused, as the Python check refuses it
    with pytest.raises(KeyError):
        screen([a, b])


def _run_aligner(make: Any, columns: list[list[dict[str, Any] | None]], realign: bool) -> tuple:
    """Everything an aligner gives on these sources (None: a record that could not be read):
    each group member as (kind, lang, index, finding or reason), and the repairs."""
    langs = ["en", "ja", "zh"][: len(columns)]
    streams = [
        iter(
            [
                Record(lang, i, r["instruction"], r["input"], r["output"], {})
                if r is not None
                else Rejected(lang, i, ["unreadable"])
                for i, r in enumerate(rows)
            ]
        )
        for lang, rows in zip(langs, columns)
    ]
    aligner = make(streams, langs, realign)
    groups = []
    for group in aligner.groups():
        members = []
        for m in group:
            if type(m) is Record:
                members.append(("record", m.lang, m.index, (m.features or {}).get("misalignment")))
            else:
                members.append((type(m).__name__, None, None, getattr(m, "reason", None)))
        groups.append(tuple(members))
    return groups, aligner.repairs


def _python_aligner(streams: list, langs: list[str], realign: bool) -> Any:
    """The Python aligner with Python pieces only (its scorer and medians too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(alignment, "NATIVE", None)
        aligner = alignment.Aligner(streams, langs, realign)
    assert type(aligner.scorer) is alignment.Scorer
    return aligner


def _native_aligner(streams: list, langs: list[str], realign: bool) -> Any:
    return native.Aligner(
        streams,
        langs,
        realign,
        Record,
        alignment.Gap,
        native.Scorer(Record, alignment.LINES_AGREE),
        native.TrailingMedian,
        alignment.WINDOW,
        alignment.HISTORY,
        alignment.MARGIN,
        alignment.MIN_EVIDENCE,
        alignment.shift_at_front,
    )


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["delete", "insert"]), st.integers(0, 174)),
        max_size=4,
    ),
    st.booleans(),
    st.sampled_from([2, 3]),
    st.integers(20, 175),
)
def test_aligner_twins_agree(edits: list, realign: bool, sources: int, size: int) -> None:
    """The compiled aligner and the Python one give the same groups, findings and repairs on
    the real pair with records deleted from or inserted into any source (three sources: the
    Japanese side twice)."""
    en, ja = faults.EN[:size], faults.JA[:size]
    columns = [list(en), list(ja), list(ja)][:sources]
    for k, edit, at in edits:
        column = columns[k % sources]
        at = at % (len(column) + 1)
        if edit == "delete" and at < len(column):
            del column[at]
        elif edit == "insert":
            column.insert(at, faults.EN[(at * 7) % len(faults.EN)])
    want = _run_aligner(_python_aligner, columns, realign)
    assert _run_aligner(_native_aligner, columns, realign) == want


def test_aligner_twins_find_the_same_shift() -> None:
    """A deleted Japanese record: found (and repaired) by both, at the same index."""
    ja = [r for i, r in enumerate(faults.JA) if i != 60]
    for realign in (False, True):
        want = _run_aligner(_python_aligner, [faults.EN, ja], realign)
        assert want[1] and abs(want[1][0]["from_index"] - 60) <= 1
        assert _run_aligner(_native_aligner, [faults.EN, ja], realign) == want


@pytest.mark.parametrize("count", [1, 2])
def test_aligner_twins_repair_shifts_by_one_and_two(count: int) -> None:
    """Records lost, or extra, in a row in the Japanese side: both twins find the shift by as
    many, where it starts, and repair it the same way."""
    lost = faults.JA[:60] + faults.JA[60 + count :]
    extra = faults.JA[:60] + faults.EN[100 : 100 + count] + faults.JA[60:]
    for ja, shift in ((lost, count), (extra, -count)):
        for realign in (False, True):
            want = _run_aligner(_python_aligner, [faults.EN, ja], realign)
            assert want[1] and want[1][0]["shift"] == shift
            assert abs(want[1][0]["from_index"] - 60) <= 1
            assert _run_aligner(_native_aligner, [faults.EN, ja], realign) == want


@pytest.mark.parametrize(
    ("stretch", "every", "found"),
    [(60, None, [60]), (79, None, [60]), (150, None, [60, 250]), (200, 40, [60, 294])],
)
def test_aligner_twins_forget_a_shift_through_a_long_unreadable_stretch(
    stretch: int, every: int | None, found: list[int]
) -> None:
    """Japanese record 60 lost, English records 100 on unreadable (but for one in ``every``):
    without --realign both twins keep the shift through a short stretch, and end it once the
    window has not shown it as finding it needs for HISTORY groups, finding it again where
    records show it."""
    en: list[dict[str, Any] | None] = list(faults.EN * 2)
    for i in range(100, 100 + stretch):
        if every is None or (i - 100) % every != every - 1:
            en[i] = None
    ja = [r for i, r in enumerate(faults.JA * 2) if i != 60]
    want = _run_aligner(_python_aligner, [en, ja], False)
    assert [r["from_index"] for r in want[1]] == found
    assert _run_aligner(_native_aligner, [en, ja], False) == want


def test_aligner_twins_follow_a_shift_that_ends_inside_the_window() -> None:
    """Japanese record 60 lost, an unrelated one put in before 64: both twins find the shift
    at 60 (its pairs end inside the window), warn on each group it leaves mispaired (60-63)
    and, repairing, find the way back at 64."""
    ja = faults.short_shift(60, 4)
    warned = _run_aligner(_python_aligner, [faults.EN, ja], False)
    assert [(r["shift"], r["from_index"]) for r in warned[1]] == [(1, 60)]
    marked = [g[1][2] for g in warned[0] if g[1][3] is not None]
    assert marked == [60, 61, 62, 63]
    assert _run_aligner(_native_aligner, [faults.EN, ja], False) == warned
    repaired = _run_aligner(_python_aligner, [faults.EN, ja], True)
    assert [(r["shift"], r["from_index"]) for r in repaired[1]] == [(1, 60), (-1, 64)]
    assert _run_aligner(_native_aligner, [faults.EN, ja], True) == repaired


def test_length_ratio_twins_agree_on_real_pairs_with_truncations() -> None:
    """The compiled length-ratio compare finds what the Python one finds, group by group, on
    the real pair with truncated translations (and learns the same ratios)."""
    en, ja, planted = faults.truncated_outputs()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "NATIVE", None)
        patch.setattr(alignment, "NATIVE", None)
        reference = checks.LENGTH_RATIO.start([ENGLISH, JAPANESE])
    compiled = checks.LENGTH_RATIO.start([ENGLISH, JAPANESE])
    assert type(compiled) is native.LengthRatios
    found = []
    for i, (a, b) in enumerate(zip(en, ja)):
        group = [
            Record("en", i, a["instruction"], a["input"], a["output"], {}),
            Record("ja", i, b["instruction"], b["input"], b["output"], {}),
        ]
        want = reference(group)
        assert compiled(group) == want, i
        found += [i] if want else []
    assert set(planted) & set(found)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), max_size=200))
def test_length_ratio_twins_agree_on_generated_lengths(lengths: list[tuple[int, int]]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "NATIVE", None)
        patch.setattr(alignment, "NATIVE", None)
        reference = checks.LENGTH_RATIO.start([ENGLISH, JAPANESE])
    compiled = checks.LENGTH_RATIO.start([ENGLISH, JAPANESE])
    for i, (a, b) in enumerate(lengths):
        group = [
            Record("en", i, "x" * a, "", "y" * b, {}),
            Record("ja", i, "x" * b, "", "y" * a, {}),
        ]
        assert compiled(group) == reference(group)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=300), st.sampled_from([511, 4095]))
def test_bloom_add_twins_agree(keys: list[int], mask: int) -> None:
    compiled, reference = bytearray((mask + 1) // 8), bytearray((mask + 1) // 8)
    for key in keys:
        assert native.bloom_add(compiled, mask, key) == bloom_add(reference, mask, key)
    assert compiled == reference


def _classified(text: str) -> str:
    """field_script's verdict by the full classifier alone (no quick tests)."""
    from converter.langid import classify

    guess = classify(text[:2000])
    counts = guess.counts
    if counts.latin + counts.cjk < checks.MIN_LETTERS // 3:
        return "und"
    if guess.script == "zh" and not counts.kana and not counts.simplified_only:
        return "und"
    return guess.script


@settings(max_examples=3000, deadline=None)
@given(
    st.text(
        alphabet="0123456789、。，．！？：；「」・　０９abAZ年日本語あア한é\u00a0-", max_size=12
    )
)
def test_quick_und_for_few_letters_is_the_classifiers_verdict(text: str) -> None:
    """Where the quick test calls a mostly non-ASCII text too short in letters to judge, the
    classifier says so too."""
    ascii_share = sum(c.isascii() for c in text) / max(len(text), 1)
    if ascii_share < checks.ASCII_LATIN_SHARE and text:
        verdict = checks.quick_script(text, checks.ASCII_LATIN_SHARE, checks.MIN_LETTERS)
        if verdict == "und":
            assert _classified(text) == "und"


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=600))
def test_xxh64_key_is_xxhashs(data: bytes) -> None:
    want = int.from_bytes(xxhash.xxh64(data).digest(), "big", signed=True)
    assert native.xxh64_key(data) == want


#: Kernels of a source's instruction and input, and their Python twins.
SOURCE_TWINS = [("key_text", checks.key_text), ("duplicate_key", checks.source_key)]


@pytest.mark.parametrize(("kernel", "twin"), SOURCE_TWINS)
@settings(max_examples=2000, deadline=None)
@given(instruction=GENERATED, input_=st.text(max_size=200))
def test_source_kernels(kernel: str, twin: Any, instruction: str, input_: str) -> None:
    """Any text, lone surrogates included (the key encodes them as surrogatepass does)."""
    assert getattr(native, kernel)(instruction, input_) == twin(instruction, input_)


@pytest.mark.parametrize(("kernel", "twin"), SOURCE_TWINS)
@settings(max_examples=2000, deadline=None)
@given(
    instruction=st.text(alphabet="aZz@[`{ \t\n\x0b\x0c\r\x1c\x1f\x00_0", max_size=120),
    input_=st.text(alphabet="Ab \t\n\x1d", max_size=70),
)
def test_source_kernels_on_ascii_blocks(
    kernel: str, twin: Any, instruction: str, input_: str
) -> None:
    """ASCII text is read 16 characters at a time where no whitespace follows whitespace:
    runs of whitespace across the blocks' edges, at the start and the end, upper case."""
    assert getattr(native, kernel)(instruction, input_) == twin(instruction, input_)


@pytest.mark.parametrize(("kernel", "twin"), SOURCE_TWINS)
def test_source_kernels_on_real_texts(kernel: str, twin: Any) -> None:
    for instruction, input_ in pairwise(TEXTS):
        assert getattr(native, kernel)(instruction, input_) == twin(instruction, input_)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([None, {}, {"x": 1}, {"misalignment": "ja: shifted by +1"}])))
def test_misalignment_findings(features: list[Any]) -> None:
    group = [Record("en", 0, "", "", "", {}, features=f) for f in features]
    assert native.misalignment_findings(group) == checks.compare_misalignment(group)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["", "x", "Ab  c"])), max_size=300),
    st.sampled_from([4, 64]),
)
def test_duplicate_twins_agree(sources: list[tuple[int, str]], batch: int) -> None:
    """The compiled duplicate compare finds what the Python one finds, group by group, with
    keys repeated across spilled batches (small batches: a spill every few groups)."""
    sets = [SeenSet(), SeenSet()]
    for seen in sets:
        seen.batch = batch
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "NATIVE", None)
        reference = checks.duplicate_compare(sets[0])
    compiled = checks.duplicate_compare(sets[1])
    assert type(compiled) is native.Duplicates
    keys = set()
    for i, (n, extra) in enumerate(sources):
        source = Record("en", i, f"Task {n}{extra}", extra, "out", {})
        group = [source, Record("ja", i, "t", "", "o", {})]
        assert compiled(group) == reference(group), i
        keys.add(checks.duplicate_key(source))
    runs = [[[run.get(key) for key in sorted(keys)] for run in seen.runs] for seen in sets]
    assert runs[0] == runs[1]  # the same keys and first indexes spilled, run by run


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(-5, 30), max_size=40), max_size=6),
    st.sampled_from([4, 64]),
    st.integers(0, 6),
)
def test_duplicate_replay_twins_agree(blocks: list[list[int]], batch: int, examples: int) -> None:
    """Range mode's replay of the parts' keys, block after block: the compiled one counts the
    same duplicates and gives the same first ones as the Python one, across spilled batches."""
    sets = [SeenSet(), SeenSet()]
    for seen in sets:
        seen.batch = batch
    compiled = native.Duplicates(sets[1], checks.duplicate_finding)
    index = 0
    for keys in blocks:
        pairs = array("q")
        for key in keys:
            pairs.extend((index, key * 7919 - (1 << 62)))
            index += 1
        want = tail.replay(sets[0], pairs.tobytes(), examples)
        assert compiled.replay(pairs.tobytes(), examples) == want
    assert [run.sparse for run in sets[0].runs] == [run.sparse for run in sets[1].runs]
    assert [run.count for run in sets[0].runs] == [run.count for run in sets[1].runs]
    with pytest.raises(ValueError):
        compiled.replay(bytes(24), examples)  # one pair and a half
    with pytest.raises(ValueError):
        compiled.replay(array("q", (-1, 5)).tobytes(), examples)  # a negative index
    with pytest.raises(TypeError):
        compiled.__init__(SeenSet(), checks.duplicate_finding)  # set up once


def test_a_failed_spill_never_fills_the_pending_table() -> None:
    """When spilling fails and the caller goes on, the compiled check refuses more keys once
    its table is nearly full instead of probing a full table for ever."""

    class Full(SeenSet):
        def _spill(self) -> None:
            raise OSError("no space left")

    seen = Full()
    seen.batch = 1
    compiled = native.Duplicates(seen, checks.duplicate_finding)
    failures = []
    for index in range(40):
        try:
            compiled.replay(array("q", (index, 1000 + index)).tobytes(), 0)
        except (OSError, RuntimeError) as exc:
            failures.append(type(exc))
    assert failures[0] is OSError and failures[-1] is RuntimeError and len(failures) == 40


def test_misuse_raises_instead_of_crashing() -> None:
    """What the loop never passes (an empty group, None for a text, a needle that is no number)
    raises as Python would rather than reading memory it should not."""
    screen, _ = _screen_and_checks()
    for call in (
        lambda: screen([]),
        lambda: checks.LENGTH_RATIO.start([ENGLISH, JAPANESE])([]),
        lambda: checks.duplicate_compare(SeenSet())([]),
    ):
        with pytest.raises(IndexError):
            call()
    for call in (
        lambda: native.numbers(None),
        lambda: native.anchor_parts(None),
        lambda: native.quick_script(None, 0.9, 12),
        lambda: native.Scorer(Record, alignment.LINES_AGREE).score(
            Record("en", 0, None, "", "x", {}), Record("ja", 0, "y", "", "z", {}), 0.0, 0.0
        ),
    ):
        with pytest.raises(TypeError):
            call()
    with pytest.raises(ValueError):
        native.holds_number("a.b", "a")


def test_a_check_named_like_a_kernel_feature_changes_nothing() -> None:
    """The kernels keep their per-record features apart from the checks' features."""
    screen, _ = _screen_and_checks()
    en, ja = faults.EN[2], faults.JA[2]  # numbers 2009, 2017, 44: the preserved screen looks
    clean = [Record("en", 0, en["instruction"], en["input"], en["output"], {})]
    clean.append(Record("ja", 0, ja["instruction"], ja["input"], ja["output"], {}))
    crowded = [Record(r.lang, 0, r.instruction, r.input, r.output, {}) for r in clean]
    for record in crowded:
        record.features = {"anchor_parts": None, "digit_runs": b""}
    assert screen(crowded) == screen(clean)
    assert find_anchors(clean[0].output).numbers  # (the record's numbers were looked at)


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, i: rng.choice([-0.5, 0.0, 0.25, 1.0]),  # ties: the median often stays
        lambda rng, i: rng.gauss(0.0, 1.0),  # it moves a few ranks a refresh
        lambda rng, i: rng.gauss(i / 50, 0.1),  # it drifts past many: the walk gives up
        lambda rng, i: None if rng.random() < 0.3 else rng.uniform(-2, 2),
    ],
)
def test_trailing_median_over_long_runs(draw: Callable[[random.Random, int], float | None]) -> None:
    """The compiled median walks from its last value to the new one; it equals the sorted
    window's over thousands of refreshes, whether the median stays, moves or drifts far."""
    rng = random.Random(7)
    compiled, reference = native.TrailingMedian(), alignment.TrailingMedian()
    recomputed = 0
    for index in range(20_000):
        value = draw(rng, index)
        learned = compiled.add(index, value)
        assert learned == reference.add(index, value)
        assert compiled.value == reference.value, index
        recomputed += learned
    assert recomputed >= 20_000 // alignment.REFRESH


@settings(max_examples=200, deadline=None)
@given(
    st.integers(50, 90),
    st.integers(0, 90),
    st.booleans(),
    st.sampled_from(["{v%d}", "see https://ex.com/p%d/q now", "row %d. "]),
)
def test_many_anchors_twins_agree(count: int, kept: int, urls: bool, form: str) -> None:
    """A source with more anchors than MAX_SEARCHED (a table, a list of links) is compared as
    sets, not searched: the compiled scorer, screen and anchors give what the Python code
    gives, around the limit, with some anchors kept and the URLs' own digits left out."""
    items = [form % (1000 + k) for k in range(count)]
    link = " https://ex.com/a1234 x" if urls else ""  # a URL both hold, its digits its own
    text = " ".join(items) + link
    source = Record("en", 0, "List them.", "", text, {})
    target = Record("ja", 0, "一覧。", "", " ".join(items[:kept]) + link, {})
    assert _native_anchors(text) == _python_anchors(text)
    want = alignment.Scorer(Record, _python_record_anchors).score(source, target, 0.0, 0.0)
    assert native.Scorer(Record, alignment.LINES_AGREE).score(source, target, 0.0, 0.0) == want
    screen = _preserved_screen()
    found = _python_record_anchors(source)
    many = anchors.searched(found) > anchors.MAX_SEARCHED
    # many anchors: never screened out (the compare, as sets, decides); else the substring tests
    assert bool(screen.screen([source, target]) & native.PRESERVED) == (many or kept < count)
