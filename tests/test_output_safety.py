"""Output path safety: before anything is written, every file a run will write is checked
against the others, the inputs and the recipe (exit 2, naming both), at most one goes to stdout,
and each is writable (exit 3); a failed ``--verify`` puts nothing in place; an output that is a
symbolic link is written through to its target. The files already there are left unchanged."""

from __future__ import annotations

import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ALPACA_EN, ALPACA_JA, DOLLY_DIR, run_cli

from converter.errors import OutputError, UsageError
from converter.paths import Named, check_paths
from converter.scale.shard import shard

DOLLY_EN = DOLLY_DIR / "en-excerpts" / "databricks-dolly-15k.en.mid_01140-01159.jsonl"
DOLLY_JA = DOLLY_DIR / "ja-excerpts" / "databricks-dolly-15k-ja.mid_01140-01159.jsonl"
OLD = b"an earlier file, to be kept\n"
STDOUT_ARGS = ("-o", "/dev/stdout")


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry of ``folder`` (hidden temporary files too): its bytes, or its link target."""
    return {
        p.name: os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else "dir"
        for p in folder.iterdir()
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with two real sources (5 Alpaca seed tasks each) and an earlier output."""
    for lang, source in (("en", ALPACA_EN), ("ja", ALPACA_JA)):
        records = json.loads(source.read_text(encoding="utf-8"))[:5]
        (tmp_path / f"{lang}.json").write_text(json.dumps(records, ensure_ascii=False))
    (tmp_path / "out.json").write_bytes(OLD)
    return tmp_path


def stream(folder: Path, *args: str) -> tuple[int, str]:
    """``convert stream en=en.json ja=ja.json ARGS`` in ``folder``: exit status and stderr."""
    done = run_cli("stream", "en=en.json", "ja=ja.json", *args, cwd=folder)
    return done.returncode, done.stderr.decode()


def refused(folder: Path, args: tuple[str, ...], status: int, message: str) -> None:
    """The run exits ``status`` with the one line ``message`` and changes no file."""
    before = snapshot(folder)
    code, stderr = stream(folder, *args)
    assert (code, stderr) == (status, f"convert: error: {message}\n")
    assert snapshot(folder) == before


def recipe(folder: Path, output: str = "") -> Path:
    """A one-stage recipe on the real Dolly EN/JA excerpts, split train/eval."""
    path = folder / "recipe.toml"
    path.write_text(
        f"seed = 3\n[output]\n{output}split = {{ train = 0.8, eval = 0.2 }}\n[[stage]]\n"
        f'name = "dolly"\nsources = {{ en = "{DOLLY_EN}", ja = "{DOLLY_JA}" }}\n'
    )
    return path


# bug 1: --rejects / --report / --card on the output


@pytest.mark.parametrize("option", ["--rejects", "--report"])
def test_rejects_or_report_on_the_output_is_refused(folder: Path, option: str) -> None:
    refused(
        folder,
        ("-o", "out.json", option, "out.json"),
        2,
        f"-o out.json and {option} out.json are the same file: give each output its own path",
    )


def test_the_card_on_a_split_of_the_output_is_refused(tmp_path: Path) -> None:
    path = recipe(tmp_path)
    (tmp_path / "out.train.jsonl").write_bytes(OLD)
    before = snapshot(tmp_path)
    done = run_cli("run", path, "-o", "out.jsonl", "--card", "out.train.jsonl", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "convert: error: -o out.jsonl (split 'train': out.train.jsonl) and --card "
        "out.train.jsonl are the same file: give each output its own path\n"
    )
    assert snapshot(tmp_path) == before


# bug 2: an output on an input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-o", "en.json"), "-o en.json would overwrite the input en=en.json"),
        (("-o", "out.json", "--rejects", "ja.json"), "--rejects ja.json would overwrite the input ja=ja.json"),
        (("-o", "out.json", "--report", "./en.json"), "--report ./en.json would overwrite the input en=en.json"),
        (("-o", "ja.json", "--dataset-info", "di.json"), "-o ja.json would overwrite the input ja=ja.json"),
        (("-o", "en", "--split", "json=1,rest=1"), "-o en (split 'json': en.json) would overwrite the input en=en.json"),
    ],
)  # fmt: skip
def test_an_output_on_an_input_is_refused(
    folder: Path, args: tuple[str, ...], message: str
) -> None:
    refused(folder, args, 2, f"{message}: write it elsewhere")


