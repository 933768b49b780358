"""Seeded, deterministic generator of parallel Alpaca-style corpora (EN/JA/ZH) for benchmarks.

Writes ``OUT/corpus.<lang>.json`` (a JSON array laid out like ``json.dump(indent=4)``) or
``OUT/corpus.<lang>.jsonl``, one file per language, parallel by index: record ``i`` of every file
is a translation of the same "skeleton" (same topics, numbers, URLs, code). Records are
generated and written in batches, so memory stays flat at any size. A ``corpus.meta.json``
describing the run is written last (bench/run_bench.py uses it to reuse a finished corpus).

The output depends only on the arguments (and the Python version's ``random`` module):
usage: python bench/gen_corpus.py --pairs 100000 --out bench/data/x [--langs en,ja,zh]
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import lexicon as lx

BENCH_DIR = Path(__file__).resolve().parent
LANG_INDEX = {"en": 0, "ja": 1, "zh": 2}
GENERATOR_VERSION = 1
BATCH_PAIRS = 2000

Part = tuple[lx.Tri, dict[str, object] | None]
Skeleton = tuple[list[Part], list[Part], list[Part]]

NEWLINE: Part = (("\n", "\n", "\n"), None)
PARAGRAPH: Part = (("\n\n", "\n\n", "\n\n"), None)
SENTENCE_GAP: Part = (lx.SENTENCE_SEP, None)
_FORMATTER = string.Formatter()
_SLOT_CACHE: dict[str, tuple[str, ...]] = {}


def slot_names(template: str) -> tuple[str, ...]:
    """Return the ``str.format`` field names used by a template, in order (cached)."""
    names = _SLOT_CACHE.get(template)
    if names is None:
        names = tuple(f for _, f, _, _ in _FORMATTER.parse(template) if f)
        _SLOT_CACHE[template] = names
    return names


def literal(text: str) -> Part:
    """A part that is the same text in every language (code, numbers)."""
    return ((text, text, text), None)


class LangView:
    """Mapping view of a part's slots in one language, for ``str.format_map``."""

    __slots__ = ("lang", "slots")

    def __init__(self, slots: dict[str, object], lang: int) -> None:
        self.slots = slots
        self.lang = lang

    def __getitem__(self, key: str) -> str:
        if key in ("A", "B"):
            word = self[key.lower()]
            return word[:1].upper() + word[1:] if self.lang == 0 else word
        value = self.slots[key]
        return value[self.lang] if isinstance(value, tuple) else str(value)


def render(parts: list[Part], lang: int) -> str:
    """Render a list of parts as one string in the language with index ``lang``."""
    out = []
    for template, slots in parts:
        text = template[lang]
        out.append(text if slots is None else text.format_map(LangView(slots, lang)))
    return "".join(out)


