"""The bounded-memory seen set: exact answers across the in-memory batch and spilled runs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import converter.seen as seen
from converter.seen import SeenSet, key_of


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seen, "BATCH", 64)
    monkeypatch.setattr(seen, "STRIDE", 8)
    monkeypatch.setattr(seen, "BITS", 1 << 10)  # a tiny filter: many "maybe" answers


def test_first_seen_is_exact_across_spilled_runs(small_batches: None) -> None:
    s = SeenSet()
    for i in range(1000):
        assert s.first_seen(key_of(f"text {i}"), i) is None
    assert len(s.runs) > 10
    for i in range(0, 1000, 7):
        assert s.first_seen(key_of(f"text {i}"), -1) == i
    assert s.first_seen(key_of("never seen"), 5) is None
    s.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=400))
def test_first_seen_matches_a_dict(keys: list[int]) -> None:
    s, reference = SeenSet(), {}
    s.batch, s.bits, s.mask = 32, bytearray(64), 511  # spill often, answer "maybe" often
    for i, key in enumerate(keys):
        assert s.first_seen(key, i) == reference.get(key)
        reference.setdefault(key, i)
    s.close()
