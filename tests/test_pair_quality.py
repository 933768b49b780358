"""Pair checks on the real EN/JA pair: false flags on good data, detection of planted faults."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import faults as F
import pytest
from helpers import DOLLY_DIR, run_cli
from hypothesis import example, given, settings
from hypothesis import strategies as st

from converter.alignment import HISTORY, TrailingMedian, _best_stretch
from converter.builtin.checks import LANGUAGE
from converter.builtin.languages import ENGLISH
from converter.model import Language, Record
from converter.pipeline import StreamJob, run_stream


def test_false_flag_rates_on_the_real_pair_are_low() -> None:
    rates = F.false_flag_rates(F.EN, F.JA)
    assert (
        rates["empty"] == rates["duplicate"] == rates["misalignment"] == rates["length-ratio"] == 0
    )
    assert max(rates.values()) <= 0.02, rates


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (F.untranslated_copy, "untranslated"),
        (F.english_in_japanese, "language"),
        (F.chinese_in_japanese, "language"),
        (F.emptied_output, "empty"),
    ],
)
def test_planted_faults_are_found_where_they_are(fault, check: str) -> None:
    en, ja = F.plant(fault)
    found, _ = F.flagged(en, ja, check)
    assert set(F.POSITIONS) <= found
    assert len(found - set(F.POSITIONS)) <= 2  # the real pair's own few oddities


def test_an_untranslated_copy_is_found_when_the_source_is_japanese() -> None:
    """Japanese prose has no spaces between its words: a copy of it is prose all the same
    (a source in Japanese or Chinese, the other file a copy of it at the planted positions)."""
    source, translated = F.JA, copy.deepcopy(F.EN)
    for p in F.POSITIONS:
        translated[p] = dict(source[p])
    found, _ = F.flagged(source, translated, "untranslated")
    assert set(F.POSITIONS) <= found
    assert len(found - set(F.POSITIONS)) <= 2  # fields the real pair holds alike (FEN, Chinese)


def test_duplicated_groups_are_found() -> None:
    en, ja = F.plant(F.duplicated_group)
    found, report = F.flagged(en, ja, "duplicate")
    assert found == {p + 1 for p in F.POSITIONS}
    first = report["checks"]["duplicate"]["examples"][0]["findings"][0]
    assert first == f"same en instruction and input as index {F.POSITIONS[0]}"


def test_dropped_numbers_are_found_in_most_records() -> None:
    en, ja, planted = F.dropped_numbers()
    found, _ = F.flagged(en, ja, "preserved")
    assert len(planted) >= 40
    assert len(found & set(planted)) >= 0.55 * len(planted)
    assert len(found - set(planted)) <= 2


def test_truncated_translations_are_found_by_length_ratio() -> None:
    en, ja, planted = F.truncated_outputs()
    found, _ = F.flagged(en, ja, "length-ratio")
    assert len(found & set(planted)) >= 0.9 * len(planted)
    assert found <= set(planted)


def test_a_deleted_record_is_located_within_one_at_95_percent_of_positions() -> None:
    hits = F.deletion_hits(list(range(0, 173, 3)))
    located = [p for p, found in hits if found is not None and abs(found - p) <= 1]
    assert len(located) >= 0.95 * len(hits), [h for h in hits if h[0] not in located]


@pytest.mark.parametrize("hits", [F.deletion_hits, F.insertion_hits], ids=["deleted", "inserted"])
def test_realign_repairs_a_lost_or_extra_record_exactly_at_95_percent_of_positions(
    hits: Callable[[list[int]], list[tuple[int, int | None]]],
) -> None:
    """A repair one group off writes a wrong pair and rejects a right record: at every position
    of the real set, one Japanese record deleted (or an unrelated one inserted) is repaired at
    its own index at 96% of positions or more (93% and 95% before outputs' line breaks were
    scored: a 9-line list paired with a paragraph passed as a pair)."""
    found = hits(list(range(173)))
    exact = [p for p, at in found if at == p]
    assert len(exact) >= 0.955 * len(found), [h for h in found if h[0] not in exact]


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=10))
def test_the_best_stretch_is_the_first_of_the_largest_sum(gains: list[float]) -> None:
    """Every stretch [c, e) tried (summed as ``sum`` does), the first of the largest sum kept:
    the shift detector's change points, in time linear in the stretches."""
    stretches = [
        (c, sum(gains[c:e])) for c in range(len(gains)) for e in range(c + 1, len(gains) + 1)
    ]
    assert _best_stretch(gains) == max(stretches, key=lambda stretch: stretch[1])


