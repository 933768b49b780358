"""Plugin packages: the Chinese plugin in a three-language run on real data, the contract
helper (converter.testing), and the scaffold round trip (generate, install, test, use)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers import SAMPLE_EN, SEED_DIR
from plugin_helpers import FRENCH, ZH_DIST, jsonl, out_records, plugin_file

from converter.errors import UsageError
from converter.scaffold import new_plugin
from converter.testing import check_language_plugin, run_convert

# --- the Chinese plugin on real data ---------------------------------------------------------


def test_three_languages_on_the_real_seed_tasks(tmp_path: Path) -> None:
    def read(name: str) -> list[dict]:
        return [json.loads(line) for line in (SEED_DIR / name).read_text("utf-8").splitlines()]

    en, ja = read("seed_tasks.en.jsonl"), read("seed_tasks_jp_cleaned.ja.jsonl")
    zh = {r["id"]: r for r in read("zh_seed_tasks.zh.jsonl")}
    ids = [r["id"] for r in en if r["id"] in zh]
    assert len(ids) == 171  # the data README: 171 shared ids
    ja_by_id = {r["id"]: r for r in ja}
    sources = {
        "en": jsonl(tmp_path / "en.jsonl", [r for r in en if r["id"] in zh]),
        "ja": jsonl(tmp_path / "ja.jsonl", [ja_by_id[i] for i in ids]),
        "zh": jsonl(tmp_path / "zh.jsonl", [zh[i] for i in ids]),
    }
    out = tmp_path / "out.jsonl"
    args = [f"{code}={path}" for code, path in sources.items()]
    done = run_convert("stream", *args, "--keep-tags", "-o", out, allow=ZH_DIST)
    assert done.returncode in (0, 1), done.stderr  # checks may warn or reject some groups
    records = out_records(out)
    rejects = tmp_path / "out.jsonl.rejects.jsonl"
    rejected = {r["index"] for r in out_records(rejects)} if rejects.exists() else set()
    kept = [i for i in range(len(ids)) if i not in rejected]
    assert len(kept) >= 160
    assert [r["seq"] for r in records] == [f"{i}{s}" for i in kept for s in ("EN", "JA", "ZH")]
    reasoning = {s: f"AI assistant should reply in {n} language." for s, n in
                 (("EN", "English"), ("JA", "Japanese"), ("ZH", "Chinese"))}  # fmt: skip
    for record, (i, suffix) in zip(records, [(i, s) for i in kept for s in ("EN", "JA", "ZH")]):
        assert record["reasoning"] == reasoning[suffix]
        assert record["tags"]["id"] == ids[i]
        assert ("zh_script" in record["tags"]) == (suffix == "ZH")
    zh_out = [r for r in records if r["seq"].endswith("ZH")]
    assert zh_out[0]["instruction"] == zh[ids[kept[0]]]["instruction"]
    # BELLE's seed tasks are written in Simplified characters.
    assert {r["tags"]["zh_script"] for r in zh_out} == {"Hans"}


def test_a_filter_on_the_chinese_tag_selects_the_same_with_or_without_keep_tags(
    tmp_path: Path,
) -> None:
    """``--where zh_script=Hant`` needs the tag, not its writing: the zh tagger runs for it."""
    en = jsonl(
        tmp_path / "en.jsonl",
        [
            {"instruction": "Describe the weather", "input": "", "output": "It is raining today."},
            {"instruction": "Name a country", "input": "", "output": "Taiwan is an island."},
        ],
    )
    zh = jsonl(tmp_path / "zh.jsonl", [
        {"instruction": "描述天氣", "input": "", "output": "今天這個城市下著大雨，請記得帶傘。"},
        {"instruction": "说出一个国家", "input": "", "output": "台湾是东亚的一个岛屿。"},
    ])  # fmt: skip
    written = []
    for keep in ([], ["--keep-tags"]):
        out = tmp_path / f"out{len(keep)}.jsonl"
        args = ("stream", f"en={en}", f"zh={zh}", "--where", "zh_script=Hant", "-o", out, *keep)
        done = run_convert(*args, allow=ZH_DIST)
        assert done.returncode == 0, done.stderr
        written.append([r["seq"] for r in out_records(out)])
    assert written == [["0EN", "0ZH"], ["0EN", "0ZH"]]


def test_check_language_plugin_passes_chinese_and_fails_a_wrong_profile(tmp_path: Path) -> None:
    (chinese,) = check_language_plugin("converter_zh", samples={"zh": "请写一首关于秋天的诗。"})
    assert (chinese.code, chinese.suffix) == ("zh", "ZH")
    greedy = plugin_file(tmp_path, "greedy", FRENCH.replace('"latin"}))', '"latin"}), bool)'))
    with pytest.raises(AssertionError, match="fr: accepts a ja text"):
        check_language_plugin(greedy, samples={"fr": "Bonjour, comment allez-vous aujourd'hui ?"})
    wrong = plugin_file(tmp_path, "wrong", FRENCH.replace('{"latin"}', '{"zh"}'))
    with pytest.raises(AssertionError, match="fr: its profile does not accept its own sample"):
        check_language_plugin(wrong, samples={"fr": "Bonjour, comment allez-vous aujourd'hui ?"})


# --- the scaffold ----------------------------------------------------------------------------


def test_scaffold_round_trip(tmp_path: Path) -> None:
    """convert plugins new ko -> a hook added, as its README suggests -> pip install into a
    fresh venv -> its tests pass -> stream."""
    package = tmp_path / "ko"
    done = run_convert("plugins", "new", "ko", "--dir", package)
    assert done.returncode == 0, done.stderr
    module = package / "converter_ko" / "__init__.py"
    hook = "\n\n@hookimpl\ndef make_tagger(languages, options):\n    return None\n"
    module.write_text(module.read_text(encoding="utf-8") + hook, encoding="utf-8")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = str(venv / "bin" / "python")
    site = sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"]
    # The fresh venv sees the project's packages (converter, pip, hatchling) through a .pth.
    here = sysconfig.get_paths()["purelib"]
    Path(site, "_project.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    pip = [python, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--no-index"]
    subprocess.run([*pip, package], check=True, capture_output=True)
    tests = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", package],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
    ko = jsonl(tmp_path / "ko.jsonl", [
        {"instruction": "달걀 없이 아침으로 먹을 수 있는 것이 있나요?", "input": "",
         "output": "네, 오트밀 바나나 프로틴 셰이크와 베이컨을 드실 수 있습니다."},
        {"instruction": "주어진 쌍 사이의 관계는 무엇인가요?", "input": "밤 : 낮 :: 오른쪽 : 왼쪽",
         "output": "주어진 쌍은 서로 반대되는 말입니다."},
    ])  # fmt: skip
    env = {**os.environ, "CONVERTER_LOAD_PLUGINS": "langpair-converter-ko"}
    stream = subprocess.run(
        [python, "-m", "converter", "stream", f"en={SAMPLE_EN}", f"ko={ko}", "--limit", "2"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert stream.returncode == 0, stream.stderr
    records = [json.loads(line) for line in stream.stdout.splitlines()]
    assert [r["seq"] for r in records] == ["0EN", "0KO", "1EN", "1KO"]
    assert records[1]["reasoning"] == "AI assistant should reply in Korean language."


def test_scaffold_seq_suffix_is_the_codes_letters_or_the_one_given(tmp_path: Path) -> None:
    """A region subtag of digits (``es-419``) adds nothing to the suffix, which must be 2 to 8
    letters and no other language's."""
    made = new_plugin(lang="es-419", name="Latin American Spanish", directory=tmp_path / "a")
    assert 'suffix="ES",' in made.module.read_text(encoding="utf-8")
    made = new_plugin(lang="pt-br", name="Brazilian Portuguese", directory=tmp_path / "b")
    assert 'suffix="PTBR",' in made.module.read_text(encoding="utf-8")
    made = new_plugin(lang="es-419", name="Spanish", directory=tmp_path / "c", suffix="ESLA")
    assert 'suffix="ESLA",' in made.module.read_text(encoding="utf-8")
    with pytest.raises(UsageError, match=r"--suffix 'ES4' is not 2 to 8 uppercase letters"):
        new_plugin(lang="es-419", name="Spanish", directory=tmp_path / "d", suffix="ES4")
    with pytest.raises(UsageError, match=r"--suffix '' is not 2 to 8 uppercase letters"):
        new_plugin(lang="es-419", name="Spanish", directory=tmp_path / "e", suffix="")
    done = run_convert("plugins", "new", "ja-123", "--name", "Old Japanese", "--dir", tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        "convert: error: seq suffix 'JA' is language 'ja''s: give 'ja-123' another with --suffix\n",
    )


