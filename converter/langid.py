"""Script-based language guess for English/Latin, Japanese, Chinese and Korean text.

The one shared classifier of the core: it counts characters by class and decides by a few ratios
(no model, stdlib only). Characters are classed with ONE ``str.translate`` into class letters,
then counted with ``str.count``:

* ``latin``: Latin letters (ASCII, Latin-1, Latin Extended-A/B and Additional, full-width);
* ``kana``: hiragana, katakana (not the middle dot ``・``), half-width and circled katakana;
* ``han``: all Han characters (CJK Unified Ideographs, extensions, compatibility ideographs),
  *including* the three subclasses below;
* ``ja_only``: Han forms used only in Japanese (shinjitai such as 図 駅 気 検 実, kokuji, 々);
* ``simplified_only`` / ``traditional_only``: Han characters that exist only in Simplified
  (resp. only in Traditional) Chinese;
* ``hangul``: Hangul syllables and jamo;
* ``cjk_punct``: CJK sentence punctuation (、。，！？：；), a sign of CJK prose.

The three subclass tables come from OpenCC's dictionaries (Apache-2.0) through
``tools/gen_char_tables.py`` (see ``converter/_char_tables.py``). Code (fenced and inline), URLs
and e-mail addresses are removed first (:func:`strip_noise`), so a Japanese answer made mostly of
code is still judged by its prose.

The decision rules and their thresholds (named constants below) are listed in :func:`classify`.
The guess names a *script*, not a language: ``latin`` cannot tell English from French. Judge each
field on its own where possible: a Japanese instruction followed by an untranslated English
output reads as Japanese when both are classified as one text.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from converter._char_tables import JA_ONLY, SIMPLIFIED_ONLY, TRADITIONAL_ONLY

__all__ = [
    "AMBIGUOUS_MIX_RATIO",
    "CLASS_TABLE",
    "JA_ONLY_MIN_SHARE",
    "KANA_MIN_SHARE",
    "KANA_SHORT_CJK",
    "KO_MIN_SHARE",
    "LATIN_DOMINANCE",
    "MIN_LATIN_LETTERS",
    "MIX_MIN_CHARS",
    "PROSE_LATIN_CAP",
    "PROSE_MIN_CJK",
    "SCRIPTS",
    "Guess",
    "ScriptCounts",
    "classify",
    "count_scripts",
    "strip_noise",
]

# --- Decision thresholds (see classify) -------------------------------------------------------

#: Fewer Latin letters than this and no CJK character at all: no language (``und``).
#: ``OK``, ``42``, ``3.14``, ``$1,299.00``, a bare URL or code block fall here.
MIN_LATIN_LETTERS: Final = 3
#: Latin letters must outnumber CJK characters by more than this factor for ``latin``
#: (an English sentence quoting 村上春樹 stays Latin; ``iPhone 15を買った`` does not)...
LATIN_DOMINANCE: Final = 2
#: ...unless the CJK part is prose: at least this many CJK characters with CJK sentence
#: punctuation (、。，！？：；) among them. English quoting names or titles has no 。/、, while a
#: Japanese or Chinese instruction followed by code, or listing English titles, has.
PROSE_MIN_CJK: Final = 8
#: ...and Latin letters at most this many times the CJK characters (an English article that
#: quotes one Japanese sentence stays Latin). On the real data, code after a Japanese/Chinese
#: instruction reaches 18x.
PROSE_LATIN_CAP: Final = 24
#: Hangul at least this share of all CJK characters: Korean. Japanese and Chinese never use
#: Hangul, while Korean written with hanja (大韓民國은 民主共和國이다) keeps only particles and
#: endings in Hangul (25 % there); the research's 1/3 would miss it.
KO_MIN_SHARE: Final = 0.2
#: Kana at least this share of kana + Han: Japanese. Chinese never uses kana, but Chinese text
#: may quote a Japanese word; 5 % leaves room for that.
KANA_MIN_SHARE: Final = 0.05
#: Any kana at all in a text with fewer CJK characters than this: Japanese (``はい``, ``東京へ``).
KANA_SHORT_CJK: Final = 8
#: Japanese-only Han forms at least this share of the Han characters: Japanese even without
#: kana (``駅前広場集合。``).
JA_ONLY_MIN_SHARE: Final = 0.05
#: Both Simplified-only and Traditional-only characters present, the smaller count at least this
#: fraction of the larger: Japanese (shinjitai 国 学 会 are Simplified-only, 語 時 間 are
#: Traditional-only). Chinese text leans heavily one way: in 1,000 real Simplified records the
#: ratio never passed 0.11 (67 vs 4), while in Japanese it has a median of 0.25 -- the rule is
#: only needed for Japanese without kana, which rule 5 mostly catches already.
AMBIGUOUS_MIX_RATIO: Final = 0.3
#: ...and together at least this many, so that one stray character of each is no evidence.
MIX_MIN_CHARS: Final = 3

#: Every value :func:`classify` can return as ``Guess.script``.
SCRIPTS: Final = ("und", "latin", "ja", "zh", "ko")


class ScriptCounts(NamedTuple):
    """Character counts per class; ``han`` includes ``ja_only``/``*_only``.

    ``cjk_punct`` counts CJK sentence punctuation (、。，！？：；), evidence of CJK prose.
    """

    latin: int = 0
    kana: int = 0
    han: int = 0
    ja_only: int = 0
    simplified_only: int = 0
    traditional_only: int = 0
    hangul: int = 0
    cjk_punct: int = 0

    @property
    def cjk(self) -> int:
        """Kana + Han + Hangul."""
        return self.kana + self.han + self.hangul


class Guess(NamedTuple):
    """Result of :func:`classify`.

    ``script`` is one of :data:`SCRIPTS`; ``variant`` is ``"Hans"``/``"Hant"`` for ``zh`` when
    the text has more Simplified-only (resp. Traditional-only) characters, else ``None``.
    """

    script: str
    variant: str | None
    counts: ScriptCounts


# --- Character classes -------------------------------------------------------------------------

_LATIN, _KANA, _HAN, _JA, _SIMP, _TRAD, _HANGUL, _PUNCT = "LKHJSTGP"

# Ranges (inclusive) per class. Later assignments win, so the Han subclasses come last.
_LATIN_RANGES: Final = (
    (0x41, 0x5A),
    (0x61, 0x7A),
    (0xC0, 0xD6),
    (0xD8, 0xF6),
    (0xF8, 0x24F),  # Latin-1 letters, Latin Extended-A and -B
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese)
    (0xFF21, 0xFF3A),
    (0xFF41, 0xFF5A),  # full-width A-Z a-z
)
_KANA_RANGES: Final = (
    (0x3041, 0x3096),  # hiragana
    (0x3099, 0x309F),  # voicing marks, ゝ ゞ ゟ
    (0x30A1, 0x30FA),  # katakana (U+30FB ・ is used in Chinese too: not counted)
    (0x30FC, 0x30FF),  # ー ヽ ヾ ヿ
    (0x31F0, 0x31FF),  # small katakana extensions
    (0x32D0, 0x32FE),  # circled katakana
    (0xFF66, 0xFF9F),  # half-width katakana
    (0x1B000, 0x1B16F),  # kana supplement / extended
)
_HAN_RANGES: Final = (
    (0x3007, 0x3007),  # 〇
    (0x3400, 0x4DBF),  # extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0x20000, 0x2A6DF),  # extension B
    (0x2A700, 0x2EE5F),  # extensions C-F, I
    (0x2F800, 0x2FA1F),  # compatibility supplement
    (0x30000, 0x323AF),  # extensions G, H
)
_PUNCT_RANGES: Final = (
    (0x3001, 0x3002),  # 、 。
    (0xFF01, 0xFF01),  # ！
    (0xFF0C, 0xFF0C),  # ，
    (0xFF0E, 0xFF0E),  # ．
    (0xFF1A, 0xFF1B),  # ： ；
    (0xFF1F, 0xFF1F),  # ？
    (0xFF61, 0xFF61),
    (0xFF64, 0xFF64),  # half-width 。 、
)
_HANGUL_RANGES: Final = (
    (0x1100, 0x11FF),  # jamo
    (0x3131, 0x318E),  # compatibility jamo
    (0xA960, 0xA97F),
    (0xAC00, 0xD7A3),  # syllables
    (0xD7B0, 0xD7FF),
    (0xFFA0, 0xFFDC),  # half-width
)

#: One past the highest code point classed; translate() keeps anything above (plane 14-16).
_TABLE_SIZE: Final = 0x323B0


def _build_table() -> str:
    """Return the translate table: a string indexed by code point, holding its class letter.

    Characters of no class map to ``.``, which is never counted. A string is the cheapest
    mapping for ``str.translate`` (a one-character ASCII string per lookup, 200 KB in all), and
    covering every code point up to the last Han extension means ``translate`` never pays for a
    failed lookup on ordinary text.
    """
    table = ["."] * _TABLE_SIZE
    for letter, ranges in (
        (_LATIN, _LATIN_RANGES),
        (_KANA, _KANA_RANGES),
        (_HAN, _HAN_RANGES),
        (_HANGUL, _HANGUL_RANGES),
        (_PUNCT, _PUNCT_RANGES),
    ):
        for first, last in ranges:
            table[first : last + 1] = [letter] * (last - first + 1)
    for letter, chars in ((_SIMP, SIMPLIFIED_ONLY), (_TRAD, TRADITIONAL_ONLY), (_JA, JA_ONLY)):
        for char in chars:
            table[ord(char)] = letter
    return "".join(table)


#: A class letter per code point (the compiled classifier reads it too).
CLASS_TABLE: Final = _build_table()

# For pure-ASCII text only Latin letters can occur: bytes.translate drops everything else.
_ASCII_NON_LETTERS: Final = bytes(c for c in range(128) if not chr(c).isalpha())

# --- Noise removal -----------------------------------------------------------------------------

_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_NOISE_RE: Final = re.compile(
    r"```.*?(?:```|\Z)"  # fenced code block (an unclosed fence runs to the end)
    r"|`[^`\n]*`"  # inline code
    rf"|(?:[Hh][Tt][Tt][Pp][Ss]?://|(?<![A-Za-z0-9.])[Ww][Ww][Ww]\.){_URL_CHARS}+"  # URLs
    # e-mail addresses; the look-behind starts the local part only at the start of a run, so a
    # long run of letters is scanned once, not once per position
    r"|(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+",
    re.DOTALL,
)


def _may_have_noise(text: str) -> bool:
    """Cheap pre-test: can :data:`_NOISE_RE` match at all? (``www.`` in any case ends in one of
    the four forms of ``ww.``.)"""
    return (
        "`" in text
        or "@" in text
        or "://" in text
        or "ww." in text
        or "WW." in text
        or "Ww." in text
        or "wW." in text
    )


def strip_noise(text: str) -> str:
    """Remove fenced code blocks, inline code, URLs and e-mail addresses from ``text``.

    Each removed span becomes one space. An unclosed ```` ``` ```` fence removes the rest of
    the text. Text without any of them is returned unchanged (the same object).
    """
    if not _may_have_noise(text):
        return text
    return _NOISE_RE.sub(" ", text)


# --- Counting and deciding -----------------------------------------------------------------------

_NO_COUNTS: Final = ScriptCounts()
# tuple.__new__ skips the Python-level __new__ of a NamedTuple (about 0.1 us a call, a few
# percent on 25-char texts); the tuples below list every field in the class's order.
_new = tuple.__new__


def _count_clean(text: str) -> ScriptCounts:
    """Count character classes of already de-noised text."""
    if text.isascii():
        # Fast path: only Latin letters are possible; bytes.translate deletes the rest.
        latin = len(text.encode("ascii").translate(None, _ASCII_NON_LETTERS))
        return _new(ScriptCounts, (latin, 0, 0, 0, 0, 0, 0, 0)) if latin else _NO_COUNTS
    classes = text.translate(CLASS_TABLE)
    ja_only = classes.count(_JA)
    simp = classes.count(_SIMP)
    trad = classes.count(_TRAD)
    return _new(
        ScriptCounts,
        (
            classes.count(_LATIN),
            classes.count(_KANA),
            classes.count(_HAN) + ja_only + simp + trad,
            ja_only,
            simp,
            trad,
            classes.count(_HANGUL),
            classes.count(_PUNCT),
        ),
    )


def count_scripts(text: str) -> ScriptCounts:
    """Count the characters of each script class in ``text`` after :func:`strip_noise`."""
    return _count_clean(strip_noise(text))


def _decide(counts: ScriptCounts) -> tuple[str, str | None]:
    """Apply the rules of :func:`classify` to ``counts``: return ``(script, variant)``."""
    latin, kana, han, ja_only, simp, trad, hangul, punct = counts
    cjk = kana + han + hangul
    if cjk == 0:
        return ("latin" if latin >= MIN_LATIN_LETTERS else "und"), None
    if latin > LATIN_DOMINANCE * cjk and not (
        punct and cjk >= PROSE_MIN_CJK and latin <= PROSE_LATIN_CAP * cjk
    ):
        return "latin", None
    if hangul >= KO_MIN_SHARE * cjk:
        return "ko", None
    if kana and (kana >= KANA_MIN_SHARE * (kana + han) or cjk < KANA_SHORT_CJK):
        return "ja", None
    if ja_only and ja_only >= JA_ONLY_MIN_SHARE * han:
        return "ja", None
    if (
        simp
        and trad
        and simp + trad >= MIX_MIN_CHARS
        and min(simp, trad) >= AMBIGUOUS_MIX_RATIO * max(simp, trad)
    ):
        return "ja", None
    if simp > trad:
        return "zh", "Hans"
    if trad > simp:
        return "zh", "Hant"
    return "zh", None


def classify(text: str) -> Guess:
    """Guess the script/language of ``text``: ``und``, ``latin``, ``ja``, ``zh`` or ``ko``.

    Rules, in order, on the counts of :func:`count_scripts` (CJK = kana + Han + Hangul):

    1. no CJK: ``latin`` with at least :data:`MIN_LATIN_LETTERS` Latin letters, else ``und``
       (digits, symbols, code, URLs, and also scripts not counted here, e.g. Cyrillic);
    2. Latin letters > :data:`LATIN_DOMINANCE` x CJK: ``latin`` -- unless the CJK part is
       prose (:data:`PROSE_MIN_CJK` or more CJK characters including CJK sentence punctuation)
       and Latin letters are at most :data:`PROSE_LATIN_CAP` x CJK (code or English titles
       inside Japanese/Chinese text);
    3. Hangul >= :data:`KO_MIN_SHARE` of CJK: ``ko``;
    4. kana >= :data:`KANA_MIN_SHARE` of kana + Han, or any kana in fewer than
       :data:`KANA_SHORT_CJK` CJK characters: ``ja``;
    5. Japanese-only Han forms >= :data:`JA_ONLY_MIN_SHARE` of Han: ``ja``;
    6. Simplified-only and Traditional-only both present in similar numbers
       (:data:`AMBIGUOUS_MIX_RATIO`, :data:`MIX_MIN_CHARS`): ``ja`` (shinjitai mixes both);
    7. otherwise ``zh``, variant ``Hans``/``Hant`` by the larger of the two counts, ``None``
       when they are equal (e.g. ``你好`` has neither).
    """
    counts = count_scripts(text)
    return _new(Guess, (*_decide(counts), counts))