def test_an_output_through_a_hard_link_to_an_input_is_refused(folder: Path) -> None:
    os.link(folder / "en.json", folder / "alias.json")
    refused(
        folder,
        ("-o", "alias.json"),
        2,
        "-o alias.json would overwrite the input en=en.json: write it elsewhere",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-o", "new/"), "-o new/: names a folder; name the file"),
        (("-o", "out.json/"), "-o out.json/: names a folder; name the file"),
        (("-o", ""), "-o: the path is empty"),
        (("-o", "out.json", "--report", ""), "--report: the path is empty"),
        # the split files are named from -o (they were written as hidden .train, .test files)
        (("-o", "new/", "--split", "train=0.8,test=0.2"), "-o new/: names a folder; name the file"),
        (("-o", "", "--split", "train=0.8,test=0.2"), "-o: the path is empty"),
    ],
)
def test_an_output_path_that_names_no_file_is_a_usage_error(
    folder: Path, args: tuple[str, ...], message: str
) -> None:
    """A path that names no file is the command line's fault (exit 2), said of the option
    given (the first said the rejects file's default, beside it, could not be written)."""
    (folder / "out.json").write_bytes(b"")
    refused(folder, args, 2, message)


def _files_of_at_most_64_mib() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))


@pytest.mark.parametrize("source", ["en=en.json", "en=-"])
def test_stdout_appended_to_an_input_is_refused(folder: Path, source: str) -> None:
    """`convert stream en=en.json >> en.json` (or `en=- < en.json >> en.json`) read its own
    output on and on, until the disk was full."""
    before = (folder / "en.json").read_bytes()
    with open(folder / "en.json", "ab") as appended, open(folder / "en.json", "rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "converter", "stream", source],
            cwd=folder, stdin=stdin, stdout=appended, stderr=subprocess.PIPE, timeout=60,
            preexec_fn=_files_of_at_most_64_mib,  # should it loop again: not the disk filled
        )  # fmt: skip
    assert done.returncode == 2
    shown = "en=-" if source == "en=-" else "en=en.json"
    assert done.stderr.decode() == (
        f"convert: error: -o - would overwrite the input {shown}: write it elsewhere\n"
    )
    assert (folder / "en.json").read_bytes() == before


def test_an_output_on_the_recipe_or_the_report_to_verify_is_refused(tmp_path: Path) -> None:
    path = recipe(tmp_path)
    before = snapshot(tmp_path)
    done = run_cli("run", "recipe.toml", "--card", "recipe.toml", "-o", "o.jsonl", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "convert: error: --card recipe.toml would overwrite the recipe recipe.toml: "
        "write it elsewhere\n"
    )
    assert snapshot(tmp_path) == before
    (tmp_path / "r.json").write_bytes(OLD)
    before = snapshot(tmp_path)
    done = run_cli(
        "run", path, "-o", "o.jsonl", "--verify", "r.json", "--report", "r.json", cwd=tmp_path
    )
    assert done.returncode == 2
    assert "--report r.json would overwrite --verify r.json" in done.stderr.decode()
    assert snapshot(tmp_path) == before


def test_range_mode_checks_its_paths_too(tmp_path: Path) -> None:
    shutil.copyfile(DOLLY_EN, tmp_path / "en.jsonl")
    shutil.copyfile(DOLLY_JA, tmp_path / "ja.jsonl")
    before = snapshot(tmp_path)
    done = run_cli(
        "stream", "en=en.jsonl", "ja=ja.jsonl", "--jobs", "2", "-o", "ja.jsonl", cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "convert: error: -o ja.jsonl would overwrite the input ja=ja.jsonl: write it elsewhere\n"
    )
    assert snapshot(tmp_path) == before


# bug 3: two outputs on stdout


@pytest.mark.parametrize("option", ["--rejects", "--report"])
def test_two_outputs_on_stdout_are_refused(folder: Path, option: str) -> None:
    before = snapshot(folder)
    done = run_cli("stream", "en=en.json", "ja=ja.json", option, "-", cwd=folder)
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr.decode() == (
        f"convert: error: -o - and {option} - would both go to stdout: give one of them a file\n"
    )
    assert snapshot(folder) == before


