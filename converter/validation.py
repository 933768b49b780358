"""JSON Schema validation: bundled schemas by name, any schema file by path.

jsonschema is the reference and gives the messages; jsonschema-rs (compiled, ~64x faster per
record) decides valid/invalid on the hot path. Their verdicts are tested equal. The reference is
imported when first needed (a user's schema file, a record to explain): a run whose records all
pass never loads it, ~10 MiB less.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import jsonschema_rs

from converter.errors import UsageError
from converter.nesting import room_for_deep_records

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SCHEMA_SUFFIX = ".schema.json"
#: Longest message part kept for one violation; huge values are cut in the middle.
MAX_MESSAGE = 200


def schema_dir() -> Path:
    """The folder of bundled schemas: inside the installed package, else the source tree's."""
    packaged = Path(str(resources.files("converter"))) / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


def bundled_schema_names() -> list[str]:
    """Names accepted by ``--schema NAME`` (file names without ``.schema.json``)."""
    return sorted(
        p.name.removesuffix(SCHEMA_SUFFIX) for p in schema_dir().glob("*" + SCHEMA_SUFFIX)
    )


def schema_path(name_or_path: str) -> Path:
    """Resolve a bundled schema name or a schema file path."""
    bundled = schema_dir() / f"{name_or_path}{SCHEMA_SUFFIX}"
    if bundled.is_file():
        return bundled
    path = Path(name_or_path)
    if path.is_file():
        return path
    names = ", ".join(bundled_schema_names())
    raise UsageError(f"no schema {name_or_path!r}: give a file or one of: {names}")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except RecursionError:
        raise UsageError(f"{path}: cannot read schema: nested too deep") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"{path}: cannot read schema: {reason}") from exc


def _retrieve(uri: str, base_dir: Path) -> Any:
    """Load a referenced schema from disk only: file URIs, or a neighbour of the root schema."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return _load_json(Path(unquote(parsed.path)))
    neighbour = base_dir / Path(parsed.path).name
    if neighbour.is_file():
        return _load_json(neighbour)
    raise UsageError(f"{uri!r} is not a file beside the schema")


def cut(text: str, limit: int = MAX_MESSAGE) -> str:
    """Shorten ``text`` to ``limit`` characters, keeping both ends."""
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


@dataclass(frozen=True)
class Violation:
    """One schema violation: the JSON pointer of the field, the message and the schema keyword."""

    pointer: str
    message: str
    keyword: str = ""

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class RecordValidator:
    """Validates one record at a time against a schema compiled once per run."""

    def __init__(self, path: Path) -> None:
        schema = _load_json(path)
        if not isinstance(schema, dict):
            raise UsageError(f"{path}: a schema must be a JSON object")
        schema = {**schema, "$id": schema.get("$id", path.resolve().as_uri())}
        base_dir = path.resolve().parent
        self.path, self.schema, self.base_dir = path, schema, base_dir
        try:
            with room_for_deep_records():
                if path.parent != schema_dir():  # a user's: first checked by the reference
                    self.reference  # noqa: B018
                self.fast = _compile(schema, path, base_dir)
        except RecursionError:
            raise UsageError(f"{path}: schema nested too deep to be read") from None

    @cached_property
    def reference(self) -> Validator:
        """The jsonschema validator of the schema; UsageError when the schema is not valid."""
        import jsonschema
        import referencing
        import referencing.jsonschema

        cls = jsonschema.validators.validator_for(self.schema)
        try:
            cls.check_schema(self.schema)
        except jsonschema.SchemaError as exc:
            raise UsageError(f"{self.path}: invalid schema: {cut(exc.message)}") from exc

        def retrieve(uri: str) -> referencing.Resource[Any]:
            return referencing.jsonschema.DRAFT202012.create_resource(_retrieve(uri, self.base_dir))

        registry: referencing.Registry[Any] = referencing.Registry(retrieve=retrieve)  # type: ignore[call-arg]
        return cls(self.schema, registry=registry)

    def is_valid(self, obj: Any) -> bool:
        """True when ``obj`` satisfies the schema: the compiled validator decides, the reference
        where the compiled one cannot take a value (a datetime or bytes read from Parquet)."""
        try:
            return bool(self.fast.is_valid(obj))
        except ValueError:
            return bool(self.reference.is_valid(obj))

    def violations(self, obj: Any) -> list[Violation]:
        """Every violation of ``obj``, in document order, with messages cut to a sane length
        (one saying so when ``obj`` is nested too deep for the reference to explain)."""
        try:
            with room_for_deep_records():
                return [
                    Violation(_pointer(e.absolute_path), cut(e.message), str(e.validator))
                    for e in sorted(self.reference.iter_errors(obj), key=_document_order(obj))
                ]
        except RecursionError:
            return [Violation("", "invalid, nested too deep for jsonschema to say where", "depth")]


def _document_order(obj: Any) -> Callable[[Any], list[int]]:
    """A sort key putting the errors of ``obj`` in document order: an error's place is the
    position, level by level, of each key (in its object's order) or item on its path."""

    def place(error: Any) -> list[int]:
        where, node = [], obj
        for part in error.absolute_path:
            if isinstance(node, dict) and part in node:
                where.append(next(k for k, key in enumerate(node) if key == part))
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                where.append(part)
            else:
                break
            node = node[part]
        return where

    return place


def _compile(schema: dict[str, Any], path: Path, base_dir: Path) -> jsonschema_rs.Validator:
    """The compiled validator of ``schema``, read from ``path``; UsageError in one line when it
    cannot be built, naming the reference it cannot resolve when that is why."""
    unresolved: list[str] = []  # why a referenced schema could not be loaded

    def retrieve(uri: str) -> Any:
        try:
            return _retrieve(uri, base_dir)
        except UsageError as exc:
            unresolved.append(str(exc))
            raise

    try:
        return jsonschema_rs.validator_for(schema, retriever=retrieve)
    except jsonschema_rs.ValidationError as exc:
        if not isinstance(exc.kind, jsonschema_rs.ValidationErrorKind.Referencing):
            raise UsageError(f"{path}: cannot compile schema: {cut(exc.message)}") from None
        reason = unresolved[0] if unresolved else exc.message
        raise UsageError(f"{path}: unresolvable reference: {cut(reason)}") from None
    except ValueError as exc:  # jsonschema-rs's own limit: "Recursion limit reached"
        raise UsageError(f"{path}: cannot compile schema: {exc}") from None


def _pointer(path: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


@cache
def validator_for(name_or_path: str) -> RecordValidator:
    """A cached validator for a bundled schema name or a schema path."""
    return RecordValidator(schema_path(name_or_path))