def test_scaffold_refuses_taken_codes_and_unknown_names(tmp_path: Path) -> None:
    done = run_convert("plugins", "new", "ja", "--dir", tmp_path / "ja")
    assert done.returncode == 2
    assert done.stderr == (
        "convert: error: language 'ja' is already registered by 'converter.builtin.languages'\n"
    )
    # an installed plugin's code is taken too (its package would replace the installed one)
    done = run_convert("plugins", "new", "zh", "--dir", tmp_path / "zh", allow=ZH_DIST)
    assert (done.returncode, done.stderr) == (
        2,
        "convert: error: language 'zh' is already registered by 'zh'\n",
    )
    assert not (tmp_path / "zh").exists()
    with pytest.raises(UsageError, match="with --name"):
        new_plugin(lang="xx", directory=tmp_path / "xx")
    made = new_plugin(lang="xx", name="Klingon", directory=tmp_path / "xx")
    assert 'reasoning="AI assistant should reply in Klingon language."' in made.module.read_text()
    with pytest.raises(UsageError, match="is not an empty directory"):
        new_plugin(lang="xx", name="Klingon", directory=tmp_path / "xx")
    with pytest.raises(UsageError, match="plain language name"):
        new_plugin(lang="yy", name='Bad "quoted" name', directory=tmp_path / "yy")


def test_scaffold_says_what_it_assumed_for_a_language_it_does_not_know(tmp_path: Path) -> None:
    """For an unknown code it assumes the Latin script and writes a placeholder sample, and
    its tests pass all the same: the command says so (it said nothing; a Thai plugin then
    never flagged English text in its files). An empty --name is refused (it fell back)."""
    done = run_convert("plugins", "new", "th", "--name", "Thai", "--dir", tmp_path / "th")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "note: 'th' is not a language the scaffold knows: it assumed the Latin script and wrote "
        f"a placeholder test sample; set scripts (or accepts) in {tmp_path}/th/converter_th/"
        f"__init__.py and SAMPLE in {tmp_path}/th/tests/test_th.py to a real Thai text"
    )
    done = run_convert("plugins", "new", "fr", "--dir", tmp_path / "fr")
    assert done.returncode == 0 and "note:" not in done.stdout  # a language it knows
    done = run_convert("plugins", "new", "de", "--name", "", "--dir", tmp_path / "de")
    assert (done.returncode, done.stderr) == (
        2,
        "convert: error: --name is empty: give the language's English name, or leave it out\n",
    )
    assert not (tmp_path / "de").exists()
