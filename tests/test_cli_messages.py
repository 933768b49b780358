"""Command-line messages: every input problem is one clear line with a defined exit status,
help texts show what they say, summaries count in good English."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from backports import zstd
from helpers import ALPACA_EN, ALPACA_JA, DOLLY_DIR, SAMPLE_EN, SAMPLE_JA, run_cli
from rich.text import Text

from converter.cli import app

DOLLY_JA = DOLLY_DIR / "ja-full" / "databricks-dolly-15k-ja.jsonl"


def fails(done, status: int, *fragments: str) -> str:
    """Assert ``done`` exited with ``status`` and one stderr line holding every fragment."""
    err = done.stderr.decode()
    assert done.returncode == status, err
    assert err.count("\n") == 1 and err.startswith("convert: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.mark.parametrize(
    ("command", "missing"),
    [
        (["stream"], "Missing argument 'LANG=PATH...'"),
        (["validate"], "Missing argument 'FILE...'"),
        (["shard"], "Missing argument 'SOURCE'"),
        (["run"], "Missing argument 'RECIPE.toml'"),
        (["plugins", "new"], "Missing argument 'LANG'"),
    ],
)
def test_a_missing_argument_is_named(command: list[str], missing: str) -> None:
    done = run_cli(*command)
    fails(done, 2, missing, f"(see 'convert {' '.join(command)} --help')")
    assert done.stdout == b""


@pytest.mark.parametrize(
    ("args", "command"),
    [(["stream", "en=a", "ja=b", "-o"], "stream"), (["plugins", "new", "--name"], "plugins new")],
)
def test_an_option_without_its_value_points_at_its_command(args: list[str], command: str) -> None:
    """Click raises this one without a context: the command is read from the words."""
    fails(run_cli(*args), 2, f"requires an argument (see 'convert {command} --help')")


def test_debug_is_the_flag_not_a_value_that_looks_like_it(tmp_path: Path) -> None:
    """``--system --debug`` gives --system the text "--debug": no traceback for the error
    (any "--debug" among the arguments used to turn them on); the flag itself still does."""
    args = ["stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "-o", tmp_path / "o.json"]
    fails(run_cli(*args, "--system", "--debug"), 2, "--system does not apply to --format json")
    debug = run_cli(*args, "--system", "x", "--debug")
    assert debug.returncode != 0 and b"Traceback" in debug.stderr


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("command", "option", "before"),
    [
        ("stream", "--limit", []),
        ("stream", "--start", []),
        ("stream", "--sample", []),
        ("stream", "--seed", []),
        ("stream", "--jobs", []),
        ("stream", "--range-records", ["--jobs", "1"]),
        ("shard", "--records", []),
        ("validate", "--max-errors", []),
    ],
)
def test_an_integer_beyond_64_bits_is_a_usage_error(
    tmp_path: Path, command: str, option: str, before: list[str]
) -> None:
    """It was an internal error (islice's limit, or orjson writing the report or shards.json)."""
    given = {
        "stream": [f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "-o", tmp_path / "o.json"],
        "shard": [SAMPLE_EN, "-o", tmp_path / "shards"],
        "validate": [SAMPLE_EN],
    }[command]
    done = run_cli(command, *given, *before, option, HUGE)
    fails(done, 2, f"{option} {HUGE} does not fit in 64 bits (at most 9,223,372,036,854,775,807)")
    assert list(tmp_path.iterdir()) == []


def test_no_command_is_named_missing() -> None:
    done = run_cli()
    fails(done, 2, "Missing command (see 'convert --help')")


def test_version_names_the_package_and_what_runs_the_hot_paths() -> None:
    """On stdout, exit 0, without a command; a command's own options do not take it."""
    import ijson

    from converter import __version__, kernels

    done = run_cli("--version")
    out = done.stdout.decode()
    assert done.returncode == 0 and not done.stderr, done.stderr
    assert out.startswith(f"convert (langpair-converter) {__version__}; "), out
    assert f"pair-check kernels {kernels.describe()}, ijson backend {ijson.backend}" in out, out
    fails(run_cli("stream", "--version"), 2, "No such option: --version")


def test_a_checks_config_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "cc.toml"
    config.write_bytes(b"\xff\xfe")
    done = run_cli("stream", f"en={SAMPLE_EN}", "--checks-config", config, "-o", "/dev/null")
    fails(done, 2, f"{config}: the check configuration is not UTF-8 (byte 0)")


def test_a_checks_config_without_a_checks_table_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "cc.toml"
    config.write_text('[check]\nempty = "reject"\n')
    done = run_cli("stream", f"en={SAMPLE_EN}", "--checks-config", config, "-o", "/dev/null")
    fails(done, 2, f"{config}: no [checks] table")


def _help_texts(command: typer.core.TyperGroup | typer.core.TyperCommand) -> list[str]:
    """Every help text of ``command`` and its subcommands: the command's and its options'."""
    texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    for sub in getattr(command, "commands", {}).values():
        texts += _help_texts(sub)
    return texts


def test_every_help_text_shows_as_written() -> None:
    """The help is rendered as rich markup: an unescaped ``[checks]`` would vanish."""
    texts = _help_texts(typer.main.get_command(app))  # type: ignore[arg-type]
    assert any("[start:stop]" in t for t in texts) and any("[checks]" in t for t in texts)
    for text in texts:
        assert Text.from_markup(text).plain == text.replace("\\[", "["), text


@pytest.mark.parametrize(
    "command", [[], ["stream"], ["validate"], ["run"], ["shard"], ["plugins", "new"]]
)
def test_no_help_word_is_cut_short_on_an_80_column_terminal(command: list[str]) -> None:
    """rich cuts a word wider than its column with an ellipsis: a path or an example lost."""
    env = {**os.environ, "COLUMNS": "80", "CONVERTER_LOAD_PLUGINS": ""}
    done = subprocess.run(
        [sys.executable, "-m", "converter", *command, "--help"], capture_output=True, env=env
    )
    page = done.stdout.decode()
    assert done.returncode == 0 and "Usage: convert" in page, done.stderr
    assert "…" not in page, [line for line in page.splitlines() if "…" in line]


@pytest.mark.parametrize("parallel", [(), ("--jobs", "2", "--range-records", "5000")])
def test_forced_progress_writes_plain_lines_when_stderr_is_not_a_terminal(
    tmp_path: Path, parallel: tuple[str, ...]
) -> None:
    """A line at the first update (in range mode: as the first part is merged)."""
    done = run_cli(
        "stream", f"ja={DOLLY_JA}", "--limit", "600", "--check", "all=off", "--progress",
        "-o", tmp_path / "o.jsonl", *parallel,
    )  # fmt: skip
    err = done.stderr.decode()
    assert done.returncode == 0, err
    size = DOLLY_JA.stat().st_size / 1e6
    assert f"of {size:,.1f} MB read (" in err and err.startswith("convert: progress: "), err


def test_jobs_zero_is_refused_like_a_negative_count(tmp_path: Path) -> None:
    done = run_cli("stream", f"en={SAMPLE_EN}", "--jobs", "0", "-o", tmp_path / "o.jsonl")
    fails(done, 2, "--jobs must be at least 1, not 0")


def test_a_shard_folder_without_jobs_is_a_usage_error_saying_to_add_it(tmp_path: Path) -> None:
    shards = tmp_path / "en-shards"
    assert run_cli("shard", SAMPLE_EN, "-o", shards, "-q").returncode == 0
    done = run_cli("stream", f"en={shards}", "-o", tmp_path / "o.jsonl")
    fails(done, 2, f"en={shards}: is a shard folder, read by convert stream --jobs N only")
    done = run_cli("validate", shards, SAMPLE_EN)  # validate goes on with the other files
    assert (
        done.returncode == 3 and f"{shards}: unreadable: is a shard folder" in done.stdout.decode()
    )
    assert "checked 2 files, 5 records" in done.stderr.decode()
    folder = tmp_path / "folder"  # any other folder
    folder.mkdir()
    done = run_cli("stream", f"en={folder}", "-o", tmp_path / "o.jsonl")
    fails(done, 3, f"en={folder}: is a directory, not a file")


def test_parts_naming_a_file_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("stream", f"en={SAMPLE_EN}", "--parts", SAMPLE_JA, "-o", tmp_path / "o.jsonl")
    fails(done, 2, f"--parts {SAMPLE_JA}: is a file; --parts takes a folder")


def test_key_with_realign_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli(
        "stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "--key", "id", "--realign",
        "-o", tmp_path / "o.jsonl",
    )  # fmt: skip
    fails(done, 2, "--key and --realign exclude each other")


@pytest.mark.parametrize("name", ["out.json.bz2", "out.xz", "out.jsonl.lz4"])
def test_an_unsupported_compression_suffix_is_refused(tmp_path: Path, name: str) -> None:
    output = tmp_path / name
    done = run_cli("stream", f"en={SAMPLE_EN}", "-o", output)
    fails(
        done, 2, f"{output}: .{name.rsplit('.', 1)[1]} compression is not supported", ".gz or .zst"
    )
    assert list(tmp_path.iterdir()) == []


def test_compressed_data_without_its_suffix_is_named(tmp_path: Path) -> None:
    data = SAMPLE_EN.read_bytes()
    misnamed = tmp_path / "en.json"
    misnamed.write_bytes(gzip.compress(data))
    done = run_cli("stream", f"en={misnamed}", "-o", tmp_path / "o.jsonl")
    fails(done, 3, f"en={misnamed}: looks gzip-compressed: name it .gz")
    done = run_cli("stream", "en=-", "-o", tmp_path / "o.jsonl", stdin=zstd.compress(data))
    fails(done, 3, "en=-: looks zstd-compressed: stdin is read as is; decompress it first")
    done = run_cli("validate", misnamed)
    assert done.returncode == 1
    assert f"{misnamed}: malformed: looks gzip-compressed" in done.stdout.decode()


def test_a_lone_surrogate_is_worded_alike_in_json_lines_and_arrays(tmp_path: Path) -> None:
    record = '{"instruction": "a\\udc00b", "input": "", "output": "b"}'
    reasons = []
    for name, text in (("en.jsonl", record + "\n"), ("en.json", f"[{record}]")):
        source = tmp_path / name
        source.write_text(text)
        output = tmp_path / f"{name}.out.jsonl"
        done = run_cli("stream", f"en={source}", "-o", output)
        assert done.returncode == 1, done.stderr
        (reject,) = map(json.loads, Path(f"{output}.rejects.jsonl").read_text().splitlines())
        reasons += reject["reasons"]
    assert reasons == [
        "lone surrogate: \\udc00 at line 1, column 19: not a character, cannot be written as UTF-8",
        "lone surrogate: \\udc00 at line 1, column 20 (byte 19): not a character, cannot be "
        "written as UTF-8 (shown as U+FFFF in the record)",
    ]


def test_group_findings_explain_the_exit_status_of_validate(tmp_path: Path) -> None:
    output = tmp_path / "en.jsonl"
    done = run_cli("stream", f"en={ALPACA_EN}", "-o", output, "-q")
    assert done.returncode == 0, done.stderr
    done = run_cli("validate", output, "--languages", "en,ja", "--max-errors", "0")
    assert done.returncode == 1
    assert "175 valid, 0 invalid, 175 group findings\n" in done.stderr.decode()
    done = run_cli("validate", output, "--languages", "en,ja", "--format", "json")
    assert json.loads(done.stdout)["totals"]["group_findings"] == 175


def test_an_empty_array_is_written_by_stream_and_flagged_by_validate(tmp_path: Path) -> None:
    """As the README says: no records is no error for stream (exit 0), a finding for validate."""
    source = tmp_path / "en.json"
    source.write_text("[]")
    output = tmp_path / "o.json"
    done = run_cli("stream", f"en={source}", "-o", output)
    assert done.returncode == 0 and output.read_text() == "[]"
    done = run_cli("validate", output)
    assert done.returncode == 1
    assert done.stdout.decode() == f"{output}: empty: the array holds no records\n"
    assert ": 0 valid, 0 invalid, 1 file empty\n" in done.stderr.decode()


def test_summaries_use_the_singular_for_one(tmp_path: Path) -> None:
    done = run_cli(
        "stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "--limit", "1", "-o", tmp_path / "o.json"
    )
    assert done.returncode == 0
    assert done.stderr.decode().startswith(
        f"convert: 1 group read, 2 records written to {tmp_path / 'o.json'}, 0 groups rejected;"
    )
    done = run_cli("shard", SAMPLE_EN, "-o", tmp_path / "sh")
    assert done.stderr.decode().startswith(f"convert: 5 records of {SAMPLE_EN} in 1 shard in ")


def test_a_plugin_file_in_the_current_folder_loads_as_the_guide_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/writing-plugins.md: ``CONVERTER_PLUGINS=./converter_fr.py`` from its folder."""
    guide = (Path(__file__).parent.parent / "docs" / "writing-plugins.md").read_text()
    code = guide.split("<!-- minimal plugin: converter_fr.py -->\n```python\n", 1)[1]
    (tmp_path / "converter_fr.py").write_text(code.split("```", 1)[0])
    monkeypatch.setenv("CONVERTER_PLUGINS", "./converter_fr.py")
    done = run_cli("plugins", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p["languages"] for p in json.loads(done.stdout)] == [["fr"]]


def test_a_key_field_that_is_always_null_is_named_as_present(tmp_path: Path) -> None:
    """Every record has the --key field, null: the message says they have it, unusable."""
    record = '{"id": null, "instruction": "i", "input": "", "output": "o"}\n'
    for lang in ("en", "ja"):
        (tmp_path / f"{lang}.jsonl").write_text(record * 5, "utf-8")
    done = run_cli(
        "stream", f"en={tmp_path / 'en.jsonl'}", f"ja={tmp_path / 'ja.jsonl'}", "--key", "id",
        "-o", tmp_path / "o.jsonl",
    )  # fmt: skip
    fails(
        done, 2, "--key id: none of the first 5 en records has a key there (missing, null or "
        "not a scalar): they have it, but null or not a scalar in all of them",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("a {out\nput} b", "{out\\nput}"),
        (json.dumps({"instruction": "x" * 80, "output": "y"}, indent=2), '{\\n  "instruction": "x'),
    ],
)
def test_a_template_error_is_one_line(tmp_path: Path, text: str, quoted: str) -> None:
    """A placeholder spanning lines, or a whole JSON file given as a template, is quoted on one
    line and cut short."""
    template = tmp_path / "template.txt"
    template.write_text(text, "utf-8")
    done = run_cli(
        "stream", f"en={SAMPLE_EN}", "-f", "template", "--template", template,
        "-o", tmp_path / "o.txt",
    )  # fmt: skip
    err = fails(done, 2, f"--template {template}: line 1, column ", f"not a placeholder: {quoted}")
    assert len(err) < 400, err


def test_an_explicit_progress_wins_over_quiet(tmp_path: Path) -> None:
    """-q drops the summary only: a --progress given with it still shows."""
    done = run_cli(
        "stream", f"ja={DOLLY_JA}", "--limit", "600", "--check", "all=off", "--progress", "-q",
        "-o", tmp_path / "o.jsonl",
    )  # fmt: skip
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert err.startswith("convert: progress: ") and "records written" not in err, err


def _with_closed(descriptor: int, *args: str | Path, cwd: Path) -> tuple[int, bytes, bytes]:
    """Run ``python -m converter ARGS`` with stdin (0), stdout (1) or stderr (2) closed (``<&-``)."""
    env = {**os.environ, "CONVERTER_LOAD_PLUGINS": ""}
    command = [sys.executable, "-m", "converter", *map(str, args)]
    shell = ["sh", "-c", f'exec "$@" {descriptor}>&-', "sh", *command]
    done = subprocess.run(shell, capture_output=True, env=env, cwd=cwd, timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_a_closed_stderr_only_silences_the_messages(tmp_path: Path) -> None:
    status, _, _ = _with_closed(2, "stream", f"en={SAMPLE_EN}", f"ja={SAMPLE_JA}", "-o", "o.json",
                                cwd=tmp_path)  # fmt: skip
    assert status == 0
    assert len(json.loads((tmp_path / "o.json").read_bytes())) == 10


def test_a_closed_stdout_refuses_the_output_and_drops_other_text(tmp_path: Path) -> None:
    status, _, err = _with_closed(1, "stream", f"en={SAMPLE_EN}", cwd=tmp_path)
    assert status == 3
    assert err == b"convert: error: -: stdout is closed; write to a file with -o FILE\n"
    status, _, err = _with_closed(1, "validate", SAMPLE_EN, "--schema", "alpaca", cwd=tmp_path)
    assert status == 0 and err.startswith(b"checked 1 file, 5 records")


@pytest.mark.parametrize("alias", ["/dev/stdin", "/proc/self/fd/0"])
def test_two_sources_on_stdin_are_a_usage_error_whatever_they_call_it(alias: str) -> None:
    done = run_cli("stream", "en=-", f"ja={alias}", "-o", "/dev/null", stdin=b"[]")
    fails(done, 2, f"only one source can read stdin: en=-, ja={alias}")


def test_a_closed_stdin_is_one_line(tmp_path: Path) -> None:
    status, _, err = _with_closed(0, "stream", "en=-", f"ja={SAMPLE_JA}", cwd=tmp_path)
    assert (status, err) == (3, b"convert: error: en=-: stdin is closed\n")


def test_a_file_name_that_is_not_utf8_is_shown_with_its_bytes_escaped(tmp_path: Path) -> None:
    """A source named b"bad\\xffname.json": the report, the rejects lines and validate's JSON
    name it ``bad\\\\xffname.json`` (orjson refused the lone surrogate Python keeps: an internal
    error)."""
    name = os.fsdecode(b"bad\xffname.json")
    data = json.loads(SAMPLE_EN.read_text())
    data[1]["output"] = None  # one record to reject
    (tmp_path / name).write_text(json.dumps(data))
    done = run_cli("stream", f"en={name}", "-o", "o.jsonl", "--report", "r.json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["sources"][0]["path"] == "bad\\xffname.json"
    (rejected,) = map(json.loads, (tmp_path / "o.jsonl.rejects.jsonl").read_text().splitlines())
    assert rejected["source"] == "bad\\xffname.json"
    done = run_cli("validate", name, "--schema", "alpaca", "--format", "json", cwd=tmp_path)
    assert json.loads(done.stdout)["files"][0]["path"] == "bad\\xffname.json"


def test_non_utf8_names_in_range_mode_shards_and_dataset_info(tmp_path: Path) -> None:
    """Range mode (its manifest), convert shard (its index and shard names) and
    --dataset-info write a file name that is not UTF-8 with its bytes escaped, not an
    internal error; the shards it names are found again."""
    en, ja = os.fsdecode(b"en\xff.json"), os.fsdecode(b"ja\xfe.json")
    (tmp_path / en).write_bytes(SAMPLE_EN.read_bytes())
    (tmp_path / ja).write_bytes(SAMPLE_JA.read_bytes())
    single = run_cli("stream", f"en={en}", f"ja={ja}", "-o", "single.jsonl", cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    ranged = run_cli("stream", f"en={en}", f"ja={ja}", "-o", "r.jsonl", "--jobs", "2",
                     "--parts", "parts", cwd=tmp_path)  # fmt: skip
    assert ranged.returncode == 0, ranged.stderr
    assert (tmp_path / "r.jsonl").read_bytes() == (tmp_path / "single.jsonl").read_bytes()
    for lang, name in (("en", en), ("ja", ja)):
        done = run_cli("shard", name, "-o", f"sh-{lang}", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert [p.name for p in (tmp_path / "sh-en").glob("*.jsonl")] == ["en\\xff-00000.jsonl"]
    sharded = run_cli("stream", "en=sh-en", "ja=sh-ja", "-o", "s.jsonl", "--jobs", "2",
                      cwd=tmp_path)  # fmt: skip
    assert sharded.returncode == 0, sharded.stderr
    assert (tmp_path / "s.jsonl").read_bytes() == (tmp_path / "single.jsonl").read_bytes()
    out = os.fsdecode(b"out\xfd.jsonl")
    done = run_cli("stream", f"en={en}", "-o", out, "--dataset-info", "di.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        json.loads((tmp_path / "di.json").read_text())["out\\xfd"]["file_name"] == "out\\xfd.jsonl"
    )


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "-o", "out.json"], 0),
        (["stream", "en=missing.json"], 3),
        (["stream", "xx=missing.json"], 2),
    ],
    ids=["clean", "input error", "usage error"],
)
def test_a_stderr_whose_reader_is_gone_keeps_the_exit_status(
    tmp_path: Path, args: list[str], status: int
) -> None:
    """`convert ... 2>&1 | grep -q x`: once grep has gone, the messages are lost, the status
    is not (it was 1, a broken pipe's traceback, whatever happened)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "converter", *args], cwd=tmp_path, stderr=write_end, check=False
        )
    finally:
        os.close(write_end)
    assert done.returncode == status
    assert (tmp_path / "out.json").exists() == (status == 0)


def test_the_summary_calls_stdout_stdout(tmp_path: Path) -> None:
    done = run_cli("stream", f"en={SAMPLE_EN}", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stderr.decode().startswith("convert: 5 groups read, 5 records written to stdout, ")


def _on_a_terminal(cwd: Path, *args: str | Path) -> tuple[int, str]:
    """Run ``convert ARGS`` with stdout and stderr on one pseudo-terminal; its status and all
    the terminal showed."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "converter", *map(str, args)],
        stdout=slave, stderr=slave, cwd=cwd, env={**os.environ, "CONVERTER_LOAD_PLUGINS": ""},
    )  # fmt: skip
    os.close(slave)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the terminal's last writer is gone
        while chunk := os.read(master, 65536):
            shown += chunk
    os.close(master)
    return proc.wait(timeout=60), shown.decode("utf-8", "replace")


def test_no_progress_bar_by_default_where_the_records_go_to_the_terminal(tmp_path: Path) -> None:
    """The bar on stderr and the records on stdout, one terminal: the bar was drawn into the
    records. By default it shows on a terminal only when the records go elsewhere."""
    status, shown = _on_a_terminal(tmp_path, "stream", f"en={SAMPLE_EN}")
    assert status == 0
    assert '"4EN"' in shown and "━" not in shown
    status, shown = _on_a_terminal(tmp_path, "stream", f"en={SAMPLE_EN}", "-o", "o.json")
    assert status == 0
    assert "━" in shown


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "-f", "json", str(SAMPLE_EN), "--schema", "alpaca"],
        ["plugins"],
        ["--version"],
        ["stream", f"en={SAMPLE_EN}"],
        ["--help"],
        ["stream", "--help"],
    ],
    ids=["validate json", "plugins", "version", "stream", "help", "stream help"],
)
def test_every_command_stops_alike_when_stdout_s_reader_is_gone(
    tmp_path: Path, args: list[str]
) -> None:
    """`convert ... | head` with the reader gone: 141, quietly, for each command (stream
    ended 141, the others 1 through click, which for validate reads as findings; --help 1
    through rich)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "converter", *args],
            cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE, check=False,
            env={**os.environ, "CONVERTER_LOAD_PLUGINS": ""},
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, b"")