@pytest.mark.parametrize(
    ("size", "start"), [(3, 49), (4, 7), (6, 112), (7, 119), (8, 0), (8, 70), (10, 42)]
)
def test_no_shift_is_found_at_the_end_of_small_aligned_sources(size: int, start: int) -> None:
    """Slices of the real aligned pair (the first 8 records: a user's first try). At their end
    the window holds one shifted pair, whose score alone is noise: a shift was found there,
    and --realign rejected good pairs (7 of 494 slices of 2-40 records)."""
    en, ja = F.EN[start : start + size], F.JA[start : start + size]
    found, report = F.flagged(en, ja, "misalignment", realign=True)
    assert (found, report["repairs"], report["groups"]["rejected"]) == (set(), [], 0)


@pytest.mark.parametrize("lost_first", [True, False], ids=["lost-gained", "gained-lost"])
def test_realign_repairs_a_record_lost_and_one_gained_four_groups_apart(lost_first: bool) -> None:
    """A Japanese record lost and an unrelated one put in four records later (or the other way
    round): the pairs between are shifted for four groups only. Both ends are repaired exactly
    at 80% of positions or more (2 and 13 of 55 when a shift had to last to the window's end:
    the pairs between were written mispaired, without a misalignment warning)."""
    positions = list(range(0, 165, 3))
    exact = F.short_shift_hits(positions, 4, lost_first)
    assert len(exact) >= 0.8 * len(positions), sorted(set(positions) - set(exact))


def test_two_deleted_records_in_a_row_are_located_within_one_at_90_percent_of_positions() -> None:
    """A shift by two (two records lost in a row, as between revisions) is found as one, by
    +2, where it starts (the window also scores the pairings two records over)."""
    hits = F.deletion_hits(list(range(0, 172, 3)), count=2)
    located = [p for p, found in hits if found is not None and abs(found - p) <= 1]
    assert len(located) >= 0.9 * len(hits), [h for h in hits if h[0] not in located]


@pytest.mark.parametrize(("edit", "shift"), [("delete", 2), ("insert", -2)])
def test_realign_repairs_a_shift_by_two(tmp_path: Path, edit: str, shift: int) -> None:
    """Two Japanese records lost (or two extra) at 90: every written pair is a true pair, the
    two records left without a partner are rejected, and the counts reconcile."""
    extra = [F.EN[10], F.EN[20]]  # English text in the Japanese file
    ja_records = F.JA[:90] + F.JA[92:] if edit == "delete" else F.JA[:90] + extra + F.JA[90:]
    ja = tmp_path / "ja.json"
    ja.write_text(json.dumps(ja_records, ensure_ascii=False))
    en = F.DATA / "alpaca-en-ja" / "alpaca_seed_tasks.en.json"
    out, report = tmp_path / "out.jsonl", tmp_path / "r.json"
    args = ("stream", f"en={en}", f"ja={ja}", "--realign", "--unequal", "shortest")
    done = run_cli(*args, "-o", out, "--report", report, "--check", "language=off")
    assert done.returncode == 1, done.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for en_row, ja_row in zip(records[::2], records[1::2]):
        assert ja_row["instruction"] == F.JA[int(en_row["seq"][:-2])]["instruction"]
    doc = json.loads(report.read_text())
    assert doc["repairs"] == [{"source": 1, "shift": shift, "from_index": 90, "repaired": True}]
    rejects = [json.loads(line) for line in (tmp_path / "out.jsonl.rejects.jsonl").open()]
    lost = ("en", 90), ("en", 91)
    assert [(r["lang"], r["index"]) for r in rejects] == list(
        lost if edit == "delete" else [("ja", 90), ("ja", 91)]
    )
    assert all(s["reconciles"] for s in doc["sources"])


