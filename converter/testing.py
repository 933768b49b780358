"""Helpers for testing converter plugins, shipped for plugin authors (and used by our own).

``check_language_plugin`` checks a language plugin's contract in one call; ``judge`` says how a
language's profile sees a text; ``run_convert`` runs the real CLI with only the plugins given;
``listed_plugin`` proves an installed plugin is found through its entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from converter.langid import SCRIPTS, classify
from converter.model import Language
from converter.plugins import build_manager, build_registry

#: One sentence per script the shared classifier tells apart; a language plugin must reject
#: every one whose script is not among its language's ``scripts``.
SCRIPT_SAMPLES: Mapping[str, str] = {
    "latin": "Please write a short poem about the summer rain in the mountains.",
    "ja": "山の夏の雨について、短い詩を書いてください。",
    "zh": "请写一首关于山里夏天下雨的短诗，不要超过四行。",
    "ko": "산속의 여름 비에 대한 짧은 시를 써 주세요.",
}


def judge(language: Language, text: str) -> bool | None:
    """Whether ``text`` is in ``language``: True, False, or None when unsure.

    The language's own ``accepts`` decides first; when it is absent or unsure, the shared
    classifier's script is compared with the language's ``scripts``. Text with too few letters
    is unsure. Two languages of one script (English and French) both accept its texts: telling
    them apart needs ``accepts``.
    """
    if language.accepts is not None:
        verdict = language.accepts(text)
        if verdict is not None:
            return verdict
    script = classify(text).script
    if script == "und":
        return None
    return script in language.scripts


def run_convert(
    *args: str | Path,
    plugins: Iterable[str] = (),
    allow: str = "",
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m converter ARGS`` with the built-ins and ``plugins`` (module paths or
    ``.py`` files) loaded; installed plugins load only if named in ``allow`` (comma-separated
    distribution names, as ``CONVERTER_LOAD_PLUGINS``)."""
    env = {**os.environ, "CONVERTER_LOAD_PLUGINS": allow, "CONVERTER_PLUGINS": ",".join(plugins)}
    return subprocess.run(
        [sys.executable, "-m", "converter", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        timeout=300,
    )


def listed_plugin(distribution: str) -> dict[str, Any]:
    """The ``convert plugins --format json`` entry of an installed plugin, loaded (alone)
    through its entry point; AssertionError if it is not found there."""
    done = run_convert("plugins", "--format", "json", allow=distribution)
    assert done.returncode == 0, done.stderr
    for entry in json.loads(done.stdout):
        if entry["distribution"] == distribution and entry["kind"] == "entry point":
            return dict(entry)
    raise AssertionError(f"{distribution} is not listed by 'convert plugins': {done.stdout}")


def check_language_plugin(plugin: str, samples: Mapping[str, str]) -> list[Language]:
    """Check a language plugin's contract and return the languages it registers.

    ``plugin`` is the module's import path (or a ``.py`` file); ``samples`` maps each of its
    language codes to a sentence in that language. Checked: the plugin loads and registers at
    least one language without clashing with the built-ins; each has a code, a 2-8 letter
    uppercase seq suffix, a name and a reasoning sentence; its profile (``scripts`` and
    ``accepts``) accepts its sample and rejects :data:`SCRIPT_SAMPLES` of other scripts; and
    ``convert stream`` with English writes ``0EN`` then ``0<SUFFIX>`` with the right reasoning.
    """
    registry = build_registry(build_manager([plugin], autoload=False))
    name = Path(plugin).stem if plugin.endswith(".py") else plugin
    own = [
        lang
        for code, lang in registry.languages.items()
        if registry.owners[("language", code)] == name
    ]
    assert own, f"plugin {plugin!r} registers no language"
    for lang in own:
        known = lang.scripts and lang.scripts <= set(SCRIPTS) - {"und"}
        assert known or lang.accepts is not None, (
            f"{lang.code}: scripts {sorted(lang.scripts)} are not among the classifier's "
            f"{SCRIPTS[1:]}; give them, or an accepts function"
        )
        assert lang.code in samples, f"give a sample sentence in {lang.name} for {lang.code!r}"
        assert judge(lang, samples[lang.code]) is True, (
            f"{lang.code}: its profile does not accept its own sample {samples[lang.code]!r}"
        )
        for script, text in SCRIPT_SAMPLES.items():
            if script not in lang.scripts:
                assert judge(lang, text) is False, f"{lang.code}: accepts a {script} text {text!r}"
    _check_stream(plugin, own, samples)
    return own


def _check_stream(plugin: str, languages: list[Language], samples: Mapping[str, str]) -> None:
    """``convert stream en=... <code>=...`` writes each language's seq and reasoning."""
    with tempfile.TemporaryDirectory() as tmp:
        args = []
        for code, text in [("en", SCRIPT_SAMPLES["latin"])] + [
            (lang.code, samples[lang.code]) for lang in languages
        ]:
            path = Path(tmp, f"{code}.jsonl")
            record = {"instruction": text, "input": "", "output": text}
            path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
            args.append(f"{code}={path}")
        done = run_convert("stream", *args, "--quiet", plugins=[plugin])
    assert done.returncode == 0, f"convert stream failed: {done.stderr}"
    records = [json.loads(line) for line in done.stdout.splitlines()]
    got = [(r["seq"], r["reasoning"]) for r in records[1:]]
    assert got == [(f"0{lang.suffix}", lang.reasoning) for lang in languages], records
