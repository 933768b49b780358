"""Built-in translator-checks. Each is per-record features plus a cheap per-group comparison;
the first record of a group is the source of the translation, the others its translations."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from converter import hookimpl
from converter.alignment import trailing_median
from converter.anchors import lost_in, record_anchors
from converter.kernels import NATIVE
from converter.langid import CLASS_TABLE, classify
from converter.model import Check, Language, Record
from converter.seen import SeenSet, key_of

#: Texts with fewer letters than this are not judged by the language check.
MIN_LETTERS = 12
#: Share of ASCII characters from which a field is taken for Latin script without counting.
ASCII_LATIN_SHARE = 0.9
#: Words a field needs before an identical copy counts as untranslated prose.
PROSE_WORDS = 4
#: Source fields shorter than this (characters) are not judged by the length-ratio check.
MIN_RATIO_LENGTH = 24
#: A field whose length ratio is this many times off the run's typical ratio is an outlier.
RATIO_FACTOR = 5.0
#: Values the typical ratio is learned from before it is refreshed only now and then.
RATIO_WARMUP = 32
_KANA = re.compile("[\u3041-\u309f\u30a1-\u30fa]")
#: Characters the classifier may count as letters: ASCII letters and any non-ASCII character
#: but CJK spaces and punctuation and full-width digits.
_MAYBE_LETTERS = re.compile(
    "[A-Za-z]|[^\x00-\x7f\u3000-\u3002\u300c\u300d\u30fb\uff10-\uff19"
    "\uff01\uff0c\uff0e\uff1a\uff1b\uff1f]"
)
_WORD = re.compile("[A-Za-z]{3}")
#: Characters of scripts written without spaces between words (kana, CJK ideographs, those
#: beyond the BMP too): each ends a word, and every ``UNSPACED_PER_WORD`` of them count as one
#: word of prose.
_UNSPACED = re.compile(
    "[\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)
UNSPACED_PER_WORD = 3
#: CJK punctuation and full-width symbols: between words, as a space is.
_CJK_GAP = re.compile("[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]")
#: Words a line of code starts with (after any indentation).
CODE_WORDS = (
    *("def", "class", "import", "from", "return", "SELECT", "INSERT", "UPDATE", "for"),
    *("while", "if", "function", "var", "let", "const", "#include", "public", "print"),
)
#: A line that starts indented by two or more spaces, or with one of the code words.
_CODE_LINE = re.compile(rf"^(?:\s{{2,}}\S|\s*(?:{'|'.join(CODE_WORDS)})\b)", re.MULTILINE)
_CODE_SYMBOLS = "{}[]()<>=;_\\$^*|"
#: Share of code symbols above which a field is taken for code (or a formula), not prose.
CODE_SYMBOL_SHARE = 0.05


def looks_like_code(text: str) -> bool:
    """True for code, SQL, regular expressions and formulas, which are not translated."""
    if _CODE_LINE.search(text):
        return True
    return sum(map(text.count, _CODE_SYMBOLS)) > CODE_SYMBOL_SHARE * len(text)


def prose_words(text: str) -> int:
    """The words of ``text``: runs of characters between spaces (CJK punctuation counts as
    one), where a character of a script written without spaces (Japanese, Chinese) ends a run
    and three of them count as a word (a short name is left alone)."""
    spaced, unspaced = _UNSPACED.subn(" ", _CJK_GAP.sub(" ", text))
    return len(spaced.split()) + unspaced // UNSPACED_PER_WORD


def is_prose(text: str, words: int) -> bool:
    """The untranslated check's test of an identical field: ``words`` words or more (see
    :func:`prose_words`), not code."""
    return prose_words(text) >= words and not looks_like_code(text)


if NATIVE is not None:
    NATIVE.code_rules(CODE_WORDS, _CODE_SYMBOLS, CODE_SYMBOL_SHARE)
#: The compiled twins where built.
_looks_like_code = NATIVE.looks_like_code if NATIVE else looks_like_code
_is_prose = NATIVE.is_prose if NATIVE else is_prose


def _blank(text: str) -> bool:
    return not text or text.isspace()


def compare_empty(group: list[Record]) -> list[str]:
    """Find required fields left empty, and an input empty on one side of the pair only."""
    blank_inputs = 0
    for record in group:  # fast path: the common all-filled group allocates nothing
        if _blank(record.instruction) or _blank(record.output):
            break
        blank_inputs += _blank(record.input)
    else:
        if blank_inputs == 0 or blank_inputs == len(group):
            return []
    findings = [
        f"{record.lang}: {name} is empty"
        for record in group
        for name, text in (("instruction", record.instruction), ("output", record.output))
        if _blank(text)
    ]
    empty_inputs = [record.lang for record in group if _blank(record.input)]
    if empty_inputs and len(empty_inputs) < len(group):
        findings.append(f"input empty in {','.join(empty_inputs)} but not in the others")
    return findings


def field_script(text: str) -> str:
    """The script ``text`` is written in, ``und`` when too short or ambiguous to tell.

    Cheap tests first: (almost) all-ASCII text is Latin (or nothing); mostly non-ASCII text
    with kana is Japanese; only the rest goes through the full classifier. Han without kana
    and without Simplified-only forms may be Japanese or Traditional Chinese: ``und``.
    """
    quick = _quick_script(text, ASCII_LATIN_SHARE, MIN_LETTERS)
    if quick is not None:
        return quick
    guess = classify(text[:2000])
    counts = guess.counts
    if counts.latin + counts.cjk < MIN_LETTERS // 3:
        return "und"
    if guess.script == "zh" and not counts.kana and not counts.simplified_only:
        return "und"
    return guess.script


def quick_script(text: str, latin_share: float, min_letters: int) -> str | None:
    """The cheap tests of :func:`field_script`: "latin" or "und" for text with at least
    ``latin_share`` ASCII, "ja" for text under 70% ASCII with kana, "und" for text with too few
    letters to judge (such as ``2024、79``); None when the classifier must decide."""
    ascii_chars = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
    if ascii_chars >= latin_share * len(text):  # Latin by rule 2 of the classifier
        return "latin" if len(text) >= min_letters and _WORD.search(text) else "und"
    if ascii_chars < 0.7 * len(text) and _KANA.search(text):
        return "ja"
    if len(_MAYBE_LETTERS.findall(text)) < min_letters // 3:
        return "und"  # the classifier counts no more letters than these
    return None


_quick_script = NATIVE.quick_script if NATIVE else quick_script
if NATIVE is not None:  # the compiled screen classifies what the quick tests leave
    NATIVE.bind_classes(CLASS_TABLE)


def takes_ascii(lang: Language) -> bool:
    """Whether the language check takes an ASCII text in ``lang`` without classifying it: a
    Latin-script language (or one without scripts) without its own ``accepts`` test."""
    return lang.accepts is None and (not lang.scripts or "latin" in lang.scripts)


def _language_check(languages: Sequence[Language]) -> Callable[[list[Record]], list[str]]:
    """The language check for these languages: a language's own ``accepts`` test decides
    first where it has one and is sure; otherwise the classifier's script must be one of the
    language's ``scripts``. ASCII text is Latin or too short to judge (``und``), so a Latin-script
    language without ``accepts`` takes it without classifying."""
    by_code = {lang.code: (lang, takes_ascii(lang)) for lang in languages}

    def compare(group: list[Record]) -> list[str]:
        findings = []
        for record in group:
            lang, takes_ascii = by_code[record.lang]
            for name in ("instruction", "output"):
                text = getattr(record, name)
                if takes_ascii and text.isascii():
                    continue
                verdict = None if lang.accepts is None else lang.accepts(text)
                if verdict:
                    continue
                script = field_script(text) if verdict is None else ""
                if verdict is None and (
                    script == "und" or not lang.scripts or script in lang.scripts
                ):
                    continue
                if _looks_like_code(text):  # code is not translated
                    continue
                if verdict is False:
                    findings.append(f"{record.lang}: {name} is not {lang.name} (its own test)")
                else:
                    want = "/".join(sorted(lang.scripts))
                    findings.append(f"{record.lang}: {name} looks {script}, not {want}")
        return findings

    return compare


LANGUAGE = Check(
    name="language",
    description="instruction or output not in the declared language (code, URLs set aside)",
    configure=_language_check,
    range_safe=True,  # no state: configure takes the languages
)


def compare_untranslated(group: list[Record]) -> list[str]:
    """Find translated fields identical to the source's, when they are prose (not code, data
    or a name)."""
    source = group[0]
    findings = []
    for record in group[1:]:
        for name in ("instruction", "input", "output"):
            text = getattr(record, name)
            if text == getattr(source, name) and _is_prose(text, PROSE_WORDS):
                findings.append(f"{record.lang}: {name} is identical to {source.lang}'s")
    return findings


def compare_preserved(group: list[Record]) -> list[str]:
    """Find anchors of the source that a translation lost."""
    source = record_anchors(group[0])
    if not source:
        return []
    findings = []
    for record in group[1:]:
        lost = lost_in(source, record)
        if lost:
            findings.append(f"{record.lang}: lost {', '.join(lost[:5])}")
    return findings


def _length_ratio_check(languages: Sequence[Language]) -> Callable[[list[Record]], list[str]]:
    """The length-ratio check: each translated field's log length ratio to the source's against
    the pair's typical one, learned from the recent groups' ratios within the limit of any
    language pair (alignment.TrailingMedian: the same wherever a run starts reading)."""
    typical = {
        lang.code: {name: trailing_median(RATIO_WARMUP) for name in ("instruction", "output")}
        for lang in languages
    }
    limit = math.log(RATIO_FACTOR)
    if NATIVE is not None:  # the compiled twin of compare below
        compiled: Callable[[list[Record]], list[str]] = NATIVE.LengthRatios(
            typical, limit, MIN_RATIO_LENGTH
        )
        return compiled

    def compare(group: list[Record]) -> list[str]:
        source = group[0]
        findings = []
        for record in group[1:]:
            for name, learned in typical[record.lang].items():
                a, b = len(getattr(source, name)), len(getattr(record, name))
                if a < MIN_RATIO_LENGTH or not b:  # an empty field is the empty check's
                    learned.add(source.index, None)
                    continue
                ratio = math.log(b / a)
                # (equal lengths are typical until the ratio is learned)
                if abs(ratio - learned.value_at(source.index)) > limit:
                    findings.append(
                        f"{record.lang}: {name} is {b} characters for {source.lang}'s {a}"
                    )
                learned.add(source.index, ratio if abs(ratio) <= limit else None)
        return findings

    return compare


LENGTH_RATIO = Check(
    name="length-ratio",
    description=f"a field more than {RATIO_FACTOR:g}x longer or shorter than usual for the pair",
    configure=_length_ratio_check,
    range_safe=True,  # learned from the recent groups only (alignment.TrailingMedian)
)


def duplicate_key(source: Record) -> int:
    """The duplicate check's key of a group: its source's instruction and input, case and
    spacing normalised, hashed to 64 bits (the same in every process)."""
    return _source_key(source.instruction, source.input)


def key_text(instruction: str, input_: str) -> str:
    """The duplicate check's text of a source: instruction and input, casefolded, each run of
    whitespace one space."""
    return " ".join(f"{instruction}\n{input_}".casefold().split())


def source_key(instruction: str, input_: str) -> int:
    """The key of a source with these fields: its :func:`key_text` hashed (seen.key_of)."""
    return key_of(key_text(instruction, input_))


_source_key = NATIVE.duplicate_key if NATIVE else source_key


def duplicate_finding(lang: str, earlier: int) -> str:
    """The duplicate check's finding for a group whose source was first seen at ``earlier``."""
    return f"same {lang} instruction and input as index {earlier}"


