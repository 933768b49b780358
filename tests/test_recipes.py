"""``convert run RECIPE.toml`` on real data: the example curriculum (Alpaca seed tasks, then
Dolly EN/JA with a category filter and the register tagger, split train/eval), its report with
provenance, its dataset card, rebuilding byte for byte, bad recipes and the dry run."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from pathlib import Path

import pytest
from helpers import ALPACA_EN, ALPACA_JA, DOLLY_DIR, ROOT, run_cli

from converter import __version__
from converter.builtin.register import LABELS
from converter.errors import UsageError
from converter.recipe import load_recipe, to_stages

EXAMPLE = ROOT / "examples" / "curriculum.toml"
DOLLY_EN = DOLLY_DIR / "en-excerpts" / "databricks-dolly-15k.en.mid_01140-01159.jsonl"
DOLLY_JA = DOLLY_DIR / "ja-excerpts" / "databricks-dolly-15k-ja.mid_01140-01159.jsonl"
JA_FULL = DOLLY_DIR / "ja-full" / "databricks-dolly-15k-ja.jsonl"
#: Groups in the example: 175 seed tasks, then 20 Dolly records less 1 creative_writing.
INIT, DOLLY = 175, 19


def jsonl(path: Path) -> list[dict]:
    """Every line of a JSONL file, decoded."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sha256(path: Path) -> str:
    """The file's SHA-256."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_recipe(folder: Path, body: str, name: str = "recipe.toml") -> Path:
    """A recipe file in ``folder``."""
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def two_stages(en: Path = DOLLY_EN, ja: Path = DOLLY_JA, extra: str = "") -> str:
    """A small two-stage recipe on the real Alpaca and Dolly pairs."""
    return f"""
seed = 3
{extra}
[output]
split = {{ train = 0.8, eval = 0.2 }}

[[stage]]
name = "init"
limit = 30
sources = {{ en = "{ALPACA_EN}", ja = "{ALPACA_JA}" }}

