"""``convert plugins new LANG``: write a language plugin package that installs and passes its
tests as generated (pyproject with the entry point, module, README, a contract test)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import NamedTuple

from converter import __version__
from converter.errors import UsageError
from converter.plugins import build_manager, build_registry
from converter.vetting import CODE_RE, SUFFIX_RE


class Known(NamedTuple):
    """What the scaffold knows of a language: its name, script and a sample sentence."""

    name: str
    script: str
    sample: str


#: Languages the scaffold can fill in without ``--name``; others default to the Latin script.
KNOWN = {
    "ko": Known("Korean", "ko", "오늘은 날씨가 좋아서 친구와 함께 공원을 산책했습니다."),
    "fr": Known("French", "latin", "Il fait beau aujourd'hui, alors nous sommes allés au parc."),
    "de": Known("German", "latin", "Heute ist schönes Wetter, also gehen wir in den Park."),
    "es": Known("Spanish", "latin", "Hoy hace buen tiempo, así que fuimos a pasear al parque."),
    "it": Known("Italian", "latin", "Oggi fa bel tempo, quindi siamo andati al parco."),
    "pt": Known("Portuguese", "latin", "Hoje está um dia bonito, por isso fomos ao parque."),
    "vi": Known("Vietnamese", "latin", "Hôm nay trời đẹp nên chúng tôi đi dạo trong công viên."),
    "id": Known("Indonesian", "latin", "Hari ini cuacanya cerah, jadi kami berjalan-jalan."),
}

#: A language name that can go into TOML, Markdown and Python strings as it is.
_NAME_RE = re.compile(r"[^\W\d_][\w ()'.-]*")

#: Template file -> path in the package ($module and $test_name filled in).
_FILES = {
    "module.py.tmpl": "$module/__init__.py",
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "test.py.tmpl": "tests/$test_name.py",
}


@dataclass(frozen=True)
class Scaffold:
    """What :func:`new_plugin` wrote: the package directory, its files, the plugin module, and
    whether its script and test sample are placeholders (a language the scaffold does not
    know: the Latin script assumed)."""

    root: Path
    files: list[Path]
    module: Path
    placeholders: bool = False

    @property
    def test(self) -> Path:
        """The generated test module."""
        return next(path for path in self.files if path.parent.name == "tests")


def new_plugin(
    *, lang: str, name: str | None = None, directory: Path | None = None, suffix: str | None = None
) -> Scaffold:
    """Write a plugin package for language ``lang`` into ``directory`` (created; it must be
    empty if it exists) and return what was written. ``suffix`` ends each ``seq`` (default:
    the code's letters, upper-cased). UsageError for a malformed or taken code or suffix, or
    an unknown code without ``name``."""
    if not CODE_RE.fullmatch(lang):
        raise UsageError(f"{lang!r} is not a lowercase language code such as 'ko' or 'pt-br'")
    registry = build_registry(build_manager())  # installed plugins' languages are taken too
    if lang in registry.languages:
        owner = registry.owners["language", lang]
        raise UsageError(f"language {lang!r} is already registered by {owner!r}")
    suffix = re.sub("[^a-z]", "", lang).upper()[:8] if suffix is None else suffix
    if not SUFFIX_RE.fullmatch(suffix):
        raise UsageError(f"--suffix {suffix!r} is not 2 to 8 uppercase letters, such as 'KO'")
    taken = next((x.code for x in registry.languages.values() if x.suffix == suffix), None)
    if taken is not None:
        raise UsageError(
            f"seq suffix {suffix!r} is language {taken!r}'s: give {lang!r} another with --suffix"
        )
    known = KNOWN.get(lang)
    if name is not None and not name.strip():
        raise UsageError("--name is empty: give the language's English name, or leave it out")
    name = name or (known.name if known else None)
    if not name:
        raise UsageError(f"give the language's English name for {lang!r} with --name")
    if not _NAME_RE.fullmatch(name):
        raise UsageError(f"--name takes a plain language name such as 'Korean', not {name!r}")
    script, sample = (
        (known.script, known.sample) if known else ("latin", f"Replace this with a {name} text.")
    )
    fields = _fields(lang, name, suffix, script, sample)
    root = directory or Path(fields["dist"])
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(f"{root} exists and is not an empty directory")
    written = []
    templates = files("converter") / "templates" / "plugin"
    for template, target in _FILES.items():
        path = root / Template(target).substitute(fields)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = Template(templates.joinpath(template).read_text(encoding="utf-8"))
        path.write_text(text.substitute(fields), encoding="utf-8")
        written.append(path)
    return Scaffold(root, written, written[0], placeholders=known is None)


def _fields(lang: str, name: str, suffix: str, script: str, sample: str) -> dict[str, str]:
    """The values the templates are filled with."""
    ident = lang.replace("-", "_")
    constant = re.sub(r"\W+", "_", name).strip("_").upper()
    reasoning = f"AI assistant should reply in {name} language."
    return {
        "code": lang,
        "name": name,
        "dist": f"langpair-converter-{lang}",
        "module": f"converter_{ident}",
        "test_name": f"test_{ident}",
        "suffix": suffix,
        "script": script,
        "constant": constant if constant.isidentifier() else "LANGUAGE",
        "reasoning": reasoning,
        "core_version": __version__,
        # JSON string literals are valid Python string literals (double-quoted, like ruff's).
        "name_literal": json.dumps(name, ensure_ascii=False),
        "reasoning_literal": json.dumps(reasoning, ensure_ascii=False),
        "sample_literal": json.dumps(sample, ensure_ascii=False),
    }