def _duplicate_check(languages: Sequence[Language]) -> Callable[[list[Record]], list[str]]:
    return duplicate_compare(SeenSet())


def duplicate_compare(seen: SeenSet) -> Callable[[list[Record]], list[str]]:
    """The duplicate check's compare, remembering the sources in ``seen`` (the compiled one
    when the kernels are built)."""
    if NATIVE is not None:
        compiled: Callable[[list[Record]], list[str]] = NATIVE.Duplicates(seen, duplicate_finding)
        return compiled

    def compare(group: list[Record]) -> list[str]:
        source = group[0]
        key = _source_key(source.instruction, source.input)  # duplicate_key, one call less
        earlier = seen.first_seen(key, source.index)
        return [] if earlier is None else [duplicate_finding(source.lang, earlier)]

    return compare


DUPLICATE = Check(
    name="duplicate",
    description="the source's instruction and input were seen before (exact after normalising)",
    configure=_duplicate_check,
    range_safe=True,  # range mode settles duplicates at the merge (loop.RangeView)
)


def compare_misalignment(group: list[Record]) -> list[str]:
    """Report the shift the aligner found around this group (see converter.alignment)."""
    return [
        r.features["misalignment"] for r in group if r.features and "misalignment" in r.features
    ]


_compare_misalignment = NATIVE.misalignment_findings if NATIVE else compare_misalignment


EMPTY = Check(
    name="empty",
    compare=compare_empty,
    description="instruction or output empty, or input empty on one side only",
)
UNTRANSLATED = Check(
    name="untranslated",
    compare=compare_untranslated,
    description="a translated field identical to the source's (prose, not code)",
)
PRESERVED = Check(
    name="preserved",
    compare=compare_preserved,
    description="numbers, URLs, code blocks or placeholders lost in translation",
)
BUILTIN_CHECKS = (
    EMPTY,
    LANGUAGE,
    UNTRANSLATED,
    PRESERVED,
    LENGTH_RATIO,
    DUPLICATE,
    Check(
        name="misalignment",
        compare=_compare_misalignment,
        description="pairs shifted by a lost or extra record (window detector; --realign repairs)",
    ),
)


@hookimpl
def register_checks(register: Callable[[Check], None]) -> None:
    """Register the built-in checks."""
    for check in BUILTIN_CHECKS:
        register(check)