[[stage]]
name = "dolly"
where = ["category!=creative_writing"]
taggers = ["register"]
sources.en = {{ path = "{en}", licence = "CC BY-SA 3.0" }}
sources.ja = {{ path = "{ja}", licence = "CC BY-SA 3.0" }}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example recipe run once from another folder, with report and card."""
    folder = tmp_path_factory.mktemp("built")
    done = run_cli(
        "run", EXAMPLE, "-o", "out.jsonl", "--report", "report.json", "--card", "CARD.md",
        cwd=folder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return folder


def test_the_example_writes_checked_splits_with_stage_prefixes(built: Path) -> None:
    train, evaluation = built / "out.train.jsonl", built / "out.eval.jsonl"
    done = run_cli("validate", train, evaluation, "--schema", "record-tags", "--languages", "en,ja")
    assert done.returncode == 0, done.stdout + done.stderr
    records = jsonl(train) + jsonl(evaluation)
    assert len(records) == 2 * (INIT + DOLLY)
    stages = [r["seq"].split("/")[0] for r in records]
    assert stages.count("init") == 2 * INIT and stages.count("dolly") == 2 * DOLLY
    # The curriculum's order holds in each split: every init group before every dolly group.
    for path in (train, evaluation):
        prefixes = [r["seq"].split("/")[0] for r in jsonl(path)]
        assert prefixes == sorted(prefixes, key=["init", "dolly"].index)
    assert not any(r["tags"].get("category") == "creative_writing" for r in records)
    japanese = [r for r in records if r["seq"].endswith("JA")]
    assert {r["tags"]["register"] for r in japanese} <= set(LABELS)
    assert not any("register" in r["tags"] for r in records if r["seq"].endswith("EN"))
    # A group is never torn apart: each seq index sits in one split with both languages.
    for path in (train, evaluation):
        groups = {r["seq"][:-2] for r in jsonl(path)}
        assert len(jsonl(path)) == 2 * len(groups)
    assert not {r["seq"][:-2] for r in jsonl(train)} & {r["seq"][:-2] for r in jsonl(evaluation)}


def test_the_report_counts_each_stage_and_records_provenance(built: Path) -> None:
    report = json.loads((built / "report.json").read_text())
    init, dolly = report["stages"]
    assert (init["name"], init["groups"]["read"], init["groups"]["written"]) == ("init", 175, 175)
    assert dolly["groups"] | {"skipped": 0} == {
        "read": 20, "written": 19, "rejected": 0, "filtered": 1, "skipped": 0,
    }  # fmt: skip
    assert dolly["filters"] == {"category!=creative_writing": 1}
    assert report["filters"] == {"category!=creative_writing": 1}
    assert report["output"]["records"] == 2 * (INIT + DOLLY)
    assert sum(s["groups"] for s in report["splits"].values()) == INIT + DOLLY
    prov = report["provenance"]
    assert prov["recipe"]["text"] == EXAMPLE.read_text(encoding="utf-8")
    assert prov["recipe"]["sha256"] == sha256(EXAMPLE)
    assert prov["seed"] == 20240401 and prov["mix"] == "concat"
    assert prov["python"] == platform.python_version()
    assert report["tool"]["version"] == __version__
    assert {"converter.builtin.register", "converter.builtin.checks"} <= {
        p["name"] for p in report["tool"]["plugins"]
    }
    expected = [(ALPACA_EN, "init", "en"), (ALPACA_JA, "init", "ja")]
    expected += [(DOLLY_EN, "dolly", "en"), (DOLLY_JA, "dolly", "ja")]
    assert [(i["stage"], i["lang"], i["bytes"], i["sha256"]) for i in prov["inputs"]] == [
        (stage, lang, path.stat().st_size, sha256(path)) for path, stage, lang in expected
    ]
    assert [s["sha256"] for s in report["sources"]] == [sha256(p) for p, _, _ in expected]
    for name in ("train", "eval"):
        assert prov["outputs"][name]["sha256"] == sha256(built / f"out.{name}.jsonl")
    assert all(s["reconciles"] for s in report["sources"])


def test_the_card_lists_sources_licences_counts_and_the_rebuild(built: Path) -> None:
    card = (built / "CARD.md").read_text(encoding="utf-8")
    assert card.startswith("# EN/JA curriculum: Alpaca seed tasks, then Dolly\n")
    assert (
        "| init | ja | [alpaca_seed_tasks.ja.json](https://github.com/Hajime-Y/Alpaca-jp)" in card
    )
    assert "| CC BY-NC 4.0 (Stanford Alpaca data; research use only) |" in card
    assert card.count("| CC BY-SA 3.0 |") == 2
    assert f"| {sha256(DOLLY_JA)}" not in card and f"`{sha256(DOLLY_JA)}`" in card
    assert "| init | 1 | 175 | 175 | 0 | 0 | 0 |" in card
    assert "| dolly | 1 | 20 | 19 | 1 | 0 | 0 |" in card
    assert "| en | 195 | 194 |" in card and "| ja | 195 | 194 |" in card
    assert "| dolly | `category!=creative_writing` | 1 |" in card
    assert "| init | empty | reject | 0 | 0 |" in card
    assert "| train | out.train.jsonl |" in card and "| eval | out.eval.jsonl |" in card
    assert f"convert run {EXAMPLE} -o out.jsonl --report report.json --card CARD.md" in card
    assert f"langpair-converter {__version__}, Python {platform.python_version()}" in card


def test_a_rebuild_from_the_report_gives_identical_bytes(built: Path, tmp_path: Path) -> None:
    report = json.loads((built / "report.json").read_text())
    recipe = report["provenance"]["recipe"]["path"]
    done = run_cli(
        "run", recipe, "-o", tmp_path / "again.jsonl", "--verify", built / "report.json",
        "--card", tmp_path / "CARD.md",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in ("train", "eval"):
        again = (tmp_path / f"again.{name}.jsonl").read_bytes()
        assert again == (built / f"out.{name}.jsonl").read_bytes()


def test_verify_fails_before_writing_when_an_input_changed(tmp_path: Path) -> None:
    ja = tmp_path / "ja.jsonl"
    shutil.copyfile(DOLLY_JA, ja)
    recipe = write_recipe(tmp_path, two_stages(ja=ja))
    done = run_cli("run", recipe, "-o", tmp_path / "a.jsonl", "--report", tmp_path / "r.json")
    assert done.returncode == 0, done.stderr
    ja.write_bytes(DOLLY_JA.read_bytes().replace("の".encode(), "が".encode(), 1))
    done = run_cli("run", recipe, "-o", tmp_path / "b.jsonl", "--verify", tmp_path / "r.json")
    assert done.returncode == 3
    message = done.stderr.decode()
    assert message.count("\n") == 1, message
    assert f"ja={ja} (stage 'dolly')" in message and "not the same input" in message
    assert not list(tmp_path.glob("b.*"))


def two_stages_run(tmp_path: Path) -> tuple[Path, Path]:
    """The two-stage recipe run once into ``a.jsonl``: the recipe and its report."""
    recipe = write_recipe(tmp_path, two_stages())
    report = tmp_path / "r.json"
    assert run_cli("run", recipe, "-o", tmp_path / "a.jsonl", "--report", report).returncode == 0
    return recipe, report


def test_verify_fails_when_the_rebuilt_output_differs(tmp_path: Path) -> None:
    recipe, report = two_stages_run(tmp_path)
    document = json.loads(report.read_text())
    document["provenance"]["outputs"]["eval"]["sha256"] = "0" * 64
    report.write_text(json.dumps(document))
    done = run_cli("run", recipe, "-o", tmp_path / "b.jsonl", "--verify", report)
    assert done.returncode == 3
    assert "b.eval.jsonl: the rebuilt eval output differs" in done.stderr.decode()


def test_verify_fails_when_the_recipe_changed(tmp_path: Path) -> None:
    recipe, report = two_stages_run(tmp_path)
    write_recipe(tmp_path, two_stages().replace("seed = 3", "seed = 4"))
    done = run_cli("run", recipe, "-o", tmp_path / "b.jsonl", "--verify", report)
    assert done.returncode == 3
    assert "the recipe differs from the one in" in done.stderr.decode()


def test_verify_fails_when_the_seed_is_another(tmp_path: Path) -> None:
    recipe, report = two_stages_run(tmp_path)
    done = run_cli("run", recipe, "-o", tmp_path / "b.jsonl", "--verify", report, "--seed", "9")
    assert done.returncode == 3
    assert f"the seed is 9 but {report} used 3" in done.stderr.decode()
    assert not list(tmp_path.glob("b.*"))


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (("inputs", 0, "bytes", "abc"), "provenance['inputs'][0]['bytes']: \"abc\" is not of"),
        (("outputs", None, None, []), "provenance['outputs']: [] is not of type \"object\""),
        (("recipe", None, None, 7), "provenance['recipe']: 7 is not of type \"object\""),
        (("inputs", 0, "stage", ["x"]), "provenance['inputs'][0]['stage']: [\"x\"] is not of"),
        (("inputs", 0, "bytes", 1.5), "provenance['inputs'][0]['bytes']: 1.5 is not of"),
    ],
)
def test_verify_against_a_report_of_another_shape_is_one_line(
    tmp_path: Path, edit: tuple[object, ...], says: str
) -> None:
    recipe, report = two_stages_run(tmp_path)
    document = json.loads(report.read_text())
    key, index, field, value = edit
    if index is None:
        document["provenance"][key] = value
    else:
        document["provenance"][key][index][field] = value
    report.write_text(json.dumps(document))
    done = run_cli("run", recipe, "-o", tmp_path / "b.jsonl", "--verify", report)
    assert done.returncode == 2
    said = done.stderr.decode()
    assert said.startswith(f"convert: error: {report}: not a 'convert run --report' report: {says}")
    assert said.count("\n") == 1
    assert not list(tmp_path.glob("b.*"))


def test_verify_against_a_dry_run_s_report_is_refused_before_the_rebuild(tmp_path: Path) -> None:
    """A dry run's report records no outputs: the whole rebuild ran, then failed on its first
    output ("which the report has not")."""
    recipe = write_recipe(tmp_path, two_stages())
    report = tmp_path / "dry.json"
    done = run_cli("run", recipe, "-o", tmp_path / "a.jsonl", "--dry-run", "--report", report)
    assert done.returncode == 0, done.stderr
    done = run_cli("run", recipe, "-o", tmp_path / "b.jsonl", "--verify", report)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        f"convert: error: {report}: the report of a dry run (--dry-run) records no outputs to "
        "check: verify against a real run's report\n"
    )
    assert not list(tmp_path.glob("b.*"))


def test_the_dry_run_prints_the_plan_and_counts_and_writes_nothing(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, two_stages())
    before = sorted(tmp_path.iterdir())
    done = run_cli("run", recipe, "-o", "out.jsonl", "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(tmp_path.iterdir()) == before
    plan = done.stdout.decode()
    assert "stage 1 init (weight 1):" in plan
    assert "groups: 30 read, 30 would be written, 0 filtered, 0 rejected" in plan
    assert "groups: 20 read, 19 would be written, 1 filtered, 0 rejected" in plan
    assert "filter category!=creative_writing: 1 groups" in plan
    assert f"source ja={DOLLY_JA}; CC BY-SA 3.0" in plan
    assert "split train -> out.train.jsonl:" in plan and "split eval -> out.eval.jsonl:" in plan
    assert plan.endswith("dry run: nothing written\n")


def test_a_dry_runs_card_and_report_say_nothing_was_written(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, two_stages())
    args = ["run", recipe, "-o", "out.jsonl", "--report", "r.json", "--card", "card.md"]
    done = run_cli(*args, "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md", "r.json", "recipe.toml"]
    provenance = json.loads((tmp_path / "r.json").read_text())["provenance"]
    assert provenance["dry_run"] is True and "--dry-run" not in provenance["command"]
    card = (tmp_path / "card.md").read_text()
    assert "records would be written (a dry run: nothing was)" in card
    assert "This corpus would be made (this was a dry run) with:" in card
    assert run_cli(*args, cwd=tmp_path).returncode == 0  # the real run, as the card says
    assert json.loads((tmp_path / "r.json").read_text())["provenance"]["dry_run"] is False
    card = (tmp_path / "card.md").read_text()
    assert "records written," in card and "This corpus was made with:" in card


def test_rejects_give_exit_1_and_are_recorded(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, two_stages().replace("limit = 30", "strict = true"))
    done = run_cli("run", recipe, "-o", tmp_path / "a.jsonl", "--report", tmp_path / "r.json")
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    rejected = report["stages"][0]["groups"]["rejected"]
    assert rejected > 0 and report["groups"]["rejected"] == rejected
    rejects = tmp_path / "a.jsonl.rejects.jsonl"
    assert len(jsonl(rejects)) == 2 * rejected
    assert report["provenance"]["outputs"]["rejects"]["sha256"] == sha256(rejects)


def test_a_plugin_file_is_found_beside_the_recipe_from_any_folder(tmp_path: Path) -> None:
    """``plugins = ["./x.py"]`` is relative to the recipe's folder, as its other paths; a file
    of the same name in the working directory is not the one loaded."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    tagger = """
