"""Built-in ``register`` tagger: 敬体 (polite) or 常体 (plain) Japanese, from sentence endings.

Opt-in per run (``--tagger register``). It judges the ``output`` of each Japanese record (the
text the model learns to say; the instruction's register is not judged) and sets
``record.tags["register"]`` to ``polite``, ``plain``, ``mixed`` or ``none``.

How a text is judged (the sentence-final rule of ``shared/research/langcheck-eval.md`` §4):

1. Code (fenced and inline), quoted text (「…」, 『…』, “…”, "…") and parentheticals ((…), （…）)
   are removed: a polite quote inside a plain sentence says nothing about the speaker.
2. The rest is cut into sentences at 。！？!? and line ends; trailing symbols are dropped.
3. A sentence is polite when it ends in です/ます/ました/ません/ましょう/でした/でしょう/
   ございます/ください… (sentence-final particles such as か, ね, よ, けど may follow); plain
   when, once those particles are dropped, it ends in a plain predicate (だ, である, た, a
   verb's dictionary form, an adjective's い, an imperative such as 求めよ/せよ/しろ, a casual
   request in て) or is a noun followed by a particle (本当か？, 日本一よ). Anything else (a
   noun, a name, はい, a list item in dictionary form) is not judged.
4. A list line (``-``, ``・``, ``1.``, ``label: value``) not closed by 。！？ counts only when it
   is polite: bullets in dictionary form are register-neutral in Japanese.
5. The text is ``none`` without a judged sentence, ``mixed`` when both forms occur and the
   minority is at least :data:`MIXED_SHARE` of the judged sentences, else the majority form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from converter import hookimpl
from converter.model import Language, Record, Tagger

#: The name given to ``--tagger`` and the tag it sets.
NAME = "register"
#: The labels, in the order the docs list them.
LABELS = POLITE, PLAIN, MIXED, NONE = "polite", "plain", "mixed", "none"
#: Smallest share of the minority form for a text to be ``mixed``.
MIXED_SHARE = 0.25
#: Characters looked at when judging a sentence's ending (longest: ございますけれども + particles).
TAIL = 16

_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.S)
_ASIDES = re.compile(r"「[^「」]*」|『[^『』]*』|“[^“”]*”|\"[^\"\n]*\"|（[^（）]*）|\([^()]*\)")
_SENTENCE = re.compile(r"([^。！？!?｡\n]+)([。！？!?｡]+)?")
_TRAILING = re.compile(r"[\W_ー〜～]+$")
_BULLET = re.compile(r"[ \t]*(?:[-*+•・●○◦▪■□◆◇※→]|[0-9０-９]+[.)．、）]|[①-⑳])")
_POLITE = re.compile(
    r"(?:です|ます|ました|ません|ましょう|でした|でしょう|ください|下さい|ませ)"
    r"(?:か|ね|よ|な|わ|の|ぞ|が|し|けど|けれど|けれども|から|ので|のに|っけ)*$"
)
#: Sentence-final particles dropped before looking for a plain predicate (かな = か + な).
_PARTICLES = frozenset("かねよなわぞぜさの")
_LONG_PARTICLES = ("っけ", "って", "かしら")
#: Last characters of a plain predicate: だ, た, a verb's u-row ending, い, しろ, 行け, 待って.
_PLAIN_LAST = frozenset("だたうくぐすつぬぶむるいろけげて")
#: Endings with such a last character that are not predicates (counters, nouns, particles).
_NOT_PLAIN = (
    *(f"{n}つ" for n in "一二三四五六七八九幾"),
    *("ひとつ", "ふたつ", "みっつ", "いくつ", "くらい", "ぐらい", "ころ", "いろいろ", "だけ"),
    *("について", "として", "によって", "に関して", "において", "にとって", "に対して"),
)
#: Kana before よ in the written imperative of ichidan and suru verbs: 求めよ, 用いよ, せよ.
_IMPERATIVE_STEM = frozenset("えけげせぜてでねべめれいきぎしじちにびみり")
#: Whole sentences that answer (yes, no) rather than predicate.
_NEUTRAL = frozenset({"はい", "いいえ", "ええ", "うん", "ううん", "いや"})


def sentence_register(sentence: str, question: bool = False, list_line: bool = False) -> str | None:
    """``polite``, ``plain`` or None (not judged) for one sentence without its final 。！？.

    ``question`` says it ended in ？ (a noun + か is then a casual question); ``list_line``
    that it is an unclosed list line, judged only when polite.
    """
    end = sentence[-TAIL:].rstrip()
    if (end and not end[-1].isalnum()) or end.endswith(("ー", "〜", "～")):
        end = _TRAILING.sub("", end)
    if not end or end in _NEUTRAL:
        return None
    if _POLITE.search(end):
        return POLITE
    if list_line:
        return None
    if end[-1] == "よ" and end[-2:-1] in _IMPERATIVE_STEM:
        return PLAIN
    rest = end
    while rest:
        if rest[-1] in _PARTICLES:
            rest = rest[:-1]
        elif rest.endswith(_LONG_PARTICLES):
            rest = rest[: -3 if rest.endswith("かしら") else -2]
        else:
            break
    if not rest:
        return None
    last = rest[-1]
    if (last in _PLAIN_LAST and not rest.endswith(_NOT_PLAIN)) or rest.endswith("じゃん"):
        return PLAIN
    particles = end[len(rest) :]
    noun = last.isalnum() and not "\u3041" <= last <= "\u309f"
    if particles and noun and (question or particles != "か"):
        return PLAIN
    return None


def register_of(text: str) -> str:
    """The register of a Japanese text: ``polite``, ``plain``, ``mixed`` or ``none``."""
    if "`" in text:
        text = _CODE.sub("\n", text)
    removed = 1
    while removed:
        text, removed = _ASIDES.subn("", text)
    polite = plain = 0
    for match in _SENTENCE.finditer(text):
        closing = match.group(2)
        if closing is None:  # unclosed: a list line after a bullet or in ``label: value``?
            piece, line = match.group(1), text.rfind("\n", 0, match.start()) + 1
            listed = ":" in piece or "：" in piece or _BULLET.match(text, line) is not None
            found = sentence_register(piece, list_line=listed)
        else:
            found = sentence_register(match.group(1), question="？" in closing or "?" in closing)
        if found == POLITE:
            polite += 1
        elif found == PLAIN:
            plain += 1
    judged = polite + plain
    if not judged:
        return NONE
    if min(polite, plain) >= MIXED_SHARE * judged:
        return MIXED
    return POLITE if polite > plain else PLAIN


def make_register_tagger(languages: Sequence[Language]) -> Callable[[Record], None] | None:
    """Tag each Japanese record's register; None for a run without a Japanese source."""
    if all(lang.code != "ja" for lang in languages):
        return None

    def tag(record: Record) -> None:
        if record.lang == "ja":
            record.tags[NAME] = register_of(record.output)

    return tag


@hookimpl
def register_taggers(register: Callable[[Tagger], None]) -> None:
    """Register the ``register`` tagger (``--tagger register``)."""
    register(
        Tagger(
            NAME,
            "Japanese records' register from sentence endings: polite, plain, mixed or none",
            make_register_tagger,
        )
    )
