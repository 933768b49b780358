"""``convert validate``: stream-validate files record by record, with exact locations.

Files are read with the same shape detection and readers as ``convert stream`` (JSON arrays,
JSON Lines, ``.gz``, ``-`` for stdin), a batch of records at a time, so memory stays flat. Each
record is validated on its own: the compiled validator decides, jsonschema lists every violation
of an invalid record. For converter output (schemas ``record`` and ``record-tags``) the checks of
:mod:`converter.seqchecks` run as well, on a whole batch at once while the file is regular.
Findings are listed up to ``max_errors``; counting goes on.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from converter.errors import (
    EXIT_FATAL,
    EXIT_OK,
    EXIT_REJECTED,
    InputError,
    MalformedInput,
    UsageError,
    refuse_huge,
)
from converter.inputs import STDIN, open_input
from converter.output import one_line
from converter.readers import Batch, Item, read_batches
from converter.report import counted
from converter.seqchecks import NONE, Issue, SeqChecks, checks_for
from converter.validation import RecordValidator, Violation, validator_for

DEFAULT_MAX_ERRORS = 100
#: Findings held back at most while the seq checks wait (then listed as they are).
HELD = 10_000
_DISAGREE = "rejected by the compiled validator; jsonschema names no violation"
#: What a file of each shape that can hold no records is flagged ``empty`` with.
_NO_RECORDS = {"array": "the array holds no records", "parquet": "the Parquet file holds no rows"}


@dataclass(frozen=True)
class Finding:
    """One thing wrong: in a record (index, JSONL line, JSON pointer) or in a file as a whole."""

    path: str
    kind: str
    message: str
    record: int | None = None
    line: int | None = None
    pointer: str | None = None

    def __str__(self) -> str:
        """The finding as one line (a line break in a name, a key or the message written as
        its escape)."""
        if self.record is None:
            return one_line(f"{self.path}: {self.kind}: {self.message}")
        where = f"{self.path}:record {self.record}"
        if self.line is not None:
            where += f" (line {self.line})"
        if self.pointer is not None:
            where += f": {self.pointer or '/'}"
        return one_line(f"{where}: {self.message}")

    def to_json(self) -> dict[str, Any]:
        """The finding as a JSON object."""
        return {
            "file": self.path,
            "record": self.record,
            "line": self.line,
            "pointer": self.pointer,
            "kind": self.kind,
            "message": self.message,
        }


@dataclass
class FileResult:
    """What validating one file found. ``problem`` is set when the file as a whole failed:
    ``malformed``, ``empty``, ``not-container`` or ``unreadable``."""

    path: str
    shape: str = ""
    records: int = 0
    invalid: int = 0
    #: Findings about an index group of converter output (a language missing, languages out
    #: of order), not about one record: they make the file invalid, not its records.
    group_findings: int = 0
    problem: str | None = None
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def valid(self) -> int:
        """Records without a finding of their own."""
        return self.records - self.invalid

    @property
    def status(self) -> str:
        """``valid``, ``invalid`` or the file's problem."""
        return self.problem or ("invalid" if self.kinds else "valid")

    def to_json(self) -> dict[str, Any]:
        """The file's entry in the JSON report."""
        return {
            "path": self.path,
            "shape": self.shape or None,
            "status": self.status,
            "records": self.records,
            "valid": self.valid,
            "invalid": self.invalid,
            "group_findings": self.group_findings,
            "by_kind": dict(self.kinds.most_common()),
        }


