"""The record model and the things plugins register: languages, input formats, writers, checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, BinaryIO, Protocol

#: The three text fields every input format maps onto, in output order.
TEXT_FIELDS = ("instruction", "input", "output")
#: A check's policies.
POLICIES = ("off", "warn", "reject")
#: The name ``--check`` takes for every check at once (``--check all=off``).
ALL_CHECKS = "all"


@dataclass(slots=True, eq=False)
class Record:
    """One input record mapped onto the common shape, plus its tags.

    ``tags`` holds input keys beyond the format's own (e.g. ``category``, ``id``) and what
    taggers add; ``features`` holds per-record values computed for translator-checks;
    ``original`` is the record as read (for the rejects file), ``line`` its JSONL line;
    ``kernel_cache`` is where the compiled checks keep what they computed of the record's texts
    (none of its data).
    """

    lang: str
    index: int
    instruction: str
    input: str
    output: str
    tags: dict[str, Any]
    seq: str = ""
    reasoning: str = ""
    features: dict[str, Any] | None = None
    original: Any = None
    line: int | None = None
    kernel_cache: Any = None


@dataclass(slots=True, eq=False)
class Rejected:
    """An input record that could not be mapped onto a :class:`Record`, and why."""

    lang: str
    index: int
    reasons: list[str]
    original: Any = None
    raw: bytes | None = None
    line: int | None = None


@dataclass(frozen=True)
class Language:
    """A language a source can be declared in (``en=FILE``).

    ``code`` is the name used on the command line, ``suffix`` ends each ``seq`` (``6EN``),
    ``reasoning`` is the sentence written into every record of this language, and ``scripts``
    says how the language shows in the shared classifier (:mod:`converter.langid`):
    ``latin``, ``ja``, ``zh`` or ``ko``. ``accepts`` is an optional finer test of a text:
    True (it is this language), False (it is not) or None (unsure: the classifier decides).
    """

    code: str
    name: str
    suffix: str
    reasoning: str
    scripts: frozenset[str] = frozenset()
    accepts: Callable[[str], bool | None] | None = None


@dataclass(frozen=True)
class InputFormat:
    """A shape of input record and how it maps onto ``instruction``/``input``/``output``.

    ``detect`` is asked with the first record of a source; ``fields`` returns the three texts
    (raising ``KeyError``/``IndexError``/``TypeError`` on a malformed record); keys not in
    ``own_keys`` become tags.
    """

    name: str
    own_keys: frozenset[str]
    detect: Callable[[Mapping[str, Any]], bool]
    fields: Callable[[Mapping[str, Any]], tuple[Any, Any, Any]]
    field_names: tuple[str, str, str] = TEXT_FIELDS
    schema: str | None = None


class Writer(Protocol):
    """A per-run writer: shapes each record into a row, encodes it, writes batches.

    A writer whose output is its encoded rows joined with the same bytes however they are
    batched (``write(chunks)`` does what ``write([separator.join(chunks)])`` does) may say so
    with a ``separator`` attribute: range mode then merges its parts' payloads as they are
    (converter.scale.parts) instead of cutting them into rows again.
    """

    #: Name of the bundled schema every row is validated against.
    schema: str

    def row(self, record: Record) -> dict[str, Any]:
        """Return the object that represents ``record`` in the output (raise ``ValueError``
        if it cannot be written: its group is rejected)."""

    def encode(self, row: dict[str, Any]) -> bytes:
        """Serialise one row (raise ``ValueError``/``TypeError`` if it cannot be)."""

    def write(self, chunks: list[bytes]) -> None:
        """Write a batch of encoded rows, in order."""

    def close(self) -> None:
        """Finish the output (closing brackets); the stream itself is closed by the core."""


@dataclass(frozen=True)
class WriterOptions:
    """Run options a writer may use (it names those it takes in :attr:`WriterSpec.options`)."""

    keep_tags: bool = False
    #: ``--system TEXT``: the system message of the template and chat writers.
    system: str = ""
    #: ``--template FILE``: a prompt template file; None is the seed's layout.
    template: str | None = None

    def given(self) -> list[str]:
        """The options set away from their defaults, by field name."""
        return [f.name for f in fields(self) if getattr(self, f.name) != f.default]


@dataclass(frozen=True)
class WriterSpec:
    """A named output format: ``make(stream, options)`` returns the run's :class:`Writer`.

    ``options`` names the :class:`WriterOptions` fields the writer uses: giving another one is
    a usage error. ``dataset_info`` is the format's LLaMA-Factory ``dataset_info.json`` entry
    without its ``file_name`` (``formatting``, ``columns``, ``tags``), None when LLaMA-Factory
    cannot read it. ``compressible`` False refuses a ``.gz`` or ``.zst`` output (a format that
    compresses inside, such as Parquet, which nothing reads back wrapped).
    """

    name: str
    suffixes: tuple[str, ...]
    make: Callable[[BinaryIO, WriterOptions], Writer]
    description: str = ""
    options: frozenset[str] = frozenset({"keep_tags"})
    dataset_info: Mapping[str, Any] | None = None
    compressible: bool = True

    def unused(self, options: WriterOptions) -> list[str]:
        """The options given that this writer does not use, as command-line flags."""
        given = [name for name in options.given() if name not in self.options]
        return ["--" + name.replace("_", "-") for name in given]


@dataclass(frozen=True)
class Tagger:
    """An opt-in tagger, run only when asked for with ``--tagger NAME`` (or a recipe's
    ``taggers``). ``make(languages)`` returns the per-record callable for a run, or None when
    the run has no record it applies to (e.g. no Japanese source)."""

    name: str
    description: str
    make: Callable[[Sequence[Language]], Callable[[Record], None] | None]


@dataclass(frozen=True)
class Check:
    """A translator-check, in two parts so any parallel layout can run it.

    ``features(record)`` runs where the record is parsed and returns a small value (or None to
    store nothing); ``compare(group)`` runs on each aligned group (records in source order, the
    first the source of the translation) and returns finding messages, empty when the group is
    fine. ``default_policy`` is ``off``, ``warn`` or ``reject``. A check that needs the run's
    languages or keeps state across groups gives ``configure(languages)`` instead of
    ``compare``: it is called once per run and returns the run's compare callable.

    Range mode (``--jobs``) configures such a check once per range, and a range reads only the
    groups of its margin before it first (``converter.scale.run.MARGIN``, 98). So it refuses a
    check with ``configure`` unless the check says ``range_safe=True``: its findings on a group
    depend on no group further back than that (or on none: it needs only the languages).
    """

    name: str
    compare: Callable[[list[Record]], list[str]] | None = None
    features: Callable[[Record], Any] | None = None
    default_policy: str = "warn"
    description: str = ""
    configure: Callable[[Sequence[Language]], Callable[[list[Record]], list[str]]] | None = None
    range_safe: bool = False

    def runs_in_ranges(self) -> bool:
        """Whether range mode gives this check's findings as a single run does: it keeps no
        state across groups (a plain ``compare``), or says so (``range_safe``)."""
        return self.configure is None or self.range_safe

    def start(self, languages: Sequence[Language]) -> Callable[[list[Record]], list[str]]:
        """The compare callable for one run."""
        if self.configure is not None:
            return self.configure(languages)
        if self.compare is None:
            raise TypeError(f"check {self.name!r} has neither compare nor configure")
        return self.compare
