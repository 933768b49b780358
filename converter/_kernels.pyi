from collections.abc import Callable, Iterator
from typing import Any

RATIO_GROUPS: int
REFRESH: int

class TrailingMedian:
    value: float
    warmup: int
    def __init__(self, warmup: int = 16, default: float = 0.0) -> None: ...
    def add(self, index: int, value: float | None) -> bool: ...

class Scorer:
    def __init__(self, record_type: type) -> None: ...
    def score(
        self, source: Any, target: Any, centre_instruction: float, centre_output: float
    ) -> float: ...
    def learn(
        self, source: Any, target: Any, instruction: TrailingMedian, output: TrailingMedian
    ) -> bool: ...

def numbers(text: str) -> frozenset[str]: ...
def holds_number(text: str, number: str) -> bool: ...
def quick_script(text: str, latin_share: float, min_letters: int) -> str | None: ...
def key_text(instruction: str, input: str) -> str: ...
def anchor_parts(
    text: str,
) -> tuple[frozenset[str], frozenset[str], frozenset[str], int] | None: ...

EMPTY: int
LANGUAGE: int
UNTRANSLATED: int
PRESERVED: int

class GroupScreen:
    def __init__(
        self,
        languages: dict[str, tuple[bool, bool, frozenset[str]]],
        latin_share: float,
        min_letters: int,
        min_prose: int,
        enabled: int,
    ) -> None: ...
    def screen(self, group: list[Any]) -> int: ...

class Aligner:
    repairs: list[dict[str, Any]]
    def __init__(
        self,
        streams: list[Iterator[Any]],
        langs: list[str],
        realign: bool,
        record_type: type,
        gap_type: type,
        scorer: Scorer,
        medians: Callable[[], Any],
        window: int,
        margin: float,
    ) -> None: ...
    def groups(self) -> Iterator[tuple[Any, ...]]: ...
    def drain(self, k: int) -> int: ...

class LengthRatios:
    def __init__(
        self, typical: dict[str, dict[str, Any]], limit: float, min_length: int
    ) -> None: ...
    def __call__(self, group: list[Any]) -> list[str]: ...

def bloom_add(bits: bytearray, mask: int, key: int) -> bool: ...
def blake2b_key(data: bytes) -> int: ...
def duplicate_key(instruction: str, input: str) -> int: ...
def misalignment_findings(group: list[Any]) -> list[str]: ...
