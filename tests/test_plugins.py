"""Plugins: every hook, discovery through entry points, `convert plugins`, tracing, each plugin
error (one line naming the plugin), and the author's guide kept honest."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from helpers import ROOT, SAMPLE_EN, SAMPLE_JA
from plugin_helpers import (
    FRENCH,
    ZH_DIST,
    assert_one_line_error,
    french_source,
    jsonl,
    out_records,
    plugin_file,
)

from converter import hookspecs
from converter.discovery import HOOK_NAMES
from converter.errors import PluginError
from converter.model import Record
from converter.plugins import build_manager, build_registry, run_factories
from converter.testing import run_convert

GUIDE = ROOT / "docs" / "writing-plugins.md"


# --- every hook ------------------------------------------------------------------------------


def test_hook_register_languages(tmp_path: Path) -> None:
    fr = plugin_file(tmp_path, "fr_lang", FRENCH)
    out = tmp_path / "out.jsonl"
    done = run_convert(
        "stream", f"en={SAMPLE_EN}", f"fr={french_source(tmp_path)}", f"ja={SAMPLE_JA}",
        "--unequal", "shortest", "-o", out, plugins=[fr],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = out_records(out)
    assert [r["seq"] for r in records] == ["0EN", "0FR", "0JA", "1EN", "1FR", "1JA"]
    assert records[1]["reasoning"] == "AI assistant should reply in French language."
    assert records[1]["instruction"].startswith("Que puis-je")


def test_hook_register_input_formats(tmp_path: Path) -> None:
    """A plugin's format, with a key it may go without ("hint"): the records' other keys are
    their tags, as many as the missing keys or not (one record of as many keys as the
    format's own had its "src" dropped, neither kept nor counted)."""
    qa = plugin_file(tmp_path, "qa_format", """
        from converter import InputFormat, hookimpl

        @hookimpl
        def register_input_formats(register):
            register(InputFormat(
                name="qa", own_keys=frozenset({"q", "hint", "a"}), detect=lambda obj: "q" in obj,
                fields=lambda obj: (obj["q"], obj.get("hint", ""), obj["a"]),
            ))
    """)  # fmt: skip
    en = jsonl(tmp_path / "en.jsonl", [{"q": "Capital of France?", "a": "Paris", "src": "x"}])
    ja = jsonl(tmp_path / "ja.jsonl", [{"q": "フランスの首都は？", "a": "パリ", "src": "x"}])
    out = tmp_path / "out.jsonl"
    done = run_convert("stream", f"en={en}", f"ja={ja}", "--keep-tags", "-o", out, plugins=[qa])
    assert done.returncode == 0, done.stderr
    first = out_records(out)[0]
    assert (first["instruction"], first["input"], first["output"]) == (
        "Capital of France?",
        "",
        "Paris",
    )
    assert first["tags"] == {"src": "x"}


def test_hook_register_writers(tmp_path: Path) -> None:
    tsv = plugin_file(tmp_path, "tsv_writer", """
        from converter import WriterSpec, hookimpl

        class TsvWriter:
            schema = "record"

            def __init__(self, stream, options):
                self.stream = stream

            def row(self, record):
                return {"seq": record.seq, "reasoning": record.reasoning,
                        "instruction": record.instruction, "input": record.input,
                        "output": record.output}

            def encode(self, row):
                return ("\\t".join(row[k].replace("\\n", " ") for k in ("seq", "instruction"))
                        + "\\n").encode()

            def write(self, chunks):
                self.stream.write(b"".join(chunks))

            def close(self):
                pass

        @hookimpl
        def register_writers(register):
            register(WriterSpec("tsv", (".tsv",), TsvWriter, "seq and instruction"))
    """)  # fmt: skip
    out = tmp_path / "out.tsv"
    done = run_convert("stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "-o", out, plugins=[tsv])
    assert done.returncode == 0, done.stderr
    en = json.loads(SAMPLE_EN.read_text())
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 10
    assert lines[0] == f"0EN\t{en[0]['instruction']}"
    assert lines[1].startswith("0JA\t朝食")


def test_hook_register_checks(tmp_path: Path) -> None:
    check = plugin_file(tmp_path, "short_check", """
        from converter import Check, hookimpl

        def compare(group):
            return [f"{r.lang}: output under 40 characters" for r in group if len(r.output) < 40]

        @hookimpl
        def register_checks(register):
            register(Check(name="short", compare=compare, default_policy="off"))
    """)  # fmt: skip
    out = tmp_path / "out.jsonl"
    args = ("stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "-o", out, "--check", "short=reject")
    done = run_convert(*args, plugins=[check])
    assert done.returncode == 1, done.stderr
    rejects = out_records(tmp_path / "out.jsonl.rejects.jsonl")
    expected = [
        i for i, (e, j) in enumerate(
            zip(json.loads(SAMPLE_EN.read_text()), json.loads(SAMPLE_JA.read_text()))
        ) if len(e["output"]) < 40 or len(j["output"]) < 40
    ]  # fmt: skip
    assert expected and sorted({r["index"] for r in rejects}) == expected
    assert all(r["reasons"][0].startswith("check short: ") for r in rejects)
    assert {r["seq"] for r in out_records(out)}.isdisjoint({f"{i}EN" for i in expected})


def test_hook_make_tagger(tmp_path: Path) -> None:
    tagger = plugin_file(tmp_path, "len_tagger", """
        from converter import hookimpl

        @hookimpl
        def make_tagger(languages, options):
            if not options["keep_tags"]:
                return None
            codes = [lang.code for lang in languages]

            def tag(record):
                record.tags["seen_seq"] = record.seq  # the built-in tagger ran first
                record.tags["langs"] = codes
            return tag
    """)  # fmt: skip
    out = tmp_path / "out.jsonl"
    done = run_convert(
        "stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "--keep-tags", "-o", out, plugins=[tagger]
    )
    assert done.returncode == 0, done.stderr
    records = out_records(out)
    assert [r["tags"] for r in records[:2]] == [
        {"seen_seq": "0EN", "langs": ["en", "ja"]},
        {"seen_seq": "0JA", "langs": ["en", "ja"]},
    ]
    pm = build_manager([tagger], autoload=False)
    no_tags = {"keep_tags": False}
    assert len(run_factories(pm, "make_tagger", languages=[], options=no_tags)) == 1  # built-in


def test_hook_register_taggers(tmp_path: Path) -> None:
    tagger = plugin_file(tmp_path, "length_tagger", """
        from converter import hookimpl
        from converter.model import Tagger

        def make(languages):
            def tag(record):
                record.tags["long"] = len(record.output) > 100
            return tag

        @hookimpl
        def register_taggers(register):
            register(Tagger("long", "output over 100 characters", make))
    """)  # fmt: skip
    out = tmp_path / "out.jsonl"
    sources = (f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "--keep-tags", "-o", out)
    done = run_convert("stream", *sources, plugins=[tagger])
    assert done.returncode == 0, done.stderr
    assert all("long" not in r["tags"] for r in out_records(out))  # opt-in: not asked for
    done = run_convert("stream", *sources, "--tagger", "long", plugins=[tagger])
    assert done.returncode == 0, done.stderr
    records = out_records(out)
    assert [r["tags"]["long"] for r in records] == [len(r["output"]) > 100 for r in records]
    done = run_convert("stream", *sources, "--tagger", "lnog", plugins=[tagger])
    assert done.returncode == 2
    assert "unknown tagger 'lnog'; known: long, register" in done.stderr
    listed = run_convert("plugins", "--format", "json", plugins=[tagger])
    entry = next(e for e in json.loads(listed.stdout) if e["name"] == "length_tagger")
    assert entry["taggers"] == ["long"]


def test_hook_make_interleaver(tmp_path: Path) -> None:
    source = """
        from converter import hookimpl

        @hookimpl
        def make_interleaver(languages):
            return lambda group: sorted(group, key=lambda r: r.lang, reverse={reverse})
    """
    a = plugin_file(tmp_path, "order_a", source.format(reverse=False))
    b = plugin_file(tmp_path, "order_b", source.format(reverse=True))
    done = run_convert("stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", plugins=[a, b])
    assert done.returncode == 0, done.stderr
    seqs = [json.loads(line)["seq"] for line in done.stdout.splitlines()]
    assert seqs[:4] == ["0JA", "0EN", "1JA", "1EN"]  # b, loaded last, wins over a
    group = [Record("en", 0, "", "", "", {}), Record("ja", 0, "", "", "", {})]
    for plugins, first in (([a], "en"), ([b, a], "en"), ([b], "ja"), ([], "en")):
        pm = build_manager(plugins, autoload=False)
        (interleave,) = run_factories(pm, "make_interleaver", languages=[], options={})
        assert interleave(group)[0].lang == first, plugins


# --- discovery and listing -----------------------------------------------------------------


def test_chinese_plugin_is_discovered_through_its_entry_point() -> None:
    done = run_convert("plugins", "--format", "json", allow=ZH_DIST)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {
            "name": "zh",
            "kind": "entry point",
            "distribution": ZH_DIST,
            "version": version(ZH_DIST),
            "hooks": ["make_tagger", "register_languages"],
            "languages": ["zh"],
            "input_formats": [],
            "writers": [],
            "checks": [],
            "taggers": [],
        }
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVERTER_")}
    autoloaded = subprocess.run(
        [sys.executable, "-m", "converter", "plugins", "--all"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert autoloaded.returncode == 0, autoloaded.stderr
    assert f"\nzh {version(ZH_DIST)} ({ZH_DIST}, entry point)\n" in autoloaded.stdout
    assert "converter.builtin.languages 0.1.0 (langpair-converter, builtin)\n" in autoloaded.stdout


def test_allow_list_and_tests_keep_installed_plugins_out(tmp_path: Path) -> None:
    done = run_convert("plugins", allow="")
    assert done.stdout == "No plugins loaded besides the built-ins (show them with --all).\n"
    zh = jsonl(tmp_path / "zh.jsonl", [{"instruction": "你好", "input": "", "output": "你好"}])
    done = run_convert("stream", f"en={SAMPLE_EN}", f"zh={zh}", "--limit", "1", allow="")
    assert done.returncode == 2 and "unknown language 'zh'" in done.stderr
    # In-process under pytest, entry points are not loaded either (tests/conftest.py).
    assert "zh" not in build_registry(build_manager()).languages
    assert "zh" in build_registry(build_manager(autoload=True)).languages


def test_trace_prints_hook_calls(tmp_path: Path) -> None:
    env = {**os.environ, "CONVERTER_TRACE_PLUGINS": "1"}
    env["CONVERTER_LOAD_PLUGINS"] = ZH_DIST
    done = subprocess.run(
        [sys.executable, "-m", "converter", "stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "convert: trace: register_languages: calling plugin 'zh' with register" in done.stderr
    assert "convert: trace: plugin 'zh' registers language 'zh'" in done.stderr
    assert "convert: trace: make_tagger: plugin 'zh' returned None" in done.stderr


# --- plugin errors: one line naming the plugin, exit 2, no traceback ----------------------------


def test_error_plugin_fails_to_import(tmp_path: Path) -> None:
    broken = plugin_file(tmp_path, "broken", "import no_such_module_here\n")
    done = run_convert("stream", f"en={SAMPLE_EN}", "--plugin", broken)
    assert_one_line_error(
        done, "broken.py' failed to import", "No module named 'no_such_module_here'"
    )
    done = run_convert("plugins", "--plugin", "no.such.plugin")
    assert_one_line_error(done, "'no.such.plugin' failed to import")


def test_error_entry_point_fails_to_import(tmp_path: Path) -> None:
    dist = tmp_path / "site" / "converter_broken-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: converter-broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[converter]\nbroken = converter_broken_missing\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    env.pop("CONVERTER_LOAD_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-m", "converter", "plugins"], capture_output=True, text=True, env=env
    )
    assert_one_line_error(done, "'broken' (converter-broken) failed to import")
    env["CONVERTER_LOAD_PLUGINS"] = ZH_DIST  # not allowed: never imported
    allowed = subprocess.run(
        [sys.executable, "-m", "converter", "plugins"], capture_output=True, text=True, env=env
    )
    assert allowed.returncode == 0 and "broken" not in allowed.stdout + allowed.stderr


def test_error_plugin_raises_in_a_register_hook(tmp_path: Path) -> None:
    bad = plugin_file(tmp_path, "bad_register", """
        from converter import hookimpl

        @hookimpl
        def register_writers(register):
            raise RuntimeError("writer table is missing")
    """)  # fmt: skip
    done = run_convert("stream", f"en={SAMPLE_EN}", "--plugin", bad)
    assert_one_line_error(
        done, "'bad_register' failed in register_writers: RuntimeError: writer table is missing"
    )


@pytest.mark.parametrize("hook", ["make_tagger", "make_interleaver"])
def test_error_plugin_raises_in_its_per_run_callable(tmp_path: Path, hook: str) -> None:
    bad = plugin_file(tmp_path, "bad_callable", f"""
        from converter import hookimpl

        def fail(arg):
            raise KeyError("no such field")

        @hookimpl
        def {hook}(languages):
            return fail
    """)  # fmt: skip
    out = tmp_path / "out.json"
    args = ("stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "-o", out, "--plugin", bad)
    where = "en record 0" if hook == "make_tagger" else "group 0"
    done = run_convert(*args)
    assert_one_line_error(
        done, f"'bad_callable' failed in the callable from {hook} on {where}: KeyError"
    )
    assert not out.exists()
    debug = run_convert(*args, "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "fail" in debug.stderr


@pytest.mark.parametrize(
    ("body", "returned"),
    [("return group[:1]", "[en]"), ("return group + group", "[en, ja, en, ja]")],
)
def test_error_plugin_interleaver_drops_or_doubles_records(
    tmp_path: Path, body: str, returned: str
) -> None:
    """An interleaver that loses or repeats a record would break the counts: one line, exit 2,
    no output."""
    bad = plugin_file(tmp_path, "bad_order", f"""
        from converter import hookimpl

        def order(group):
            {body}

        @hookimpl
        def make_interleaver(languages):
            return order
    """)  # fmt: skip
    out = tmp_path / "out.json"
    done = run_convert("stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "-o", out, "--plugin", bad)
    assert_one_line_error(
        done,
        "'bad_order': the interleaver from make_interleaver must return the records of group 0 "
        f"reordered, each once; it returned {returned} for [en, ja]",
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ('"ja", "Japanese again", "JP"', "registers language 'ja', already registered by"),
        ('"jp", "Japanese", "JA"', "registers seq suffix 'JA', already used by language 'ja'"),
        ('"zh", "Chinese", "zh"', "seq suffix 'zh' is not 2 to 8 uppercase letters"),
        ('"Chinese", "Chinese", "ZH"', "code 'Chinese' is not a lowercase language code"),
    ],
)
def test_error_plugin_claims_a_taken_or_malformed_language(
    tmp_path: Path, language: str, message: str
) -> None:
    name = "claims_" + re.sub(r"\W", "", language).lower()[:12]
    path = plugin_file(tmp_path, name, f"""
        from converter import Language, hookimpl

        @hookimpl
        def register_languages(register):
            register(Language({language}, "AI assistant should reply in it."))
    """)  # fmt: skip
    with pytest.raises(PluginError, match=re.escape(message)) as caught:
        build_registry(build_manager([path], autoload=False))
    assert str(caught.value).startswith(f"plugin {name!r} registers")
    if "already registered" in message:  # and through the CLI: one line, exit 2
        assert_one_line_error(run_convert("plugins", "--plugin", path), message)


@pytest.mark.parametrize(
    ("hook", "item", "message"),
    [
        (
            "register_writers",
            'WriterSpec("csvish", (".JSON",), lambda stream, options: None)',
            "registers writer 'csvish' for output suffix '.json', which would take the outputs "
            "of 'json' writer",
        ),
        (
            "register_writers",
            'WriterSpec("csvish", ("",), lambda stream, options: None)',
            "registers writer 'csvish' with output suffixes ('',): give a tuple of suffixes "
            "that start with '.', e.g. ('.tsv',)",
        ),
        (
            "register_writers",
            'WriterSpec("csvish", ("s.json",), lambda stream, options: None)',
            "registers writer 'csvish' with output suffixes ('s.json',): give a tuple",
        ),
        (
            "register_writers",
            'WriterSpec("csvish", ".csv", lambda stream, options: None)',
            "registers writer 'csvish' with output suffixes '.csv': give a tuple",
        ),
        (
            "register_checks",
            'Check("c", configure=lambda languages: lambda group: [], range_safe="no")',
            "registers check 'c' with range_safe 'no': True or False",
        ),
        (
            "register_checks",
            'Check("all", compare=lambda group: ["always"], default_policy="reject")',
            "registers check 'all', the name --check gives every check: choose another",
        ),
        (
            "register_checks",
            'Check("loud", compare=lambda group: [], default_policy="loud")',
            "registers check 'loud' with default policy 'loud' (known: off, warn, reject)",
        ),
        (
            "register_languages",
            'Language("fr", "French", "FR", "It is French.", frozenset({"latinx"}))',
            "registers language 'fr': scripts ['latinx'] are unknown (known: latin, ja, zh, ko)",
        ),
        (
            "register_languages",
            'Language("fr", "French", "FR", "It is French.", "latin")',
            "registers language 'fr': scripts is the text 'latin', not a set of script names",
        ),
        (
            "register_writers",
            'WriterSpec("tsv", (".tsv",), "JsonLinesWriter")',
            "registers writer 'tsv': its make is str, not a callable",
        ),
        (
            "register_taggers",
            'Tagger(name="t", description="", make=None)',
            "registers tagger 't': its make is NoneType, not a callable",
        ),
        (
            "register_checks",
            'Check("c", compare=lambda group: [], features="nope")',
            "registers check 'c': its features is str, not a callable (or None)",
        ),
        (
            "register_input_formats",
            'InputFormat(name="f", own_keys=frozenset(), detect=None, fields=None)',
            "registers input format 'f': its detect is NoneType, not a callable",
        ),
        (
            "register_languages",
            'Language("fr", "French", "FR", "It is French.", accepts="yes")',
            "registers language 'fr': accepts is str, not a callable (or None)",
        ),
    ],
    ids=[
        "writer-suffix",
        "writer-suffix-empty",
        "writer-suffix-without-dot",
        "writer-suffixes-a-string",
        "check-range-safe-not-a-bool",
        "check-named-all",
        "check-policy",
        "language-scripts",
        "language-scripts-a-string",
        "writer-make",
        "tagger-make",
        "check-features",
        "format-detect",
        "language-accepts",
    ],
)
def test_error_plugin_takes_a_suffix_or_gives_an_unknown_value(
    tmp_path: Path, hook: str, item: str, message: str
) -> None:
    """A writer taking a built-in's suffix would silently change what ``-o out.json`` writes
    (``s.json`` takes ``results.json``); a misspelt script or policy would silently act as
    another; a check called ``all`` could never be set alone; what should be callable and is
    not would be an internal error once the run uses it: each is refused at start-up."""
    path = plugin_file(tmp_path, "odd_values", f"""
        from converter import Check, InputFormat, Language, Tagger, WriterSpec, hookimpl

        @hookimpl
        def {hook}(register):
            register({item})
    """)  # fmt: skip
    out = tmp_path / "out.json"
    done = run_convert("stream", f"en={SAMPLE_EN}", "-o", out, "--plugin", path)
    assert_one_line_error(done, f"plugin 'odd_values' {message}")
    assert not out.exists()


def test_error_plugin_writer_schema_that_is_not_bundled_names_the_plugin(tmp_path: Path) -> None:
    path = plugin_file(tmp_path, "schemaless", """
        from converter import WriterSpec, hookimpl
        from converter.builtin.writers import JsonLinesWriter

        class Rows(JsonLinesWriter):
            def __init__(self, stream, options):
                super().__init__(stream, options)
                self.schema = "tsv-rows"

        @hookimpl
        def register_writers(register):
            register(WriterSpec("rows", (".rows",), Rows))
    """)  # fmt: skip
    done = run_convert("stream", f"en={SAMPLE_EN}", "-o", tmp_path / "o.rows", "--plugin", path)
    assert_one_line_error(done, "plugin 'schemaless': writer 'rows': no schema 'tsv-rows'")


@pytest.mark.parametrize(
    ("where", "mode"),
    [
        ("import", []),
        ("register", []),
        ("tagger", []),
        ("compare", []),
        ("tagger", ["--jobs", "2"]),
        ("compare", ["--jobs", "2"]),
    ],
)
def test_error_plugin_calls_sys_exit(tmp_path: Path, where: str, mode: list[str]) -> None:
    """``sys.exit()`` in a plugin (even ``sys.exit(0)``) is the plugin's failure: one line, exit
    2, the earlier output as it was; never a run ended as if it had succeeded."""
    path = plugin_file(tmp_path, "quitter", f"""
        import sys
        from converter import Check, hookimpl

        WHERE = {where!r}
        if WHERE == "import":
            sys.exit(0)


        def compare(group):
            if WHERE == "compare":
                sys.exit(0)
            return []


        @hookimpl
        def register_checks(register):
            if WHERE == "register":
                sys.exit(0)
            register(Check("quits", compare=compare))


        @hookimpl
        def make_tagger(languages, options):
            return lambda record: sys.exit(0) if WHERE == "tagger" else None
    """)  # fmt: skip
    out = tmp_path / "out.jsonl"
    out.write_text("EARLIER\n")
    done = run_convert(
        "stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "-o", out, "--plugin", path, *mode
    )
    assert_one_line_error(done, "quitter", "SystemExit")
    assert out.read_text() == "EARLIER\n"


def test_error_two_plugins_of_one_name(tmp_path: Path) -> None:
    """A module given with --plugin named as an installed plugin's entry point: one line saying
    where each comes from, not pluggy's dump of every plugin loaded."""
    path = plugin_file(tmp_path, "zh", """
        from converter import hookimpl

        @hookimpl
        def make_tagger(languages, options):
            return None
    """)  # fmt: skip
    done = run_convert("plugins", "--plugin", path, allow=ZH_DIST)
    assert_one_line_error(
        done,
        f"plugin name 'zh' is taken twice: by the entry point of {ZH_DIST} ",
        f", and by the module {path}; uninstall one, or leave one out (CONVERTER_LOAD_PLUGINS",
    )
    assert len(done.stderr) < 400, done.stderr


@pytest.mark.parametrize("hook", ["make_tagger", "make_interleaver"])
def test_error_plugin_make_hook_returns_no_callable(tmp_path: Path, hook: str) -> None:
    """Refused when the run starts, before any record is read (and so with no record at all)."""
    path = plugin_file(tmp_path, "notcallable", f"""
        from converter import hookimpl

        @hookimpl
        def {hook}(languages, options):
            return "not a function"
    """)  # fmt: skip
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    done = run_convert("stream", f"en={empty}", "-o", tmp_path / "o.jsonl", "--plugin", path)
    assert_one_line_error(done, f"plugin 'notcallable': {hook} returned str, not a callable")


STATEFUL_CHECK = """
    from converter import Check, hookimpl

    def configure(languages):
        seen = {{}}

        def compare(group):
            earlier = seen.setdefault(group[0].output, group[0].index)
            return [f"output repeats group {{earlier}}"] if earlier != group[0].index else []

        return compare

    @hookimpl
    def register_checks(register):
        register(Check("seen-output", configure=configure, default_policy="reject"{safe}))
"""


def test_range_mode_refuses_a_plugin_check_that_may_keep_state(tmp_path: Path) -> None:
    """Each range would configure it afresh and miss what the ranges before it saw: a group
    written that a single run rejects, exit 0. A check that says ``range_safe`` runs."""
    en_records, ja_records = json.loads(SAMPLE_EN.read_text()), json.loads(SAMPLE_JA.read_text())
    en = jsonl(tmp_path / "en.jsonl", en_records * 80)
    ja = jsonl(tmp_path / "ja.jsonl", ja_records * 80)
    ranges = ["--jobs", "2", "--range-records", "100"]
    stateful = plugin_file(tmp_path, "seenplug", STATEFUL_CHECK.format(safe=""))
    out = tmp_path / "out.jsonl"
    checks = ["--check", "all=off", "--check", "seen-output=reject"]
    done = run_convert(
        "stream", f"en={en}", f"ja={ja}", "-o", out, "--plugin", stateful, *checks, *ranges
    )
    assert done.returncode == 2 and not out.exists(), done.stderr
    assert done.stderr == (
        "convert: error: check 'seen-output' of plugin 'seenplug' may keep state across groups "
        "(it has configure), which range mode cannot carry from one range to the next: "
        "--check seen-output=off, or run without --jobs/--parts (a check that keeps none says "
        "so with range_safe=True)\n"
    )
    single = run_convert("stream", f"en={en}", f"ja={ja}", "-o", out, "--plugin", stateful, *checks)
    assert single.returncode == 1 and len(out.read_text().splitlines()) == 10, single.stderr
    safe = plugin_file(tmp_path, "safeplug", STATEFUL_CHECK.format(safe=", range_safe=True"))
    done = run_convert(
        "stream", f"en={en}", f"ja={ja}", "-o", out, "--plugin", safe, *checks, *ranges
    )
    assert done.returncode == 1, done.stderr  # it runs (and, keeping state, finds less)


def test_an_output_goes_to_the_writer_of_its_longest_suffix(tmp_path: Path) -> None:
    """A plugin's suffix that narrows a built-in's (".TAR.JSON", letter case aside) takes only
    its own outputs."""
    path = plugin_file(tmp_path, "tarred", """
        from converter import WriterSpec, hookimpl
        from converter.builtin.writers import JsonLinesWriter

        @hookimpl
        def register_writers(register):
            register(WriterSpec("tarred", (".TAR.JSON",), JsonLinesWriter))
    """)  # fmt: skip
    for name, lines in (("out.json", False), ("out.tar.json", True)):
        out = tmp_path / name
        done = run_convert("stream", f"en={SAMPLE_EN}", "-o", out, "--plugin", path)
        assert done.returncode == 0, done.stderr
        assert out.read_text().startswith("{" if lines else "[\n  {"), name


@pytest.mark.parametrize(
    ("source", "args", "message"),
    [
        (
            """
            from converter import Check, hookimpl

            def compare(group):
                raise ValueError("bad compare")

            @hookimpl
            def register_checks(register):
                register(Check("boom", compare=compare))
            """,
            [],
            "'raising' failed in compare (raising.py:5): ValueError: bad compare",
        ),
        (
            """
            from converter import Language, hookimpl

            def accepts(text):
                raise RuntimeError("no model")

            @hookimpl
            def register_languages(register):
                register(Language("fr", "French", "FR", "It is French.", frozenset({"latin"}),
                                  accepts))
            """,
            ["fr=FRENCH", "--unequal", "shortest"],
            "'raising' failed in accepts (raising.py:5): RuntimeError: no model",
        ),
        (
            """
            from converter import InputFormat, hookimpl

            def fields(record):
                raise RuntimeError("no table")

            @hookimpl
            def register_input_formats(register):
                register(InputFormat("odd", frozenset({"q"}), lambda r: "q" in r, fields))
            """,
            ["--input-format", "en=odd"],
            "'raising' failed in fields (raising.py:5): RuntimeError: no table",
        ),
        (
            """
            from converter import WriterSpec, hookimpl
            from converter.builtin.writers import JsonLinesWriter

            class Broken(JsonLinesWriter):
                def encode(self, row):
                    raise RuntimeError("no encoder")

            @hookimpl
            def register_writers(register):
                register(WriterSpec("broken", (".broken",), Broken))
            """,
            ["--format", "broken"],
            "'raising' failed in encode (raising.py:7): RuntimeError: no encoder",
        ),
        (
            """
            from converter import WriterSpec, hookimpl

            @hookimpl
            def register_writers(register):
                register(WriterSpec("nothing", (".nothing",), lambda stream, options: None))
            """,
            ["--format", "nothing"],
            "'raising': writer 'nothing' made NoneType, which lacks row, encode, write, close, "
            "schema",
        ),
        (
            """
            from converter import Tagger, hookimpl

            @hookimpl
            def register_taggers(register):
                register(Tagger("t42", "not a tagger", lambda languages: 42))
            """,
            ["--tagger", "t42"],
            "'raising': tagger 't42' made int, not a callable (or None)",
        ),
        (
            """
            from converter import Tagger, hookimpl

            def make(languages):
                def tag(record):
                    raise KeyError("missing")
                return tag

            @hookimpl
            def register_taggers(register):
                register(Tagger("keyless", "raises", make))
            """,
            ["--tagger", "keyless"],
            "'raising' failed in the callable from tagger 'keyless' on en record 0: KeyError",
        ),
        (
            """
            from converter import Check, hookimpl

            def compare(group):
                open("/no/such/table.tsv")

            @hookimpl
            def register_checks(register):
                register(Check("tabled", compare=compare))
            """,
            [],
            "'raising' failed in compare (raising.py:5): FileNotFoundError",
        ),
        (
            """
            from converter import Check, hookimpl

            @hookimpl
            def register_checks(register):
                register(Check("worded", compare=lambda group: "looks odd"))
            """,
            [],
            "'raising': check 'worded' returned str, not a list of finding texts",
        ),
        (
            """
            from converter import Check, hookimpl

            @hookimpl
            def register_checks(register):
                register(
                    Check("counted", configure=lambda languages: lambda group: [1], range_safe=True)
                )
            """,
            [],
            "'raising': check 'counted' returned a list holding int, not a list of finding texts",
        ),
        (
            """
            from converter import Check, hookimpl

            @hookimpl
            def register_checks(register):
                register(Check("bare"))
            """,
            [],
            "'raising': check 'bare' has neither compare nor configure",
        ),
    ],
    ids=[
        "check",
        "accepts",
        "fields",
        "writer",
        "writer-make",
        "tagger-make",
        "tagger",
        "oserror",
        "check-result",
        "configured-result",
        "bare-check",
    ],
)
@pytest.mark.parametrize("mode", [[], ["--jobs", "2"]], ids=["single", "ranges"])
def test_error_in_a_registered_objects_code_names_the_plugin(
    tmp_path: Path, source: str, args: list[str], message: str, mode: list[str]
) -> None:
    """What a plugin registers (a check, a language's test, an input format, a writer, an
    opt-in tagger) runs in the core's loop; an error there is one line naming the plugin, its
    function and line, exit 2, no output: in range mode's workers too."""
    path = plugin_file(tmp_path, "raising", source)
    french = french_source(tmp_path)
    given = [f"fr={french}" if a == "fr=FRENCH" else a for a in args]
    out = tmp_path / "out.jsonl"
    done = run_convert("stream", f"en={SAMPLE_EN}", *given, "-o", out, "--plugin", path, *mode)
    assert_one_line_error(done, message)
    assert not out.exists()


def test_a_writer_row_the_compiled_validator_cannot_take_is_judged_by_jsonschema(
    tmp_path: Path,
) -> None:
    """A plugin writer's row holding a value JSON has no type for (a datetime) in a field the
    schema checks: jsonschema, the reference, rejects the group; not an internal error."""
    path = plugin_file(tmp_path, "dated", """
        import datetime

        from converter import WriterSpec, hookimpl
        from converter.builtin.writers import JsonLinesWriter

        class Dated(JsonLinesWriter):
            def row(self, record):
                row = super().row(record)
                if record.index == 1:
                    row["output"] = datetime.date(2024, 1, 1)
                return row

        @hookimpl
        def register_writers(register):
            register(WriterSpec("dated", (".dated",), Dated))
    """)  # fmt: skip
    out = tmp_path / "out.dated"
    sources = (f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}")
    done = run_convert("stream", *sources, "-o", out, "--plugin", path, "--check", "all=off")
    assert done.returncode == 1, done.stderr
    assert len(out.read_text().splitlines()) == 8
    en, ja = out_records(tmp_path / "out.dated.rejects.jsonl")
    assert en["index"] == ja["index"] == 1
    assert en["reasons"][0].startswith("schema: en: /output: ")  # the record at fault
    assert ja["reasons"][0].startswith("partner rejected: en: schema: /output: ")


def test_error_plugin_misspells_a_hook(tmp_path: Path) -> None:
    typo = plugin_file(
        tmp_path, "typo", FRENCH.replace("def register_languages", "def register_language")
    )
    done = run_convert("stream", f"en={SAMPLE_EN}", "--plugin", typo)
    assert_one_line_error(
        done,
        "'typo' implements unknown hook 'register_language'; did you mean 'register_languages'?",
    )


def test_error_plugin_hook_asks_for_an_unknown_argument(tmp_path: Path) -> None:
    bad = plugin_file(tmp_path, "bad_args", FRENCH.replace("(register)", "(register, config)"))
    done = run_convert("plugins", "--plugin", bad)
    assert_one_line_error(done, "'bad_args' cannot be registered", "{'config'}")


def test_error_plugin_without_hooks_and_allow_list_naming_a_missing_plugin(tmp_path: Path) -> None:
    bare = plugin_file(tmp_path, "bare", "def register_languages(register):\n    pass\n")
    assert_one_line_error(run_convert("plugins", "--plugin", bare), "'bare' implements no hook")
    done = run_convert("plugins", allow="langpair-converter-xx")
    assert done.returncode == 2
    assert "CONVERTER_LOAD_PLUGINS names langpair-converter-xx: no such plugin" in done.stderr


# --- the author's guide ----------------------------------------------------------------------


def hook_signature(name: str) -> str:
    """``name(arg: Type, ...) -> Return`` exactly as written in converter/hookspecs.py."""
    function = getattr(hookspecs, name)
    notes = dict(function.__annotations__)
    returns = notes.pop("return")
    params = ", ".join(f"{p}: {notes[p]}" for p in inspect.signature(function).parameters)
    return f"{name}({params}) -> {returns}"


def guide_sections() -> dict[str, str]:
    text = GUIDE.read_text(encoding="utf-8")
    return dict(re.findall(r"^### `(\w+)`\n(.*?)(?=^##)", text + "\n##", re.M | re.S))


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_every_hook_is_documented_with_its_signature_and_rule(name: str) -> None:
    section = guide_sections().get(name)
    assert section is not None, f"docs/writing-plugins.md has no '### `{name}`' section"
    assert f"```python\n{hook_signature(name)}\n```" in section
    firstresult = getattr(hookspecs, name).converter_spec.get("firstresult")
    assert ("**First-result**" if firstresult else "**Collect-all**") in section


def test_every_hook_has_a_test() -> None:
    tests = {n for n in globals() if n.startswith("test_hook_")}
    assert {f"test_hook_{n}" for n in HOOK_NAMES} <= tests
    assert set(guide_sections()) == set(HOOK_NAMES)


def test_guide_minimal_plugin_runs(tmp_path: Path) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"<!-- minimal plugin: (\w+\.py) -->\n```python\n(.*?)```", text, re.S)
    assert match, "the guide's minimal plugin block is missing"
    assert len(match[2].splitlines()) <= 30
    plugin = tmp_path / match[1]
    plugin.write_text(match[2], encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ("stream", f"en={SAMPLE_EN}", f"fr={french_source(tmp_path)}", "--keep-tags", "-o", out)
    done = run_convert(*args, "--unequal", "shortest", "--plugin", plugin.name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = out_records(out)
    assert [r["seq"] for r in records] == ["0EN", "0FR", "1EN", "1FR"]
    assert records[1]["reasoning"] == "AI assistant should reply in French language."
    assert "guillemets" in records[1]["tags"] and "guillemets" not in records[0]["tags"]


def test_a_plugin_file_that_fails_to_import_is_not_kept_half_made(tmp_path: Path) -> None:
    """Loading it again (a second run in the same process) fails the same way: the module it
    left half made in sys.modules was taken as loaded, its hooks missing."""
    broken = tmp_path / "half_made_plugin.py"
    broken.write_text("from converter import hookimpl\nraise RuntimeError('broken at import')\n")
    for _ in range(2):
        with pytest.raises(PluginError, match="failed to import: RuntimeError: broken at import"):
            build_manager([str(broken)])
    assert "half_made_plugin" not in sys.modules