class SkeletonMaker:
    """Draws language-independent record skeletons from one seeded random stream."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.kinds = list(lx.KIND_WEIGHTS)
        self.cum_weights = []
        total = 0
        for kind in self.kinds:
            total += lx.KIND_WEIGHTS[kind]
            self.cum_weights.append(total)
        self.topic: dict[str, object] = {}
        rng = self.rng
        self.draws: dict[str, Callable[[], object]] = {
            "n": lambda: rng.randint(2, 12),
            "pct": lambda: rng.randint(5, 95),
            "year": lambda: rng.randint(1995, 2024),
            "price": lambda: f"{rng.randint(3, 499)}.{rng.randint(0, 99):02d}",
            "url": lambda: f"{rng.choice(lx.URL_HOSTS)}{rng.randint(1, 99999)}",
            "user": lambda: rng.choice(lx.USERS),
            "e": lambda: rng.choice(lx.EMOJI),
            "q": lambda: rng.choice(lx.PROVERBS),
            "x": lambda: rng.randint(2, 999),
            "y": lambda: rng.randint(2, 999),
        }

    def value(self, name: str) -> object:
        """Draw a fresh value for one slot (topics come from the record's context)."""
        if name in self.topic:
            return self.topic[name]
        return self.draws[name]()

    def part(self, template: lx.Tri, **fixed: object) -> Part:
        """A templated part whose slots are drawn now (``fixed`` overrides draws)."""
        slots = {}
        for name in slot_names(template[0]):
            if name in ("A", "B"):
                name = name.lower()
            if name not in slots:
                slots[name] = fixed[name] if name in fixed else self.value(name)
        return (template, slots)

    def prose(self, count: int) -> list[Part]:
        """``count`` sentences on the record's topics, with an occasional paragraph break."""
        parts: list[Part] = []
        for i in range(count):
            if i:
                parts.append(PARAGRAPH if self.rng.random() < 0.15 else SENTENCE_GAP)
            parts.append(self.part(self.rng.choice(lx.SENTENCES)))
        return parts

    def prose_length(self) -> int:
        """Number of sentences of a prose answer: 2 to 20, mean about 10 (long tail)."""
        return min(20, 2 + int(self.rng.expovariate(1 / 9)))

    def make(self) -> Skeleton:
        """Draw one record skeleton: (instruction parts, input parts, output parts)."""
        rng = self.rng
        kind = rng.choices(self.kinds, cum_weights=self.cum_weights)[0]
        a, b = rng.sample(lx.TOPICS, 2)
        self.topic = {"a": a, "b": b}
        builder = getattr(self, f"_kind_{kind}")
        return builder(lx.INSTRUCTIONS[kind])

    def _kind_explain(self, instruction: lx.Tri) -> Skeleton:
        return [self.part(instruction)], [], self.prose(self.prose_length())

    _kind_describe = _kind_explain
    _kind_paragraph = _kind_explain

    def _kind_list(self, instruction: lx.Tri) -> Skeleton:
        n = self.rng.randint(3, 7)
        out = [self.part(lx.LIST_INTRO, n=n), PARAGRAPH]
        for i in range(n):
            if i:
                out.append(NEWLINE)
            out += [literal(f"{i + 1}. "), self.part(self.rng.choice(lx.LIST_ITEMS))]
        if self.rng.random() < 0.6:
            out += [PARAGRAPH, *self.prose(self.rng.randint(1, 3))]
        return [self.part(instruction, n=n)], [], out

    def _kind_code(self, instruction: lx.Tri) -> Skeleton:
        task, code = self.rng.choice(lx.CODE_TASKS)
        for name in ("x", "y", "n"):
            code = code.replace("{" + name + "}", str(self.value(name)))
        out = [self.part(lx.CODE_INTRO), PARAGRAPH, literal(f"```python\n{code}\n```")]
        if self.rng.random() < 0.7:
            out += [PARAGRAPH, self.part(lx.CODE_OUTRO), SENTENCE_GAP, *self.prose(1)]
        return [self.part(instruction, task=task)], [], out

    def _kind_calc(self, instruction: lx.Tri) -> Skeleton:
        x, y = self.value("x"), self.value("y")
        assert isinstance(x, int) and isinstance(y, int)
        answer = self.part(lx.CALC_ANSWER, x=x, y=y, z=x * y)
        return [self.part(instruction, x=x, y=y)], [], [answer]

    def _kind_url(self, instruction: lx.Tri) -> Skeleton:
        lib, url = self.rng.choice(lx.LIBRARIES)
        return [self.part(instruction, lib=lib)], [], [self.part(lx.URL_ANSWER, lib=lib, url=url)]

    def _kind_table(self, instruction: lx.Tri) -> Skeleton:
        out = [self.part(lx.TABLE_INTRO), PARAGRAPH, self.part(lx.TABLE_HEADER)]
        for aspect in lx.TABLE_ASPECTS:
            cells = f"\t{self.value('pct')}%\t{self.value('pct')}%"
            out += [NEWLINE, (aspect, None), literal(cells)]
        out += [PARAGRAPH, *self.prose(2)]
        return [self.part(instruction)], [], out

    def _kind_social(self, instruction: lx.Tri) -> Skeleton:
        out = self.prose(self.rng.randint(2, 3))
        out += [literal(" " + str(self.value("e")))]
        return [self.part(instruction)], [], out

    def _kind_classify(self, instruction: lx.Tri) -> Skeleton:
        review, positive = self.rng.choice(lx.REVIEWS)
        return [self.part(instruction)], [self.part(review)], [(lx.LABELS[positive], None)]

    def _kind_summarize(self, instruction: lx.Tri) -> Skeleton:
        text = self.prose(self.rng.randint(2, 5))
        return [self.part(instruction)], text, self.prose(self.rng.randint(1, 2))

    def _kind_rewrite(self, instruction: lx.Tri) -> Skeleton:
        informal, formal = self.rng.choice(lx.REWRITES)
        n = self.value("n")
        return [self.part(instruction)], [self.part(informal, n=n)], [self.part(formal, n=n)]

    def _kind_fix_code(self, instruction: lx.Tri) -> Skeleton:
        buggy, fixed, why = self.rng.choice(lx.BUGGY_CODE)
        n = str(self.value("n"))
        buggy, fixed = buggy.replace("{n}", n), fixed.replace("{n}", n)
        out = [(why, None), SENTENCE_GAP, (lx.FIX_INTRO, None), PARAGRAPH]
        out.append(literal(f"```python\n{fixed}\n```"))
        return [self.part(instruction)], [literal(buggy)], out

    def _kind_extract(self, instruction: lx.Tri) -> Skeleton:
        text: list[Part] = []
        numbers: list[str] = []
        for i in range(self.rng.randint(1, 2)):
            if i:
                text.append(SENTENCE_GAP)
            template, slots = self.part(self.rng.choice(lx.NUMBER_SENTENCES))
            assert slots is not None
            text.append((template, slots))
            numbers += [str(slots[k]) for k in slot_names(template[0]) if k in _NUMERIC]
        out: list[Part] = []
        for i, number in enumerate(numbers):
            if i:
                out.append((lx.LIST_SEP, None))
            out.append(literal(number))
        return [self.part(instruction)], text, out


_NUMERIC = frozenset({"n", "pct", "year", "price"})


def iter_records(pairs: int, seed: int, langs: list[int]) -> Iterator[list[tuple[str, str, str]]]:
    """Yield, for each index, one ``(instruction, input, output)`` triple per language."""
    maker = SkeletonMaker(seed)
    for _ in range(pairs):
        fields = maker.make()
        yield [tuple(render(parts, lang) for parts in fields) for lang in langs]  # type: ignore[misc]


def make_encoder(form: str, ensure_ascii: bool, indent: int) -> Callable[[tuple[str, ...]], str]:
    """Return a function encoding one record like ``json.dump`` would lay it out.

    For arrays: the record as an element of ``json.dump(records, indent=indent)`` (without the
    separator). For JSONL: ``json.dumps(record)`` (default separators) plus a newline.
    """
    quote = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    if form == "jsonl":

        def encode_line(rec: tuple[str, ...]) -> str:
            ins, inp, out = map(quote, rec)
            return f'{{"instruction": {ins}, "input": {inp}, "output": {out}}}\n'

        return encode_line
    pad1, pad2 = " " * indent, " " * (2 * indent)

    def encode_element(rec: tuple[str, ...]) -> str:
        ins, inp, out = map(quote, rec)
        return (
            f'{pad1}{{\n{pad2}"instruction": {ins},\n{pad2}"input": {inp},\n'
            f'{pad2}"output": {out}\n{pad1}}}'
        )

    return encode_element


class CorpusWriter:
    """Streams encoded records of one language into its file, in batches."""

    def __init__(self, path: Path, form: str, encode: Callable[[tuple[str, ...]], str]) -> None:
        self.path = path
        self.form = form
        self.encode = encode
        self.file: TextIO = path.open("w", encoding="utf-8", newline="\n")
        self.count = 0
        self.batch: list[str] = []
        self.chars = [0, 0, 0]
        self.empty_inputs = 0

    def add(self, rec: tuple[str, str, str]) -> None:
        """Queue one record (and count its field lengths)."""
        for i, field in enumerate(rec):
            self.chars[i] += len(field)
        self.empty_inputs += not rec[1]
        if self.form == "jsonl":
            self.batch.append(self.encode(rec))
        else:
            self.batch.append(("[\n" if self.count == 0 else ",\n") + self.encode(rec))
        self.count += 1

    def flush(self) -> None:
        """Write the queued records."""
        self.file.write("".join(self.batch))
        self.batch.clear()

    def close(self) -> int:
        """Finish the file (close the array) and return its size in bytes."""
        self.flush()
        if self.form == "array":
            self.file.write("[]" if self.count == 0 else "\n]")
        self.file.close()
        return self.path.stat().st_size


def generate(args: argparse.Namespace) -> dict[str, Any]:
    """Generate the corpus described by ``args``; return the metadata written beside it."""
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta_path = out_dir / "corpus.meta.json"
    meta_path.unlink(missing_ok=True)
    ext = "jsonl" if args.form == "jsonl" else "json"
    encode = make_encoder(args.form, args.ensure_ascii, args.indent)
    writers = {
        lang: CorpusWriter(out_dir / f"corpus.{lang}.{ext}", args.form, encode)
        for lang in args.langs
    }
    lang_ids = [LANG_INDEX[lang] for lang in args.langs]
    ordered = list(writers.values())
    for i, recs in enumerate(iter_records(args.pairs, args.seed, lang_ids), 1):
        for writer, rec in zip(ordered, recs):
            writer.add(rec)
        if i % BATCH_PAIRS == 0:
            for writer in ordered:
                writer.flush()
    files = {}
    for lang, writer in writers.items():
        size = writer.close()
        n = max(writer.count, 1)
        files[lang] = {
            "path": writer.path.name,
            "bytes": size,
            "mean_chars": [round(c / n, 1) for c in writer.chars],
            "empty_input_share": round(writer.empty_inputs / n, 4),
        }
    meta = {
        "generator_version": GENERATOR_VERSION,
        "pairs": args.pairs,
        "seed": args.seed,
        "langs": args.langs,
        "form": args.form,
        "ensure_ascii": args.ensure_ascii,
        "indent": args.indent if args.form == "array" else None,
        "python": sys.version.split()[0],
        "files": files,
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=10000, help="records per language")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--out", default=str(BENCH_DIR / "data"), help="output folder")
    p.add_argument("--langs", default="en,ja", help="comma list of en, ja, zh (default en,ja)")
    p.add_argument("--form", choices=("array", "jsonl"), default="array")
    p.add_argument(
        "--ensure-ascii", action="store_true", help="escape non-ASCII as \\uXXXX (json default)"
    )
    p.add_argument("--indent", type=int, default=4, help="array indent (default 4)")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    args = p.parse_args(argv)
    args.langs = [s.strip() for s in args.langs.split(",") if s.strip()]
    unknown = [lang for lang in args.langs if lang not in LANG_INDEX]
    if unknown or not args.langs or len(set(args.langs)) != len(args.langs):
        p.error(f"--langs: expected distinct values among en, ja, zh; got {args.langs}")
    if args.pairs < 0 or args.indent < 0:
        p.error("--pairs and --indent must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    start = time.perf_counter()
    meta = generate(args)
    if not args.quiet:
        elapsed = time.perf_counter() - start
        print(f"{args.pairs} pairs in {elapsed:.1f} s -> {args.out}", file=sys.stderr)
        for info in meta["files"].values():
            print(
                f"  {info['path']}: {info['bytes'] / 1e6:.1f} MB, mean chars "
                f"instruction/input/output {info['mean_chars']}, "
                f"empty inputs {info['empty_input_share']:.0%}",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
