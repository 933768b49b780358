"""Anchors (converter.anchors): the fast substring path agrees with the full comparison."""

from __future__ import annotations

import json

from helpers import DOLLY_DIR
from hypothesis import given, settings
from hypothesis import strategies as st

from converter.anchors import (
    MAX_SEARCHED,
    find_anchors,
    holds_number,
    lost_in,
    missing,
    record_anchors,
    searched,
)
from converter.model import Record

#: Texts made of the characters that decide where numbers start and end.
TEXTS = st.text(alphabet="0123456789.,ab ８年", max_size=40)


def _record(text: str, instruction: str = "", input_: str = "") -> Record:
    return Record("ja", 0, instruction, input_, text, {})


@settings(max_examples=400, deadline=None)
@given(source=TEXTS, target=TEXTS)
def test_holds_number_only_for_whole_numbers(source: str, target: str) -> None:
    """The substring test says "held" only when the target's own anchors have the number:
    never for a number that is only part of a longer one (it may miss one written with
    thousands separators or full-width digits; the full comparison settles those)."""
    wanted = find_anchors(source).numbers
    have = find_anchors(target).numbers
    for number in wanted:
        if holds_number(target, number):
            assert number in have, (number, target)


@settings(max_examples=300, deadline=None)
@given(source=TEXTS, target=TEXTS)
def test_fast_path_agrees_with_full_comparison(source: str, target: str) -> None:
    """``lost_in`` reports exactly what comparing both texts' anchors reports."""
    anchors = find_anchors(source)
    assert lost_in(anchors, _record(target)) == missing(anchors, find_anchors(target))


def test_numbers_across_fields_and_full_width() -> None:
    """Numbers are looked for in every field; full-width digits count as the same number."""
    anchors = find_anchors("Sold 1,200 units in 2019 at https://example.com/p42.")
    assert anchors.numbers == {"1200", "2019"}
    assert anchors.urls == {"https://example.com/p42"}
    kept = _record("２０１９年に1,200個", instruction="https://example.com/p42 を見て")
    assert lost_in(anchors, kept) == []
    lost = _record("1200個", instruction="https://example.com/p42")
    assert lost_in(anchors, lost) == ["number 2019"]
    assert not holds_number("20190", "2019")
    assert not holds_number("12.5", "12")
    assert holds_number("12.", "12")
    assert holds_number("12\n3", "12")  # the fields of a record_text


def test_a_comma_joins_digits_only_as_a_thousands_separator() -> None:
    """ "July 10,1981" holds 10 and 1981, not 101981 (a false "lost number" on real Dolly
    data); "1,234,567" is one number; "1,2,3" none of two digits; "In 2019,500" two."""
    assert find_anchors("July 10,1981; 1,234,567 and 1,234.5; 1,2,3; 12,34").numbers == {
        "10", "1981", "1234567", "1234.5", "12", "34",
    }  # fmt: skip
    # a comma after four digits, or after a ".", separates two numbers
    assert find_anchors("In 2019,500 people; 12,345.6,789; 3.5,100").numbers == {
        "2019", "500", "12345.6", "789", "3.5", "100",
    }  # fmt: skip
    excerpt = "databricks-dolly-15k{}.head_00000-00011.jsonl"
    en = (DOLLY_DIR / "en-excerpts" / excerpt.format(".en")).read_text("utf-8").splitlines()
    ja = (DOLLY_DIR / "ja-excerpts" / excerpt.format("-ja")).read_text("utf-8").splitlines()
    source, target = json.loads(en[4]), json.loads(ja[4])
    assert source["response"] == "Tomoaki Komorida was born on July 10,1981."
    english = _record(source["response"], source["instruction"], source["context"])
    japanese = _record(target["output"], target["instruction"], target["input"])
    assert lost_in(record_anchors(english), japanese) == []


def test_a_table_of_many_numbers_is_compared_as_sets() -> None:
    """Past MAX_SEARCHED anchors the translation's own are found and compared (each number
    looked for in the whole text made the check quadratic on tables): a number dropped from
    a 200-row table is found, the intact table passes, a re-expressed one is not flagged."""
    rows = [f"| {2000 + k % 25} | {100_000 + 37 * k} |" for k in range(200)]
    source = record_anchors(Record("en", 0, "Sum the table.", "\n".join(rows), "Done.", {}))
    assert searched(source) > MAX_SEARCHED
    intact = Record(
        "ja", 0, "表を合計して。", "\n".join(r.replace(" |", "年 |", 1) for r in rows), "完了。", {}
    )
    assert lost_in(source, intact) == []
    dropped = Record("ja", 0, "表を合計して。", "\n".join(rows[:150] + rows[151:]), "完了。", {})
    assert lost_in(source, dropped) == [f"number {100_000 + 37 * 150}"]
