"""Anchors (converter.anchors): the fast substring path agrees with the full comparison."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from converter.anchors import find_anchors, holds_number, lost_in, missing
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
