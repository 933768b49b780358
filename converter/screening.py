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
from typing import Any

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


def check_step(
    languages: Sequence[Language],
    checks: Sequence[tuple[Check, Compare]],
    tallies: Sequence[CheckStats | None] | None = None,
) -> Callable[[list[Record]], Found | None]:
    """The check step of a run in ``languages`` with these checks and their compares, in
    order: ``step(group)`` gives each compare that found something, by position, with its
    findings (None or empty when none did).

    ``tallies``: per compare, the stats of a warn-only check (else None). The compiled step
    counts such a check's warnings in its stats itself once they hold all their examples, and
    leaves them out of what it gives; the caller counts everything given."""
    compares = [compare for _, compare in checks]
    if NATIVE is not None:
        bits = [screen_bits(check) for check, _ in checks]
        step: Callable[[list[Record]], Found | None]
        screen = group_screen(languages, sum(bits))
        step = NATIVE.CheckStep(compares, bits, screen, list(tallies or []) or None, EXAMPLES)
        return step

    def run_all(group: list[Record]) -> Found:
        found = []
        for k, compare in enumerate(compares):
            findings = compare(group)
            if findings:
                found.append((k, findings))
        return found

    return run_all