def test_realign_repairs_the_pairing_and_the_counts_reconcile(tmp_path: Path) -> None:
    ja = tmp_path / "ja.json"
    ja.write_text(json.dumps(F.JA[:90] + F.JA[91:], ensure_ascii=False))
    en = F.DATA / "alpaca-en-ja" / "alpaca_seed_tasks.en.json"
    out, report = tmp_path / "out.jsonl", tmp_path / "r.json"
    done = run_cli(
        "stream", f"en={en}", f"ja={ja}", "--realign", "-o", out, "--report", report, "--keep-tags"
    )
    assert done.returncode == 1, done.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2 * 174
    for en_row, ja_row in zip(records[::2], records[1::2]):
        index = int(en_row["seq"][:-2])
        assert ja_row["seq"] == f"{index}JA"
        assert ja_row["instruction"] == F.JA[index]["instruction"]
    assert records[180]["seq"] == "91EN" and records[181]["tags"] == {"source_index": 90}
    rejects = [
        json.loads(line) for line in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()
    ]
    assert [(r["lang"], r["index"]) for r in rejects] == [("en", 90)]
    assert rejects[0]["reasons"][0].startswith("misalignment: no ja partner")
    doc = json.loads(report.read_text())
    assert doc["repairs"] == [{"source": 1, "shift": 1, "from_index": 90, "repaired": True}]
    assert all(s["reconciles"] for s in doc["sources"])
    assert [(s["read"], s["written"], s["rejected"]) for s in doc["sources"]] == [
        (175, 174, 1),
        (174, 174, 0),
    ]