from converter import hookimpl

@hookimpl
def make_tagger(languages, options):
    def tag(record):
        record.tags["from"] = "{where}"
    return tag
"""
    (project / "marks.py").write_text(tagger.format(where="project"))
    (elsewhere / "marks.py").write_text(tagger.format(where="elsewhere"))
    extra = 'plugins = ["./marks.py"]'
    recipe = write_recipe(
        project, two_stages(extra=extra).replace("[output]", "[output]\nkeep_tags = true")
    )
    done = run_cli("run", recipe, "-o", elsewhere / "out.jsonl", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    records = jsonl(elsewhere / "out.train.jsonl")
    assert records and {r["tags"]["from"] for r in records} == {"project"}


def test_command_line_options_override_the_recipe(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, two_stages())
    first = run_cli("run", recipe, "-o", tmp_path / "a.json", "-f", "jsonl")
    other = run_cli("run", recipe, "-o", tmp_path / "b.json", "-f", "jsonl", "--seed", "4")
    assert first.returncode == other.returncode == 0
    a = [jsonl(tmp_path / f"a.{n}.json") for n in ("train", "eval")]
    b = [jsonl(tmp_path / f"b.{n}.json") for n in ("train", "eval")]
    assert a != b and sorted(map(str, a[0] + a[1])) == sorted(map(str, b[0] + b[1]))


def test_mixing_by_weights_is_seeded_and_keeps_every_group(tmp_path: Path) -> None:
    body = two_stages(extra='[mix]\nmode = "weights"').replace("[output]\nsplit", "[output]\n#")
    recipe = write_recipe(tmp_path, body.replace('name = "dolly"', 'name = "dolly"\nweight = 3'))
    runs = [run_cli("run", recipe, "-o", tmp_path / f"{k}.jsonl") for k in range(2)]
    assert [r.returncode for r in runs] == [0, 0]
    assert (tmp_path / "0.jsonl").read_bytes() == (tmp_path / "1.jsonl").read_bytes()
    prefixes = [r["seq"].split("/")[0] for r in jsonl(tmp_path / "0.jsonl")]
    assert prefixes.count("init") == 60 and prefixes.count("dolly") == 38
    assert prefixes != sorted(prefixes, key=["init", "dolly"].index)


def test_a_japanese_only_stage_on_the_full_dolly_file(tmp_path: Path) -> None:
    body = f"""
