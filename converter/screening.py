"""Skip the built-in checks' compare where it surely finds nothing.

Most groups are clean. One call of the compiled screen (``converter._kernels.GroupScreen``) per
group tells which of the stateless built-in checks (empty, language, untranslated, preserved)
could find anything; the loop calls only those checks' compare, and the compare alone decides the
findings. Without the compiled kernels every compare runs. Checks with state (length-ratio,
duplicate, misalignment) and plugins' checks always run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from converter.builtin import checks as builtin
from converter.kernels import NATIVE
from converter.model import Check, Language, Record

#: Every bit set: run every compare.
ALL = -1


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


def group_screen(
    languages: Sequence[Language], enabled: int
) -> Callable[[list[Record]], int] | None:
    """The screen of a run in ``languages`` with the checks of mask ``enabled`` on: a group's
    mask of the checks to call (see :func:`screen_bits`); None when it has nothing to screen."""
    if NATIVE is None or not enabled:
        return None
    config = {
        lang.code: (builtin.takes_ascii(lang), lang.accepts is not None, frozenset(lang.scripts))
        for lang in languages
    }
    screen = NATIVE.GroupScreen(
        config,
        builtin.ASCII_LATIN_SHARE,
        builtin.MIN_LETTERS,
        builtin.PROSE_WORDS,
        enabled,
    )
    return screen.screen
