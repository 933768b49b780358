"""The loop's check step: every check's compare on a group, but those that surely find nothing.

Most groups are clean. With the compiled kernels, one call (``converter._kernels.CheckStep``)
runs a group's checks: the compiled screen (``GroupScreen``) tells which of the stateless
built-in checks (empty, language, untranslated, preserved) could find anything, only those
checks' compares run (the compare alone decides the findings), and the built-in kernels are
called without Python in between. Checks with state (length-ratio, duplicate, misalignment) and
plugins' checks always run. Without the kernels every compare runs, in order, from Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from converter.builtin import checks as builtin
from converter.kernels import NATIVE
from converter.model import Check, Language, Record
from converter.report import EXAMPLES, CheckStats

#: A check's compare for one run: a group's findings.
Compare = Callable[[list[Record]], list[str]]
#: Each compare's findings, by its position in the run's compares.
Found = list[tuple[int, list[str]]]


def screen_bits(check: Check) -> int:
    """The screen's bit of a built-in stateless check; 0 (never skipped) for any other."""
    if NATIVE is None:
        return 0
    bits = {
        builtin.EMPTY: NATIVE.EMPTY,
        builtin.LANGUAGE: NATIVE.LANGUAGE,
        builtin.UNTRANSLATED: NATIVE.UNTRANSLATED,
        builtin.PRESERVED: NATIVE.PRESERVED,
    }
    return next((bit for known, bit in bits.items() if check is known), 0)


def group_screen(languages: Sequence[Language], enabled: int) -> Any:
    """The compiled screen (``GroupScreen``) of a run in ``languages`` with the checks of mask
    ``enabled`` on: ``screen(group)`` is the mask of the checks to call (see
    :func:`screen_bits`); None when there is nothing to screen."""
    if NATIVE is None or not enabled:
        return None
    config = {
        lang.code: (builtin.takes_ascii(lang), lang.accepts is not None, frozenset(lang.scripts))
        for lang in languages
    }
    return NATIVE.GroupScreen(
        config,
        builtin.ASCII_LATIN_SHARE,
        builtin.MIN_LETTERS,
        builtin.PROSE_WORDS,
        enabled,
    )


class CheckStep(Protocol):
    """A run's check step (see :func:`check_step`)."""

    def __call__(self, group: list[Record]) -> Found | None:
        """Each compare that found something in ``group``, by position, with its findings."""

    def settle(self) -> None:
        """Add the warnings the step counted itself to their stats (at the end of a run)."""


class _EveryCompare:
    """The check step without the kernels: every compare, in order, from Python."""

    def __init__(self, compares: list[Compare]) -> None:
        self.compares = compares

    def __call__(self, group: list[Record]) -> Found:
        """Each compare that found something in ``group``, by position, with its findings."""
        found = []
        for k, compare in enumerate(self.compares):
            findings = compare(group)
            if findings:
                found.append((k, findings))
        return found

    def settle(self) -> None:
        """Nothing to add: every finding was given to the caller."""


def check_step(
    languages: Sequence[Language],
    checks: Sequence[tuple[Check, Compare]],
    tallies: Sequence[CheckStats | None] | None = None,
) -> CheckStep:
    """The check step of a run in ``languages`` with these checks and their compares, in
    order: ``step(group)`` gives each compare that found something, by position, with its
    findings (None or empty when none did).

    ``tallies``: per compare, the stats of a warn-only check (else None). The compiled step
    counts such a check's warnings itself once its stats hold all their examples, and leaves
    them out of what it gives; ``step.settle()`` adds those counts to the stats. The caller
    counts everything given."""
    compares = [compare for _, compare in checks]
    if NATIVE is None:
        return _EveryCompare(compares)
    bits = [screen_bits(check) for check, _ in checks]
    screen = group_screen(languages, sum(bits))
    step: CheckStep = NATIVE.CheckStep(
        compares, bits, screen, list(tallies or []) or None, EXAMPLES
    )
    return step