def test_a_line_break_in_a_file_name_keeps_the_error_on_one_line(tmp_path: Path) -> None:
    """A name is said as given, its line break as ``\\n``: the error stays one line."""
    done = run_cli("stream", f"en={tmp_path / 'a'}\nb.json", "-o", tmp_path / "o.jsonl")
    fails(done, 3, f"en={tmp_path / 'a'}\\nb.json: no such file")


def test_a_line_break_in_a_file_name_keeps_the_summary_and_findings_lines_whole(
    tmp_path: Path,
) -> None:
    """The summary of a run whose output (and rejects file) is named with a line break, and a
    finding of a file so named, are one line each (the summary's first line was cut in two)."""
    out = tmp_path / "o\nut.jsonl"
    done = run_cli("stream", f"en={ALPACA_EN}", f"ja={ALPACA_JA}", "-o", out, "--limit", "3")
    assert done.returncode == 0, done.stderr
    [line] = done.stderr.decode().splitlines()
    assert line.startswith(f"convert: 3 groups read, 6 records written to {tmp_path}/o\\nut.jsonl")
    bad = tmp_path / "b\nad.json"
    bad.write_text("[{}]")
    done = run_cli("validate", bad)
    assert done.returncode == 1
    findings = done.stdout.decode().splitlines()  # the five fields missing
    assert len(findings) == 5 and all(
        f.startswith(f"{tmp_path}/b\\nad.json:record 0: /: '") for f in findings
    )
    assert len(done.stderr.decode().strip().splitlines()) == 2, done.stderr  # counts, kinds


def test_a_line_break_in_a_key_keeps_a_finding_on_one_line(tmp_path: Path) -> None:
    """A record key holding a line break, in the finding's JSON pointer, is written as its
    escape: one finding, one line (an outside review's finding)."""
    schema = tmp_path / "schema.json"
    schema.write_text('{"properties": {"a": {"additionalProperties": {"type": "string"}}}}')
    records = tmp_path / "nl.jsonl"
    records.write_text('{"a": {"k\\ney": 1}}\n')
    done = run_cli("validate", records, "--schema", schema)
    assert done.returncode == 1, done.stderr
    assert done.stdout.decode().splitlines() == [
        f"{records}:record 0 (line 1): /a/k\\ney: 1 is not of type 'string'"
    ]