def test_the_report_on_stdout_beside_an_output_file_is_fine(folder: Path) -> None:
    done = run_cli(
        "stream", "en=en.json", "ja=ja.json", "-o", "o.jsonl", "--report", "-", cwd=folder
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"]["records"] == 10
    assert len((folder / "o.jsonl").read_bytes().splitlines()) == 10


# bug 4: a report or card that cannot be written is found before the output is written


@pytest.mark.parametrize(
    ("target", "reason"),
    [("adir", "is a directory"), ("gone/r.json", "folder {folder}/gone does not exist")],
)
def test_an_unwritable_report_stops_the_run_before_the_output(
    folder: Path, target: str, reason: str
) -> None:
    (folder / "adir").mkdir()
    message = f"--report {target}: {reason.format(folder=folder)}"
    refused(folder, ("-o", "out.json", "--report", target), 3, message)


def test_an_unwritable_card_stops_the_run_before_the_output(tmp_path: Path) -> None:
    path = recipe(tmp_path)
    (tmp_path / "adir").mkdir()
    before = snapshot(tmp_path)
    done = run_cli("run", path, "-o", "out.jsonl", "--card", "adir", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (3, b"convert: error: --card adir: is a directory\n")
    assert snapshot(tmp_path) == before


# bug 6: a failed --verify writes nothing


def test_a_failed_verify_leaves_the_earlier_files_in_place(tmp_path: Path) -> None:
    path = recipe(tmp_path)
    report = tmp_path / "r.json"
    assert run_cli("run", path, "-o", tmp_path / "a.jsonl", "--report", report).returncode == 0
    document = json.loads(report.read_text())
    document["provenance"]["outputs"]["eval"]["sha256"] = "0" * 64
    report.write_text(json.dumps(document))
    for name in ("train", "eval"):
        (tmp_path / f"b.{name}.jsonl").write_bytes(OLD)
    before = snapshot(tmp_path)
    done = run_cli("run", path, "-o", "b.jsonl", "--verify", report, "--card", "C.md", cwd=tmp_path)
    assert done.returncode == 3
    message = done.stderr.decode()
    assert message.count("\n") == 1 and "b.eval.jsonl: the rebuilt eval output differs" in message
    assert snapshot(tmp_path) == before


def test_a_passed_verify_records_what_was_put_in_place(tmp_path: Path) -> None:
    path = recipe(tmp_path)
    report = tmp_path / "r.json"
    assert run_cli("run", path, "-o", tmp_path / "a.jsonl", "--report", report).returncode == 0
    again = tmp_path / "again.json"
    done = run_cli("run", path, "-o", tmp_path / "b.jsonl", "--verify", report, "--report", again)
    assert done.returncode == 0, done.stderr
    outputs = json.loads(again.read_text())["provenance"]["outputs"]
    assert outputs["train"]["path"] == str(tmp_path / "b.train.jsonl")
    assert outputs["train"]["bytes"] == (tmp_path / "b.train.jsonl").stat().st_size
    recorded = json.loads(report.read_text())["provenance"]["outputs"]
    assert {k: v["sha256"] for k, v in outputs.items()} == {
        k: v["sha256"] for k, v in recorded.items()
    }


# bug 7: --verify with --dry-run


def test_verify_with_a_dry_run_is_a_usage_error(tmp_path: Path) -> None:
    path = recipe(tmp_path)
    (tmp_path / "r.json").write_bytes(OLD)
    before = snapshot(tmp_path)
    done = run_cli("run", path, "--verify", "r.json", "--dry-run", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "convert: error: --verify checks the files a run writes, --dry-run writes none: drop one\n"
    )
    assert snapshot(tmp_path) == before


# symbolic links


def test_an_output_that_is_a_symlink_is_written_through_to_its_target(folder: Path) -> None:
    (folder / "data").mkdir()
    (folder / "data" / "real.jsonl").write_bytes(OLD)
    (folder / "data" / "real.jsonl").chmod(0o640)
    (folder / "link.jsonl").symlink_to("data/real.jsonl")
    code, stderr = stream(folder, "-o", "link.jsonl", "-q")
    assert code == 0, stderr
    assert os.readlink(folder / "link.jsonl") == "data/real.jsonl"
    written = (folder / "data" / "real.jsonl").read_bytes().splitlines()
    assert len(written) == 10 and json.loads(written[0])["seq"] == "0EN"
    assert (folder / "data" / "real.jsonl").stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(folder / "data")) == ["real.jsonl"]  # no temporary file left


def test_a_dangling_symlink_output_creates_its_target(folder: Path) -> None:
    (folder / "new.jsonl").symlink_to("made.jsonl")
    assert stream(folder, "-o", "new.jsonl", "-q")[0] == 0
    assert (folder / "new.jsonl").is_symlink()
    assert len((folder / "made.jsonl").read_bytes().splitlines()) == 10


def test_a_symlink_output_pointing_at_an_input_is_refused(folder: Path) -> None:
    (folder / "link.json").symlink_to("ja.json")
    refused(
        folder,
        ("-o", "link.json"),
        2,
        "-o link.json would overwrite the input ja=ja.json: write it elsewhere",
    )


# the shared check itself


def test_dev_null_takes_any_number_of_outputs(folder: Path) -> None:
    args = ("-o", os.devnull, "--rejects", os.devnull, "--report", os.devnull, "-q")
    assert stream(folder, *args) == (0, "")


def test_check_paths_names_both_and_lets_distinct_files_through(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a.json"), str(tmp_path / "sub" / ".." / "a.json")
    with pytest.raises(UsageError, match=r"^-o .* and --report .* are the same file"):
        check_paths([Named(f"-o {a}", a), Named(f"--report {b}", b)], [])
    with pytest.raises(OutputError, match=r"^--card .*: folder .* does not exist$"):
        check_paths([Named("--card x", str(tmp_path / "no" / "x"))], [])
    check_paths([Named("-o", a), Named("--report", "-")], [Named("the input en=-", "-")])


# S3-H: special files, shard-folder inputs, --parts, compression suffixes


def test_dev_stdout_redirected_to_a_file_appends_to_it(folder: Path) -> None:
    log = folder / "app.txt"
    log.write_bytes(OLD)
    with log.open("ab") as out:
        done = subprocess.run(
            [sys.executable, "-m", "converter", "stream", "en=en.json", "ja=ja.json", *STDOUT_ARGS],
            stdout=out,
            stderr=subprocess.PIPE,
            cwd=folder,
            env={**os.environ, "CONVERTER_LOAD_PLUGINS": ""},
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    lines = log.read_bytes().splitlines(keepends=True)
    assert lines[0] == OLD
    assert [json.loads(line)["seq"] for line in lines[1:3]] == ["0EN", "0JA"]
    assert len(lines) == 1 + 10
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_dev_stdout_on_a_pipe_is_written_directly(folder: Path) -> None:
    done = run_cli("stream", "en=en.json", "ja=ja.json", "-o", "/dev/stdout", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 10


@pytest.mark.parametrize("output", ["/dev/stdout", "/proc/self/fd/1"])
def test_the_report_on_stdout_beside_dev_stdout_is_refused(folder: Path, output: str) -> None:
    refused(
        folder,
        ("-o", output, "--report", "-"),
        2,
        f"-o {output} and --report - would both go to stdout: give one of them a file",
    )


@pytest.fixture
def shards(folder: Path) -> Path:
    """``folder`` with the Japanese source also sharded into ``js``."""
    done = run_cli("shard", "ja.json", "-o", "js", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.parametrize(
    ("source", "output"),
    [("js", "js/shards.json"), ("js", "js/ja-00000.jsonl"), ("js/shards.json", "js/new.jsonl")],
)
def test_an_output_inside_a_shard_folder_input_is_refused(
    shards: Path, source: str, output: str
) -> None:
    before = snapshot(shards / "js")
    done = run_cli("stream", "en=en.json", f"ja={source}", "--jobs", "1", "-o", output, cwd=shards)
    assert (done.returncode, done.stderr.decode()) == (
        2,
        f"convert: error: -o {output} is inside the folder of the input ja={source}: "
        "write it elsewhere\n",
    )
    assert snapshot(shards / "js") == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("-o", "o.jsonl", "--parts", "js", "--resume"),
            "--parts js is inside the folder of the input ja=js",
        ),
        (
            ("-o", "o.jsonl", "--parts", "js/p"),
            "--parts js/p is inside the folder of the input ja=js",
        ),
        (("-o", "pp/part-00000.out", "--parts", "pp"), "-o pp/part-00000.out is inside --parts pp"),
    ],
)
def test_the_parts_folder_is_checked_against_inputs_and_outputs(
    shards: Path, args: tuple[str, ...], message: str
) -> None:
    before = snapshot(shards), snapshot(shards / "js")
    done = run_cli("stream", "en=en.json", "ja=js", *args, cwd=shards)
    assert (done.returncode, done.stderr.decode()) == (
        2,
        f"convert: error: {message}: write it elsewhere\n",
    )
    assert (snapshot(shards), snapshot(shards / "js")) == before


@pytest.mark.parametrize(
    ("option", "path", "suffix"),
    [
        ("--rejects", "r.jsonl.bz2", ".bz2"),
        ("--report", "r.json.XZ", ".xz"),
        ("-o", "o.JSONL.Zip", ".zip"),
    ],
)
def test_an_unsupported_compression_suffix_is_refused_for_every_output(
    folder: Path, option: str, path: str, suffix: str
) -> None:
    refused(
        folder,
        (*([] if option == "-o" else ["-o", "o.jsonl"]), option, path),
        2,
        f"{option} {path}: {suffix} compression is not supported; "
        "name it .gz or .zst (or no compression suffix)",
    )


def test_upper_case_suffixes_tell_compression_and_format(folder: Path) -> None:
    code, stderr = stream(folder, "-o", "o.JSONL.GZ")
    assert code == 0, stderr
    lines = gzip.decompress((folder / "o.JSONL.GZ").read_bytes()).splitlines()
    assert len(lines) == 10
    code, stderr = stream(folder, "-o", "O.JSON")
    assert code == 0, stderr
    assert len(json.loads((folder / "O.JSON").read_bytes())) == 10


def test_stdout_and_another_output_on_one_file_are_refused(folder: Path) -> None:
    """`-o - --rejects c.jsonl > c.jsonl`: the rejects file replaced what stdout wrote."""
    with open(folder / "c.jsonl", "wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "converter", "stream", "en=en.json", "-o", "-", "--rejects", "c.jsonl"],
            cwd=folder, stdout=stdout, stderr=subprocess.PIPE, timeout=60,
            preexec_fn=_files_of_at_most_64_mib,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "convert: error: -o - and --rejects c.jsonl are the same file: give each output its own path\n"
    )


def test_stdout_is_no_file_inside_a_shard_folder_read(tmp_path: Path) -> None:
    """Reading a shard folder given as `.` (the current one), stdout is not written inside it
    (it was refused: `-` taken for a path there)."""
    shard(str(ALPACA_EN), str(tmp_path / "en"))
    shard(str(ALPACA_JA), str(tmp_path / "ja"))
    done = run_cli(
        "stream", "en=.", "ja=../ja", "--jobs", "2", "--rejects", "../rejects.jsonl",
        cwd=tmp_path / "en",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2 * 175


def test_dev_null_on_stdin_and_stdout_is_no_input_written_over(tmp_path: Path) -> None:
    with open(os.devnull, "rb") as stdin, open(os.devnull, "wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "converter", "stream", "en=-"],
            cwd=tmp_path, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, timeout=60,
        )  # fmt: skip
    assert (done.returncode, done.stderr) == (3, b"convert: error: en=-: empty file\n")


@pytest.mark.parametrize("letter", ["x", "é"])
def test_an_output_whose_name_is_near_the_longest_is_written(folder: Path, letter: str) -> None:
    """A 250-byte name (the longest a name may have: 255) failed with "File name too long":
    the temporary file beside it repeated the whole name. A shard folder's likewise."""
    name = letter * (244 // len(letter.encode())) + ".jsonl"
    assert 245 <= len(name.encode()) <= 255
    code, stderr = stream(folder, "-o", name, "--rejects", "r.jsonl")
    assert code == 0, stderr
    assert [json.loads(line)["seq"] for line in (folder / name).open()][:2] == ["0EN", "0JA"]
    done = run_cli(
        "shard", "en.json", "-o", name.removesuffix(".jsonl"), "--records", "2", cwd=folder
    )
    assert done.returncode == 0, done.stderr.decode()
    assert (folder / name.removesuffix(".jsonl") / "shards.json").is_file()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