def test_realign_with_three_sources_when_the_first_lost_a_record(tmp_path: Path) -> None:
    """Both translations keep a record the first source lost: each is repaired (the second
    repair finds a gap at the first source's front; it crashed on it), each orphan rejected."""
    en = tmp_path / "en.json"
    en.write_text(json.dumps(F.EN[:50] + F.EN[51:]))
    ja = F.DATA / "alpaca-en-ja" / "alpaca_seed_tasks.ja.json"
    out, report = tmp_path / "out.jsonl", tmp_path / "r.json"
    done = run_cli(
        "stream", f"en={en}", f"ja={ja}", f"zh={ja}", "--plugin", "converter_zh", "--realign",
        "-o", out, "--report", report,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    doc = json.loads(report.read_text())
    assert doc["repairs"] == [
        {"source": k, "shift": -1, "from_index": 50, "repaired": True} for k in (1, 2)
    ]
    rejects = (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()
    assert sorted((r["lang"], r["index"]) for r in map(json.loads, rejects)) == [
        ("ja", 50),
        ("zh", 50),
    ]
    assert len(out.read_text().splitlines()) == 3 * 174
    assert all(s["reconciles"] for s in doc["sources"])
    # one orphan group (the Japanese and Chinese records together), no group of gaps alone
    assert doc["groups"] == {
        "read": 175,
        "written": 174,
        "rejected": 1,
        "filtered": 0,
        "skipped": 0,
    }
    assert [s["rejected_by_reason"] for s in doc["sources"]] == [{}, *[{"misalignment": 1}] * 2]


def test_realign_with_three_sources_and_a_limit_at_the_first_source_s_lost_record(
    tmp_path: Path,
) -> None:
    """--limit 51 ends on the orphan group of the record the first source lost: it is
    rejected and its records are in the rejects file (a group of gaps alone took its place:
    exit 1, and nothing in the rejects file)."""
    en = tmp_path / "en.json"
    en.write_text(json.dumps(F.EN[:50] + F.EN[51:]))
    ja = F.DATA / "alpaca-en-ja" / "alpaca_seed_tasks.ja.json"
    out = tmp_path / "out.jsonl"
    done = run_cli(
        "stream", f"en={en}", f"ja={ja}", f"zh={ja}", "--plugin", "converter_zh", "--realign",
        "--limit", "51", "-o", out,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    rejects = (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()
    assert [(r["lang"], r["index"]) for r in map(json.loads, rejects)] == [("ja", 50), ("zh", 50)]
    assert len(out.read_text().splitlines()) == 3 * 50


def test_the_summary_says_what_realign_repaired(tmp_path: Path) -> None:
    ja = tmp_path / "ja.json"
    ja.write_text(json.dumps(F.JA[:81] + F.JA[82:], ensure_ascii=False))
    en = F.DATA / "alpaca-en-ja" / "alpaca_seed_tasks.en.json"
    done = run_cli("stream", f"en={en}", f"ja={ja}", "-o", tmp_path / "o.json", "--realign")
    said = done.stderr.decode()
    assert done.returncode == 1, said
    assert "convert: ja: 1 shift repaired (--realign), the first by +1 at index 81\n" in said


def test_sources_that_are_not_translations_are_not_sent_to_realign(tmp_path: Path) -> None:
    """English demo records against unrelated Japanese ones: the shifts the window finds are
    many, so the error asks whether the sources are translations instead of suggesting
    --realign; --realign's many repairs are said to suggest the same."""
    en = F.DATA / "alpaca-zh" / "alpaca_en_demo.json"
    ja = F.DATA / "alpaca-ja-unpaired" / "alpaca_data_ja.if001-wanda.head.json"
    done = run_cli("stream", f"en={en}", f"ja={ja}", "-o", tmp_path / "o.json")
    said = done.stderr.decode()
    assert done.returncode == 3 and "--realign repairs that" not in said, said
    assert "are these sources translations of each other, in the same order?" in said
    realigned = ("--realign", "--unequal", "shortest")
    done = run_cli("stream", f"en={en}", f"ja={ja}", "-o", tmp_path / "o.json", *realigned)
    said = done.stderr.decode()
    assert "suggest that the sources are not translations of each other: check the pairs" in said
    # --realign alone: the sources end unequally after its many repairs; the error asks the
    # same (it gave only the --unequal advice, for more groups than either source has)
    done = run_cli("stream", f"en={en}", f"ja={ja}", "-o", tmp_path / "o.json", "--realign")
    said = done.stderr.decode()
    assert done.returncode == 3 and said.count("\n") == 1, said
    assert "are these sources translations of each other, in the same order?" in said


def test_without_realign_a_shift_is_reported_and_suggested(tmp_path: Path) -> None:
    ja = tmp_path / "ja.json"
    ja.write_text(json.dumps(F.JA[:40] + F.JA[41:], ensure_ascii=False))
    en = F.DATA / "alpaca-en-ja" / "alpaca_seed_tasks.en.json"
    done = run_cli("stream", f"en={en}", f"ja={ja}", "-o", tmp_path / "o.json")
    assert done.returncode == 3
    assert "pairs look shifted from index 40: --realign repairs that" in done.stderr.decode()
    done = run_cli(
        "stream", f"en={en}", f"ja={ja}", "-o", tmp_path / "o.json", "--unequal", "shortest"
    )
    assert done.returncode == 0
    assert (
        "check misalignment: 134 warned, 0 rejected; first at index 40: ja: pairs look shifted by +1"
        in done.stderr.decode()
    )


def test_policies_reject_and_strict(tmp_path: Path) -> None:
    en, ja = F.plant(F.emptied_output)
    found, report = F.flagged(en, ja, "empty")
    assert report["checks"]["empty"]["rejected"] == len(F.POSITIONS) == len(found)
    paths = []
    for name, records in (("en", en), ("ja", ja)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(records, ensure_ascii=False))
        paths.append((name, str(path)))
    warned, status = run_stream(StreamJob(sources=paths, output=str(tmp_path / "a.jsonl")))
    assert status == 0 and warned.checks["empty"].warned == len(F.POSITIONS)
    strict, status = run_stream(
        StreamJob(sources=paths, output=str(tmp_path / "b.jsonl"), strict=True)
    )
    assert status == 1 and strict.checks["empty"].rejected == len(F.POSITIONS)


def test_dolly_excerpts_pass_the_per_pair_checks(tmp_path: Path) -> None:
    flagged = 0
    total = 0
    for en in sorted((DOLLY_DIR / "en-excerpts").glob("*.jsonl")):
        ja = (
            DOLLY_DIR
            / "ja-excerpts"
            / en.name.replace("databricks-dolly-15k.en.", "databricks-dolly-15k-ja.")
        )
        report, _status = run_stream(
            StreamJob(sources=[("en", str(en)), ("ja", str(ja))], output=str(tmp_path / "o.jsonl"))
        )
        total += report.groups_read
        flagged += sum(c.warned for c in report.checks.values())
    assert total == 38
    assert flagged <= 2


SEED = F.DATA / "alpaca-seed-tasks-en-ja-zh"


def test_key_pairs_the_shuffled_chinese_seed_tasks_and_reports_the_unmatched(
    tmp_path: Path,
) -> None:
    out, report = tmp_path / "out.jsonl", tmp_path / "r.json"
    done = run_cli(
        "stream",
        f"en={SEED / 'seed_tasks.en.jsonl'}",
        f"zh={SEED / 'zh_seed_tasks.zh.jsonl'}",
        "--key",
        "id",
        "--keep-tags",
        "-o",
        out,
        "--report",
        report,
        "--plugin",
        "converter_zh",
    )
    assert done.returncode == 1, done.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2 * 171
    for en_row, zh_row in zip(records[::2], records[1::2]):
        assert en_row["tags"]["id"] == zh_row["tags"]["id"]
        assert zh_row["seq"] == en_row["seq"][:-2] + "ZH"
    rejects = [
        json.loads(line) for line in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()
    ]
    unmatched = sorted((r["lang"], r["record"]["id"]) for r in rejects)
    assert unmatched == [("en", f"seed_task_{i}") for i in (101, 119, 13, 62)] + [
        ("zh", f"seed_task_add_{i}") for i in (1, 2, 3, 4)
    ]
    assert all(r["reasons"][0].startswith("unmatched: no ") for r in rejects)
    doc = json.loads(report.read_text())
    assert [(s["read"], s["written"], s["rejected"]) for s in doc["sources"]] == [
        (175, 171, 4),
        (175, 171, 4),
    ]
    assert all(s["reconciles"] for s in doc["sources"])


def test_key_reports_the_duplicated_id_of_the_third_japanese_version(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done = run_cli(
        "stream",
        f"en={SEED / 'seed_tasks.en.jsonl'}",
        f"ja={SEED / 'seed_tasks_japanese.ja.jsonl'}",
        "--key",
        "id",
        "-o",
        out,
    )
    assert done.returncode == 1
    rejects = [
        json.loads(line) for line in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()
    ]
    reasons = {r["lang"]: r["reasons"][0] for r in rejects}
    assert reasons["ja"] == "duplicate key: id 'seed_task_146' repeats the record at index 145"
    assert reasons["en"] == "unmatched: no ja record with id 'seed_task_145'"


def test_keys_are_json_text(tmp_path: Path) -> None:
    """true pairs with "true" (not Python's "True"), 7 with "7", 10**20 with itself (read
    exactly); 2.5 and "2.50" differ, a null or object key is none."""
    keys = [True, 7, 10**20, 2.5, None, {"a": 1}]
    theirs = ["true", "7", 10**20, "2.50", None, {"a": 1}]
    for lang, values in (("en", keys), ("ja", theirs[::-1])):
        lines = [
            json.dumps({"id": v, "instruction": f"q{v}", "input": "", "output": "a"})
            for v in values
        ]
        (tmp_path / f"{lang}.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    done = run_cli(
        "stream", f"en={tmp_path / 'en.jsonl'}", f"ja={tmp_path / 'ja.jsonl'}", "--key", "id",
        "-o", out, "--check", "all=off",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    written = [json.loads(line)["instruction"] for line in out.read_text().splitlines()]
    assert written == ["qTrue", "qtrue", "q7", "q7", f"q{10**20}", f"q{10**20}"]


def test_parquet_keys_json_has_no_text_for_pair_as_python_writes_them(tmp_path: Path) -> None:
    """Decimal and timestamp key columns of Parquet sources (no JSON text): keyed by their
    Python text, paired, not an internal error."""
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    for column in (
        [decimal.Decimal(i) for i in range(3)],
        [datetime.datetime(2024, 1, i + 1) for i in range(3)],
    ):
        for lang, order in (("en", [0, 1, 2]), ("ja", [2, 0, 1])):
            table = {
                "id": [column[i] for i in order],
                "instruction": [f"q{i}" for i in order],
                "input": [""] * 3,
                "output": ["a"] * 3,
            }
            pq.write_table(pa.table(table), tmp_path / f"{lang}.parquet")
        out = tmp_path / "out.jsonl"
        done = run_cli(
            "stream", f"en={tmp_path / 'en.parquet'}", f"ja={tmp_path / 'ja.parquet'}",
            "--key", "id", "-o", out, "--check", "all=off",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        pairs = [json.loads(line)["instruction"] for line in out.read_text().splitlines()]
        assert pairs == ["q0", "q0", "q1", "q1", "q2", "q2"]


def test_key_pairing_spills_waiting_records_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import converter.keyed

    monkeypatch.setattr(converter.keyed, "MEMORY_RECORDS", 5)
    en = [json.loads(line) for line in (SEED / "seed_tasks.en.jsonl").read_text().splitlines()]
    shuffled = tmp_path / "en2.jsonl"
    shuffled.write_text("".join(json.dumps(r) + "\n" for r in reversed(en)))
    report, status = run_stream(
        StreamJob(
            sources=[("en", str(SEED / "seed_tasks.en.jsonl")), ("ja", str(shuffled))],
            output=str(tmp_path / "o.jsonl"),
            key="id",
        )
    )
    assert status == 0 and report.groups_written == 175
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert all(a["instruction"] == b["instruction"] for a, b in zip(rows[::2], rows[1::2]))


def test_check_policies_from_a_config_file_and_all(tmp_path: Path) -> None:
    config = tmp_path / "checks.toml"
    config.write_text('[checks]\nempty = "reject"\nlanguage = "off"\n')
    report = tmp_path / "r.json"
    en = F.DATA / "alpaca-en-ja" / "alpaca_seed_tasks.en.json"
    ja = F.DATA / "alpaca-en-ja" / "alpaca_seed_tasks.ja.json"
    done = run_cli(
        "stream",
        f"en={en}",
        f"ja={ja}",
        "--checks-config",
        config,
        "--check",
        "duplicate=off",
        "-o",
        "/dev/null",
        "--report",
        report,
    )
    assert done.returncode == 0, done.stderr
    policies = {name: c["policy"] for name, c in json.loads(report.read_text())["checks"].items()}
    assert (
        policies["empty"] == "reject" and "language" not in policies and "duplicate" not in policies
    )
    assert policies["preserved"] == "warn"
    done = run_cli(
        "stream",
        f"en={en}",
        f"ja={ja}",
        "--check",
        "all=off",
        "--check",
        "empty=warn",
        "-o",
        "/dev/null",
        "--report",
        report,
    )
    assert list(json.loads(report.read_text())["checks"]) == ["empty"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[checks\n")
    done = run_cli("stream", f"en={en}", "--checks-config", bad)
    assert done.returncode == 2 and "cannot read the check configuration" in done.stderr.decode()


def test_a_languages_own_accepts_test_decides_before_the_script() -> None:
    """Two Latin-script languages: the classifier cannot tell French from English, the French
    plugin's ``accepts`` can; where it is unsure, the script decides as for any language."""

    def french(text: str) -> bool | None:
        words = set(text.lower().split())
        if words & {"le", "la", "les", "une"}:
            return True
        return False if words & {"the", "and", "with"} else None

    fr = Language("fr", "French", "FR", "Réponds en français.", frozenset({"latin"}), french)
    compare = LANGUAGE.start([ENGLISH, fr])

    def findings(instruction: str, output: str) -> list[str]:
        group = [
            Record("en", 0, "Write a short poem about the rain.", "", "The rain falls.", {}),
            Record("fr", 0, instruction, "", output, {}),
        ]
        return compare(group)

    assert findings("Écris un poème sur la pluie.", "La pluie tombe sur les toits.") == []
    assert findings("Écris un poème sur la pluie.", "The rain falls on the roofs and hills.") == [
        "fr: output is not French (its own test)"
    ]
    assert findings("Écris un poème.", "雨が屋根に降っています。静かな夜です。") == [
        "fr: output looks ja, not latin"
    ]


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(-3, 3)), min_size=1, max_size=400),
    gaps=st.lists(st.tuples(st.integers(0, 399), st.integers(1, 200)), max_size=4),
    start=st.integers(0, 399),
)
@example(values=[1.0] * 10 + [0.5] * 300, gaps=[(10, 150)], start=120)  # a long gap
def test_learned_ratios_depend_only_on_the_recent_groups(
    values: list[float | None], gaps: list[tuple[int, int]], start: int
) -> None:
    """A learned ratio read from HISTORY groups before ``start`` on equals the one learned from
    the first group: what a range of a parallel run relies on (groups in ``gaps`` never reach
    the learner, as filtered or rejected groups). Each group reads the value for itself, then
    learns, as the length-ratio check does: read as the value last learned, it came from
    before a long gap, which a range has not read (a range wrote groups that the single run
    rejected)."""
    skipped = {i for first, length in gaps for i in range(first, first + length)}
    steps = [(i, v) for i, v in enumerate(values) if i not in skipped]
    whole, late = TrailingMedian(), TrailingMedian()
    for index, value in steps:
        read = whole.value_at(index)
        whole.add(index, value)
        if index >= start:
            assert late.value_at(index) == read, index
        if index >= start - HISTORY:
            late.add(index, value)
        if index >= start:
            assert late.value == whole.value, index