@dataclass
class ValidationResult:
    """The outcome of a run: per-file results, the listed findings and the counts."""

    schema: str
    files: list[FileResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    max_errors: int = DEFAULT_MAX_ERRORS
    seconds: float = 0.0

    @property
    def kinds(self) -> Counter[str]:
        """Findings of every file, counted by kind."""
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.kinds)
        return total

    @property
    def exit_status(self) -> int:
        """0 all valid; 1 invalid records or a malformed/empty/scalar file; 3 a file unreadable."""
        if any(f.problem == "unreadable" for f in self.files):
            return EXIT_FATAL
        return EXIT_REJECTED if any(f.kinds for f in self.files) else EXIT_OK

    def totals(self) -> dict[str, int]:
        """Files, records, valid, invalid, group findings, findings and listed findings."""
        return {
            "files": len(self.files),
            "records": sum(f.records for f in self.files),
            "valid": sum(f.valid for f in self.files),
            "invalid": sum(f.invalid for f in self.files),
            "group_findings": sum(f.group_findings for f in self.files),
            "findings": sum(self.kinds.values()),
            "listed": len(self.findings),
        }

    def to_json(self) -> dict[str, Any]:
        """The whole report as one JSON object (``--format json``)."""
        return {
            "ok": self.exit_status == EXIT_OK,
            "exit_status": self.exit_status,
            "schema": self.schema,
            "totals": self.totals(),
            "by_kind": dict(self.kinds.most_common()),
            "files": [f.to_json() for f in self.files],
            "findings": [f.to_json() for f in self.findings],
            "max_errors": self.max_errors,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        """A few lines for people: counts, findings by kind, what was not listed.

        The first line accounts for the exit status: besides the invalid records it counts the
        group findings and the files that failed as a whole (empty, malformed, ...)."""
        t = self.totals()
        rate = t["records"] / self.seconds if self.seconds > 0 else 0.0
        verdicts = [f"{t['valid']:,} valid", f"{t['invalid']:,} invalid"]
        if t["group_findings"]:
            verdicts.append(counted(t["group_findings"], "group finding"))
        problems = Counter(f.problem for f in self.files if f.problem)
        verdicts += [f"{counted(n, 'file')} {problem}" for problem, n in problems.items()]
        lines = [
            f"checked {counted(t['files'], 'file')}, {counted(t['records'], 'record')} against "
            f"{self.schema} in {self.seconds:.2f} s ({rate:,.0f} records/s): " + ", ".join(verdicts)
        ]
        if t["findings"]:
            kinds = ", ".join(f"{k} {n:,}" for k, n in self.kinds.most_common())
            lines.append(f"findings: {kinds}")
        if t["findings"] > t["listed"]:
            listed = f"listed {t['listed']:,} of {t['findings']:,} findings"
            lines.append(f"{listed} (--max-errors {self.max_errors})")
        return "\n".join(map(one_line, lines))


def validate_files(
    *,
    paths: Sequence[str],
    schema: str = "record",
    max_errors: int = DEFAULT_MAX_ERRORS,
    languages: Sequence[str] = (),
    plugins: Sequence[str] = (),
    on_finding: Callable[[Finding], None] | None = None,
    items_path: str | None = None,
) -> ValidationResult:
    """Validate every record of each file in ``paths`` against ``schema`` (a bundled name or a
    schema file); ``on_finding`` sees each listed finding as it is found.

    ``max_errors`` bounds the listing (file-level problems are always listed), not the counting.
    ``languages`` (codes such as ``en``) must all be present at every index of converter output.
    ``items_path`` (``data.item``) reads the records of files that wrap them in an object.
    Raises UsageError for a bad schema or option; problems with the files are findings.
    """
    if not paths:
        raise UsageError("give at least one file to validate ('-' for stdin)")
    if sum(p == STDIN for p in paths) > 1:
        raise UsageError("stdin ('-') can be given once")
    refuse_huge("--max-errors", max_errors)
    if max_errors < 0:
        raise UsageError(f"--max-errors must be 0 or more, not {max_errors}")
    validator = validator_for(schema)
    make_checks = checks_for(schema, languages, plugins)
    result = ValidationResult(schema=schema, max_errors=max_errors)
    started = time.perf_counter()
    for path in paths:
        file = FileResult(path)
        result.files.append(file)
        sink = _Sink(result, file, on_finding)
        _validate_file(file, validator, make_checks, sink, items_path)
    result.seconds = time.perf_counter() - started
    return result


class _Sink:
    """Counts every finding of one file and lists the first ``max_errors`` of the run."""

    def __init__(
        self,
        result: ValidationResult,
        file: FileResult,
        on_finding: Callable[[Finding], None] | None,
    ) -> None:
        self.result, self.file, self.on_finding = result, file, on_finding
        #: the first record that may still get a group finding (converter output's seq checks)
        self.unsettled: Callable[[], int] = lambda: sys.maxsize
        self.held: list[tuple[Finding, bool]] = []

    def add(self, finding: Finding, listed: bool = False) -> None:
        """Count ``finding``; list it in file order: held back while an index group's finding
        may still come for an earlier record (its group still open, or a stage's reference
        not taken yet), at most HELD of them."""
        self.file.kinds[finding.kind] += 1
        self.held.append((finding, listed))
        self.release(sys.maxsize if len(self.held) >= HELD else self.unsettled())

    def release(self, before: int = sys.maxsize) -> None:
        """List the findings held back for records before ``before`` (all of them, the file's
        own problems last, by default), in file order."""
        if before == sys.maxsize:
            ready, self.held = self.held, []
        else:
            ready = [h for h in self.held if _settled(h, before)]
            if not ready:
                return
            self.held = [h for h in self.held if not _settled(h, before)]
        for finding, listed in sorted(ready, key=_file_order):
            self._list(finding, listed)

    def _list(self, finding: Finding, listed: bool) -> None:
        if listed or len(self.result.findings) < self.result.max_errors:
            self.result.findings.append(finding)
            if self.on_finding is not None:
                self.on_finding(finding)

    def problem(self, exc: InputError, kind: str) -> None:
        """The file as a whole failed: always listed."""
        self.file.problem = kind
        message = str(exc).removeprefix(f"{self.file.path}: ")
        self.add(Finding(self.file.path, kind, message), listed=True)


def _settled(held: tuple[Finding, bool], before: int) -> bool:
    record = held[0].record
    return record is not None and record < before


def _file_order(held: tuple[Finding, bool]) -> tuple[bool, int]:
    record = held[0].record
    return record is None, record or 0


def _validate_file(
    file: FileResult,
    validator: RecordValidator,
    make_checks: Callable[[], SeqChecks] | None,
    sink: _Sink,
    items_path: str | None,
) -> None:
    try:
        source = open_input(file.path, file.path)
    except MalformedInput as exc:
        return sink.problem(exc, exc.kind)
    except InputError as exc:
        return sink.problem(exc, "unreadable")
    checks = make_checks() if make_checks is not None else None
    if checks is not None:
        sink.unsettled = checks.unsettled
    try:
        file.shape = source.shape
        _validate_records(read_batches(source, items_path), validator, checks, sink)
        if checks is not None:
            _report_groups(checks.finish(), sink)
        if file.records == 0 and file.shape in _NO_RECORDS:
            file.problem = "empty"
            sink.add(Finding(file.path, "empty", _NO_RECORDS[file.shape]), listed=True)
    except MalformedInput as exc:
        sink.problem(exc, exc.kind)
    except InputError as exc:
        sink.problem(exc, "unreadable")
    finally:
        sink.release()  # (a file that failed half-way leaves its seq checks waiting)
        if checks is not None:
            checks.close()
        source.close()


def _validate_records(
    parts: Iterator[Batch | Item],
    validator: RecordValidator,
    checks: SeqChecks | None,
    sink: _Sink,
) -> None:
    """The hot loop, a batch at a time: the compiled validator on every record, then the output
    checks on the whole batch; record by record only for a batch where something is off, and
    jsonschema only for the invalid records. Counts the records read in ``sink.file`` as it goes
    (so a file that turns out malformed counts those before the error)."""
    is_valid = validator.fast.is_valid  # the compiled validator itself: no wrapper per record
    check_batch = checks.check_batch if checks is not None else None
    file = sink.file
    for part in parts:
        if isinstance(part, Item):
            _check_record(file.records, part.line, part.value, part.error, validator, checks, sink)
            file.records += 1
            continue
        values, line = part
        count = file.records
        if all(map(is_valid, values)) and (check_batch is None or check_batch(count, line, values)):
            file.records += len(values)
            continue
        for obj in values:
            _check_record(file.records, line, obj, None, validator, checks, sink)
            file.records += 1
            line = None if line is None else line + 1


def _check_record(
    index: int,
    line: int | None,
    obj: Any,
    error: str | None,
    validator: RecordValidator,
    checks: SeqChecks | None,
    sink: _Sink,
) -> None:
    """Validate and check one record (``error``: why it could not be read) and report it."""
    if error is not None:
        _record_findings(index, line, ((index, line, "malformed", "", error),), None, sink)
    elif validator.is_valid(obj):
        issues = checks.check(index, line, obj) if checks is not None else NONE
        if issues:
            _record_findings(index, line, issues, None, sink)
    else:
        issues = checks.check_any(index, line, obj) if checks is not None else NONE
        found = validator.violations(obj) or [Violation("", _DISAGREE, "invalid")]
        _record_findings(index, line, issues, found, sink)


def _record_findings(
    index: int,
    line: int | None,
    issues: tuple[Issue, ...],
    violations: list[Violation] | None,
    sink: _Sink,
) -> None:
    """List the findings of the index group this record closed, then the record's own."""
    _report_groups([i for i in issues if i[0] != index], sink)
    own = [i for i in issues if i[0] == index]
    for v in violations or ():
        sink.add(Finding(sink.file.path, f"schema/{v.keyword}", v.message, index, line, v.pointer))
    if violations or own:
        sink.file.invalid += 1
    _report(own, sink)


def _report_groups(issues: Sequence[Issue], sink: _Sink) -> None:
    """Report findings about index groups (closed before the current record), counting them."""
    sink.file.group_findings += len(issues)
    _report(issues, sink)


def _report(issues: Iterable[Issue], sink: _Sink) -> None:
    for index, line, kind, pointer, message in issues:
        sink.add(Finding(sink.file.path, kind, message, index, line, pointer or None))