[[stage]]
name = "ja-polite"
sources = {{ ja = "{JA_FULL}" }}
taggers = ["register"]
where = ["category!=creative_writing", "register=polite"]
checks = {{ all = "off" }}
"""
    recipe = write_recipe(tmp_path, body)
    done = run_cli("run", recipe, "-o", tmp_path / "ja.jsonl", "--report", tmp_path / "r.json")
    assert done.returncode == 0, done.stderr
    stage = json.loads((tmp_path / "r.json").read_text())["stages"][0]
    assert stage["groups"]["read"] == 15015
    assert stage["filters"]["category!=creative_writing"] == 711
    records = jsonl(tmp_path / "ja.jsonl")
    assert (
        len(records)
        == stage["groups"]["written"]
        == 15015 - 711 - stage["filters"]["register=polite"]
    )
    assert records[0]["seq"].startswith("ja-polite/")


BAD = [
    ("[[stage]]\nname = 'a'\nlimt = 3\nsources = { en = 'x' }", "[[stage]] 1 ('a'): unknown key 'limt' (known: name, sources,"),
    ("[[stage]]\nname = 'a'\nlimit = '3'\nsources = { en = 'x' }", "[[stage]] 1 ('a'): key 'limit': must be an integer, not a string ('3')"),
    ("[[stage]]\nname = 'a'\n[stage.sources.en]\npath = 'x'\nlicense = 'MIT'", "[[stage]] 1 ('a') sources.en: unknown key 'license' (known: path, licence, url, description)"),
    ("[[stage]]\nname = 'a'\nsources = { en = 3 }", "[[stage]] 1 ('a') sources: key 'en': a source is a path string or a table with 'path', not an integer"),
    ("[[stage]]\nname = 'Init'\nsources = { en = 'x' }", "[[stage]] 1 ('Init'): key 'name': 'Init' must be lowercase letters"),
    ("[[stages]]\nname = 'a'", "top level: unknown key 'stages'"),
    ("[[stage]]\nsources = { en = 'x' }", "[[stage]] 1: missing key 'name'"),
    ("[mix]\nmode = 'random'\n[[stage]]\nname = 'a'\nsources = { en = 'x' }", "[mix]: key 'mode': must be one of concat, weights, not 'random'"),
    ("[output]\nsplit = { train = 1 }\n[[stage]]\nname = 'a'\nsources = { en = 'x' }", "[output]: key 'split': needs at least 2 entries"),
    ("[output]\nshuffle = 'yes'\n[[stage]]\nname = 'a'\nsources = { en = 'x' }", "[output]: key 'shuffle': must be a boolean, not a string ('yes')"),
    ("[[stage]]\nname = 'a'\nsources = { en = 'x' }\nchecks = { empty = 'drop' }", "[[stage]] 1 ('a') checks: key 'empty': must be one of off, warn, reject, not 'drop'"),
    ("[[stage]]\nname = 'a'\nsources = { en = 'x' }\n[[stage]]\nname = 'a'\nsources = { en = 'x' }", "stage name 'a' is given twice"),
    ("[[stage]]\nname = 'a'\nsources = { en = 'x' }\nweight = 0", "[[stage]] 1 ('a'): key 'weight': must be more than 0, not 0"),
    ("[[stage]]\nname = 'a'\nsources = { en = 'x' }\ninput_formats = { ja = 'dolly' }", "[[stage]] 1 ('a'): key 'input_formats' names 'ja', which is not one of its sources"),
    ("[[stage]]\nname = 'a'\nsources = { en = 'x' }\nstart = 5\nstop = 2", "[[stage]] 1 ('a'): 'stop' (2) is not past 'start' (5): that selects no group"),
    ("[[stage]]\nname = 'a'\nsources = { en = 'x' }\nstart = 5\nstop = 5", "[[stage]] 1 ('a'): 'stop' (5) is not past 'start' (5): that selects no group"),
    ("[[stage]\nname = 'a'", "not valid TOML: "),
    # TOML tells 3 from 3.0 (3.0 was taken for a count, and islice refused it: internal error)
    ("[[stage]]\nname = 'a'\nsources = { en = 'x' }\nlimit = 3.0", "[[stage]] 1 ('a'): key 'limit': must be an integer, not a number (3.0)"),
    ("[output]\nsample = 3.0\n[[stage]]\nname = 'a'\nsources = { en = 'x' }", "[output]: key 'sample': must be an integer, not a number (3.0)"),
    # an infinite weight drew the other stages first
    ("[[stage]]\nname = 'a'\nsources = { en = 'x' }\nweight = inf", "[[stage]] 1 ('a'): key 'weight': must be a finite number, not inf"),
    ("[output]\nsplit = { train = inf, eval = 1 }\n[[stage]]\nname = 'a'\nsources = { en = 'x' }", "[output.split]: key 'train': must be a finite number, not inf"),
    ("[output]\nsplit = { 'tr ain' = 1, eval = 1 }\n[[stage]]\nname = 'a'\nsources = { en = 'x' }", "[output]: key 'split': 'tr ain': split names are letters, digits, '_' or '-' (they name the files)"),
    ("[output]\nsplit = 'train=0.9,eval=0.1'\n[[stage]]\nname = 'a'\nsources = { en = 'x' }", "[output]: key 'split': must be a table, not a string"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), BAD)
def test_a_bad_recipe_is_one_line_naming_table_and_key(
    tmp_path: Path, body: str, message: str
) -> None:
    recipe = write_recipe(tmp_path, body)
    with pytest.raises(UsageError) as caught:
        to_stages(load_recipe(str(recipe)))
    assert str(caught.value).startswith(f"{recipe}: ") and "\n" not in str(caught.value)
    assert message in str(caught.value)


def test_a_bad_recipe_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, two_stages().replace("limit = 30", "limit = -30"))
    done = run_cli("run", recipe, "-o", tmp_path / "out.jsonl", "--report", tmp_path / "r.json")
    assert done.returncode == 2
    assert done.stderr.decode() == (
        f"convert: error: {recipe}: [[stage]] 1 ('init'): key 'limit': must be at least 0, "
        "not -30\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.toml"]


def test_a_missing_recipe_or_input_is_one_line(tmp_path: Path) -> None:
    done = run_cli("run", tmp_path / "nope.toml")
    assert done.returncode == 2 and b"cannot read the recipe: No such file" in done.stderr
    recipe = write_recipe(tmp_path, two_stages(ja=tmp_path / "gone.jsonl"))
    done = run_cli("run", recipe, "-o", tmp_path / "out.jsonl", "--report", tmp_path / "r.json")
    assert done.returncode == 3 and done.stderr.count(b"\n") == 1, done.stderr
    assert (
        done.stderr.startswith(b"convert: error: stage 'dolly': ja=")
        and b"gone.jsonl" in done.stderr
    )
    assert not list(tmp_path.glob("out*")) and not (tmp_path / "r.json").exists()
    # a problem found while the stage is read names the stage too
    formats = '[[stage]]\nname = "dolly"\ninput_formats = { ja = "dolly-jp" }'
    recipe = write_recipe(tmp_path, two_stages().replace('[[stage]]\nname = "dolly"', formats))
    done = run_cli("run", recipe, "-o", tmp_path / "out.jsonl")
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode().startswith(
        f"convert: error: {recipe}: stage 'dolly': unknown input format 'dolly-jp'"
    )
