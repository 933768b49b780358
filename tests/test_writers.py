"""Training-ready writers (template, template-text, prompt-completion, sharegpt, messages,
alpaca, parquet), Parquet sources, compressed outputs and inputs, --dataset-info: golden files
from the real EN/JA pair, loading with Hugging Face ``datasets``, round trips and errors.

Most runs go through the Python API (``run_stream``, ``validate_files``), in process; the command
line is run where its own behaviour is the point (one-line errors, exit statuses, options)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import ALPACA_EN, ALPACA_JA, ROOT, run_cli

from converter.builtin.trainer_writers import SEPARATOR
from converter.compression import zstd
from converter.errors import InputError, UsageError
from converter.model import Record
from converter.pipeline import StreamJob, run_stream
from converter.prompt_template import DEFAULT_TEMPLATE, parse_template
from converter.validate import validate_files

GOLDEN = ROOT / "tests" / "data" / "golden"
PAIR = (f"en={ALPACA_EN}", f"ja={ALPACA_JA}")
EN = json.loads(ALPACA_EN.read_text(encoding="utf-8"))
JA = json.loads(ALPACA_JA.read_text(encoding="utf-8"))
REASONING = {
    "EN": "AI assistant should reply in English language.",
    "JA": "AI assistant should reply in Japanese language.",
}
SYSTEM = "You are a careful translator's assistant."
#: Golden file -> the StreamJob fields that make it from the first 3 groups of the real pair.
GOLDEN_RUNS: dict[str, dict[str, Any]] = {
    "template.jsonl": {"format": "template"},
    "template-text.txt": {},  # the .txt suffix picks template-text
    "prompt-completion.jsonl": {"format": "prompt-completion"},
    "sharegpt.jsonl": {"format": "sharegpt"},
    "messages.jsonl": {"format": "messages"},
    "alpaca.jsonl": {"format": "alpaca"},
    "alpaca-tags.jsonl": {"format": "alpaca", "keep_tags": True},
}


def stream(folder: Path, name: str, limit: int | None = 3, **fields: Any) -> Path:
    """Convert the real pair (checks off) into ``folder / name``; return the output path."""
    out = folder / name
    sources = [("en", str(ALPACA_EN)), ("ja", str(ALPACA_JA))]
    job = StreamJob(sources, str(out), limit=limit, checks={"all": "off"}, **fields)
    assert run_stream(job)[1] == 0
    return out


def lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` as JSON Lines."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def interleaved() -> list[tuple[str, dict[str, str]]]:
    """The input records of the real pair in output order, with their seq suffix."""
    return [(suffix, src[i]) for i in range(len(EN)) for suffix, src in (("EN", EN), ("JA", JA))]


def prompt(source: dict[str, str]) -> str:
    """The user's turn for an input record: instruction, and the input on its own line."""
    return source["instruction"] + ("\n" + source["input"] if source["input"] else "")


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every writer's output for the whole real pair (175 groups, 350 records)."""
    folder = tmp_path_factory.mktemp("full")
    return {
        "template": stream(folder, "t.jsonl", None, format="template"),
        "text": stream(folder, "t.txt", None),
        "prompt-completion": stream(
            folder, "pc.jsonl", None, format="prompt-completion", system=SYSTEM
        ),
        "template-system": stream(folder, "ts.jsonl", None, format="template", system=SYSTEM),
        "sharegpt": stream(folder, "s.jsonl", None, format="sharegpt", system=SYSTEM),
        "messages": stream(folder, "m.jsonl", None, format="messages"),
        "jsonl": stream(folder, "r.jsonl", None),
        "parquet": stream(folder, "r.parquet", None),
    }


# --- golden files ------------------------------------------------------------------------------


@pytest.mark.parametrize("golden", sorted(GOLDEN_RUNS))
def test_every_writer_matches_its_golden_file(tmp_path: Path, golden: str) -> None:
    out = stream(tmp_path, golden, **GOLDEN_RUNS[golden])
    assert out.read_bytes() == (GOLDEN / golden).read_bytes()


def test_the_command_line_passes_format_and_system_through(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done = run_cli(
        "stream", *PAIR, "--limit", "3", "--check", "all=off", "-f", "sharegpt",
        "--system", SYSTEM, "-o", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert out.read_bytes() == (GOLDEN / "sharegpt-system.jsonl").read_bytes()


def test_parquet_holds_the_record_columns_of_the_golden_rows(tmp_path: Path) -> None:
    golden = lines(GOLDEN / "parquet-rows.jsonl")
    table = pq.read_table(stream(tmp_path, "out.parquet"))
    assert table.schema == pa.schema([(column, pa.string()) for column in golden[0]])
    assert table.to_pylist() == golden
    # The golden rows are the jsonl writer's: both formats hold the same records.
    assert (GOLDEN / "parquet-rows.jsonl").read_bytes() == stream(tmp_path, "r.jsonl").read_bytes()


# --- the mapping of each record, on the whole real pair ----------------------------------------


def test_template_text_splits_back_on_the_markers_into_the_original_fields(
    full: dict[str, Path],
) -> None:
    texts = [row["text"] for row in lines(full["template"])]
    assert len(texts) == 2 * len(EN) == 350
    for text, (suffix, source) in zip(texts, interleaved()):
        assert text.startswith("<|system|>") and text.endswith("<|endoftext|>")
        system, rest = text.removeprefix("<|system|>").split("\n<|prompt|>", 1)
        user, rest = rest.split("\n<|reasoning|>", 1)
        reasoning, response = rest.removesuffix("<|endoftext|>").split("\n<|response|>", 1)
        assert (system, user, reasoning, response) == (
            "", prompt(source), REASONING[suffix], source["output"],
        )  # fmt: skip


def test_prompt_plus_completion_is_exactly_the_template_text(full: dict[str, Path]) -> None:
    pairs = lines(full["prompt-completion"])
    texts = lines(full["template-system"])
    assert len(pairs) == len(texts) == 350
    for pair, text in zip(pairs, texts):
        assert pair["prompt"] + pair["completion"] == text["text"]
        assert pair["prompt"].startswith(f"<|system|>{SYSTEM}\n<|prompt|>")
        assert pair["prompt"].endswith("<|response|>")


def test_template_text_is_the_texts_between_separator_lines(full: dict[str, Path]) -> None:
    plain = full["text"].read_text(encoding="utf-8")
    assert plain.endswith("<|endoftext|>\n")
    texts = [row["text"] for row in lines(full["template"])]
    assert plain.removesuffix("\n").split(f"\n{SEPARATOR}\n") == texts


def test_chat_turns_carry_system_prompt_and_response(full: dict[str, Path]) -> None:
    share, chat = lines(full["sharegpt"]), lines(full["messages"])
    assert len(share) == len(chat) == 350
    for conversation, messages, (suffix, source) in zip(share, chat, interleaved()):
        assert conversation == {"conversations": [
            {"from": "system", "value": f"{SYSTEM}\n{REASONING[suffix]}"},
            {"from": "human", "value": prompt(source)},
            {"from": "gpt", "value": source["output"]},
        ]}  # fmt: skip
        assert messages == {"messages": [
            {"role": "system", "content": REASONING[suffix]},
            {"role": "user", "content": prompt(source)},
            {"role": "assistant", "content": source["output"]},
        ]}  # fmt: skip


def test_a_custom_template_with_literal_braces_and_every_placeholder(tmp_path: Path) -> None:
    template = tmp_path / "t.tpl"
    template.write_text(
        "{{{seq}/{lang}}} {system}|{instruction}|{input}|{output}|{reasoning}|{prompt}|{response}\n"
    )
    out = stream(tmp_path, "t.jsonl", format="template", template=str(template), system="S")
    first = EN[1]  # the second group: a record with an input
    fields = "|".join([first["instruction"], first["input"], first["output"], REASONING["EN"]])
    # The file's final newline is not part of the template.
    assert lines(out)[2] == {"text": f"{{1EN/en}} S|{fields}|{prompt(first)}|{first['output']}"}


# --- template syntax -------------------------------------------------------------------------


def record(**fields: str) -> Record:
    """A record with the given texts."""
    values = {"instruction": "Q", "input": "", "output": "A", "seq": "0EN", "reasoning": "R"}
    return Record(lang="en", index=0, tags={}, **{**values, **fields})


def test_the_default_template_renders_the_seed_layout() -> None:
    template = parse_template(DEFAULT_TEMPLATE, "SYS")
    assert template.render(record(input="I")) == (
        "<|system|>SYS\n<|prompt|>Q\nI\n<|reasoning|>R\n<|response|>A<|endoftext|>"
    )
    head, tail = template.split()
    assert (head.render(record()), tail.render(record())) == (
        "<|system|>SYS\n<|prompt|>Q\n<|reasoning|>R\n<|response|>",
        "A<|endoftext|>",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{prompt} {answer}", "line 1, column 10: unknown placeholder {answer}; known: {system}"),
        ("x\n {output.__class__}", "line 2, column 2: not a placeholder: {output.__class__}"),
        ("{input[0]}", "not a placeholder: {input[0]}"),
        ("{output!r}", "not a placeholder: {output!r}"),
        ("{output:>9}", "not a placeholder: {output:>9}"),
        ("{}", "not a placeholder: {}"),
        ("a } b", "line 1, column 3: lone '}'"),
        ("{prompt", "line 1, column 1: lone '{'"),
    ],
)
def test_template_errors_name_the_place(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_template(text, where="t.tpl")
    assert str(caught.value).startswith("t.tpl: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_doubled_braces_are_literal_and_the_system_text_is_not_parsed() -> None:
    template = parse_template("{{x}} {{{output}}} {system}", system="{input} }")
    assert template.render(record()) == "{x} {A} {input} }"


def test_an_unknown_placeholder_stops_the_run_before_any_record_is_read(tmp_path: Path) -> None:
    template = tmp_path / "t.tpl"
    template.write_text("{prompt}\n{answer}\n")
    broken = tmp_path / "en.jsonl"  # read, its second line would be a fatal error (exit 3)
    broken.write_text('{"instruction": "a", "input": "", "output": "b"}\n[1, 2\n')
    out = tmp_path / "out.jsonl"
    done = run_cli("stream", f"en={broken}", "-f", "template", "--template", template, "-o", out)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        f"convert: error: --template {template}: line 2, column 1: unknown placeholder {{answer}}; "
        "known: {system}, {instruction}, {input}, {output}, {reasoning}, {seq}, {lang}, {prompt}, "
        "{response} ({{ and }} for literal braces)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.jsonl", "t.tpl"]


def test_a_template_that_cannot_be_used_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read: No such file"):
        stream(tmp_path, "o.jsonl", format="template", template=str(tmp_path / "missing.tpl"))
    template = tmp_path / "t.tpl"
    template.write_text("{prompt} => {output}")
    with pytest.raises(UsageError, match=r"no \{response\} placeholder, where prompt-completion"):
        stream(tmp_path, "o.jsonl", format="prompt-completion", template=str(template))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tpl"]


def test_a_text_holding_the_separator_line_is_rejected_from_template_text(tmp_path: Path) -> None:
    en = write_lines(
        tmp_path / "en.jsonl",
        [
            {"instruction": "a", "input": "", "output": f"x\n{SEPARATOR}\ny"},
            {"instruction": "b", "input": "", "output": "c"},
        ],
    )
    out = tmp_path / "out.txt"
    report, status = run_stream(StreamJob([("en", str(en))], str(out), checks={"all": "off"}))
    assert (status, report.groups_rejected) == (1, 1)
    assert out.read_text() == (
        f"<|system|>\n<|prompt|>b\n<|reasoning|>{REASONING['EN']}\n<|response|>c<|endoftext|>\n"
    )
    reasons = lines(tmp_path / "out.txt.rejects.jsonl")[0]["reasons"]
    assert reasons == [f"cannot encode: en: the text holds the separator line {SEPARATOR}"]


# --- fields holding the template's markers ----------------------------------------------------

#: Template writer -> the ``full`` output of the real pair made with the same options.
TEMPLATED = {
    "template": ("template", {}),
    "template-text": ("text", {}),
    "prompt-completion": ("prompt-completion", {"system": SYSTEM}),
}


def rows_of(path: Path) -> list[Any]:
    """The rows of a template writer's output: JSON objects, or ``template-text``'s texts."""
    if path.suffix == ".txt":
        return path.read_text(encoding="utf-8").removesuffix("\n").split(f"\n{SEPARATOR}\n")
    return lines(path)


def test_a_template_marks_the_markers_of_its_own_text_and_the_fields_it_shows() -> None:
    template = parse_template(DEFAULT_TEMPLATE, system="<|response|> <b>")
    assert template.marker_in(record(input="a <|prompt|> b")) == (
        "the input holds the template's marker <|prompt|>"
    )
    # The --system text is not the template's: what it holds is no marker.
    assert template.marker_in(record(output="<b>bold</b>")) is None
    custom = parse_template("{{<x>}} [INST] {instruction} [/INST]{response}</s>")
    assert custom.marker_in(record(instruction="say [/INST]")) == (
        "the instruction holds the template's marker [/INST]"
    )
    assert custom.marker_in(record(output="a <x>")) == "the output holds the template's marker <x>"
    # Not its marker, or in a field it does not show.
    assert custom.marker_in(record(input="[INST]", output="<|endoftext|>")) is None
    square = parse_template("[Q] {prompt} [A] {response}")
    assert square.marker_in(record(output="[A]")) == "the output holds the template's marker [A]"
    assert parse_template("Q: {prompt}\nA: {response}").marker_in(record(output="<s>")) is None


@pytest.mark.parametrize("writer", sorted(TEMPLATED))
def test_a_marker_in_a_field_of_the_real_pair_rejects_its_group(
    tmp_path: Path, full: dict[str, Path], writer: str
) -> None:
    key, fields = TEMPLATED[writer]
    en, ja = [dict(r) for r in EN], [dict(r) for r in JA]
    en[5]["output"] += " <|endoftext|> and more"
    ja[9]["input"] = "<|reasoning|>"
    sources = []
    for lang, planted in (("en", en), ("ja", ja)):
        path = tmp_path / f"{lang}.json"
        path.write_text(json.dumps(planted, ensure_ascii=False), encoding="utf-8")
        sources.append((lang, str(path)))
    out = tmp_path / full[key].name
    job = StreamJob(sources, str(out), checks={"all": "off"}, format=writer, **fields)
    report, status = run_stream(job)
    assert (status, report.groups_rejected, report.records_written) == (1, 2, 346)
    kept = [row for k, row in enumerate(rows_of(full[key])) if k // 2 not in (5, 9)]
    assert rows_of(out) == kept
    rejects = lines(tmp_path / f"{out.name}.rejects.jsonl")
    marker = "the output holds the template's marker <|endoftext|>"
    other = "the input holds the template's marker <|reasoning|>"
    assert [(r["lang"], r["index"], r["reasons"]) for r in rejects] == [
        ("en", 5, [f"cannot encode: en: {marker}"]),
        ("ja", 5, [f"partner rejected: en: cannot encode: {marker}"]),
        ("en", 9, [f"partner rejected: ja: cannot encode: {other}"]),
        ("ja", 9, [f"cannot encode: ja: {other}"]),
    ]


@pytest.mark.parametrize("writer", sorted(TEMPLATED))
def test_a_custom_template_refuses_fields_holding_its_own_markers(
    tmp_path: Path, writer: str
) -> None:
    template = tmp_path / "mistral.tpl"
    template.write_text("<s>[INST] {instruction} [/INST]{response}</s>\n")
    records = [
        {"instruction": "a", "input": "", "output": "ends with </s> here"},
        {"instruction": "b", "input": "[INST] unshown", "output": "<|endoftext|> is not its"},
        {"instruction": "what is [/INST]?", "input": "", "output": "c"},
        {"instruction": "d", "input": "", "output": "<mask> and <s >"},
    ]
    en = write_lines(tmp_path / "en.jsonl", records)
    out = tmp_path / ("out.txt" if writer == "template-text" else "out.jsonl")
    done = run_cli(
        "stream", f"en={en}", "-f", writer, "--template", template, "--check", "all=off",
        "-o", out,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr.decode()
    assert "4 groups read, 2 records written" in done.stderr.decode()
    texts = [f"<s>[INST] {r['instruction']} [/INST]{r['output']}</s>" for r in records]
    written = rows_of(out)
    if writer != "template-text":
        written = ["".join(row.values()) for row in written]
    assert written == [texts[1], texts[3]]
    rejects = lines(tmp_path / f"{out.name}.rejects.jsonl")
    assert [(r["index"], r["reasons"]) for r in rejects] == [
        (0, ["cannot encode: en: the output holds the template's marker </s>"]),
        (2, ["cannot encode: en: the instruction holds the template's marker [/INST]"]),
    ]


# --- options that do not apply -----------------------------------------------------------------


def test_an_option_the_writer_does_not_take_is_one_line_and_exit_2() -> None:
    done = run_cli("stream", *PAIR, "-f", "json", "--system", "x")
    assert (done.returncode, done.stderr) == (
        2, b"convert: error: --system does not apply to --format json\n",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"format": "parquet", "keep_tags": True},
            "--keep-tags does not apply to --format parquet",
        ),
        ({"format": "sharegpt", "template": "t"}, "--template does not apply to --format sharegpt"),
        (
            {"format": "template", "keep_tags": True},
            "--keep-tags does not apply to --format template",
        ),
    ],
)
def test_options_a_writer_does_not_take_are_usage_errors(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        stream(tmp_path, "out", **fields)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["out.parquet.gz", "out.parquet.zst", "OUT.PARQUET.GZ"])
def test_parquet_wrapped_in_gzip_or_zstd_is_refused(tmp_path: Path, name: str) -> None:
    """Parquet compresses inside, and nothing reads it back wrapped: exit 2, nothing written."""
    done = run_cli("stream", *PAIR, "-o", tmp_path / name)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "convert: error: --format parquet compresses inside and is not read back wrapped: "
        f"write {str(tmp_path / name[: -4 if name.endswith('zst') else -3])!r}, "
        f"not {str(tmp_path / name)!r}\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_failed_parquet_run_says_one_line(tmp_path: Path) -> None:
    """A run that fails (a truncated source) leaves no file and one line: pyarrow wrote the
    file's footer into the closed output as it let go of its writer, a traceback after it."""
    cut = tmp_path / "en.json"
    cut.write_bytes(ALPACA_EN.read_bytes()[:3000])
    done = run_cli("stream", f"en={cut}", f"ja={ALPACA_JA}", "-o", tmp_path / "out.parquet")
    assert done.returncode == 3
    assert done.stderr.decode() == (
        f"convert: error: en={cut}: end of input (byte 3000): truncated JSON (premature end of "
        "input)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.json"]


# --- Hugging Face datasets --------------------------------------------------------------------

LOADS = """
import json, sys
from datasets import load_dataset
result = {}
for kind, path in json.loads(sys.argv[1]):
    data = load_dataset(kind, data_files=path, split="train")
    result[path] = [data.column_names, data.num_rows, data[0]]
print(json.dumps(result))
"""


def test_every_output_loads_with_hugging_face_datasets(tmp_path: Path) -> None:
    record_columns = ["seq", "reasoning", "instruction", "input", "output"]
    alpaca_columns = ["instruction", "input", "output"]
    outputs = {  # output -> (columns, golden file of its first row)
        stream(tmp_path, "t.jsonl", format="template"): (["text"], "template.jsonl"),
        stream(tmp_path, "pc.jsonl", format="prompt-completion"): (
            ["prompt", "completion"],
            "prompt-completion.jsonl",
        ),
        stream(tmp_path, "s.jsonl", format="sharegpt"): (["conversations"], "sharegpt.jsonl"),
        stream(tmp_path, "m.json", format="messages"): (["messages"], "messages.jsonl"),
        stream(tmp_path, "a.jsonl", format="alpaca"): (alpaca_columns, "alpaca.jsonl"),
        stream(tmp_path, "at.jsonl", format="alpaca", keep_tags=True): (
            [*alpaca_columns, "seq", "reasoning", "tags"],
            None,
        ),
        stream(tmp_path, "r.json"): (record_columns, "parquet-rows.jsonl"),
        stream(tmp_path, "r.parquet"): (record_columns, "parquet-rows.jsonl"),
    }
    files = [("parquet" if p.suffix == ".parquet" else "json", str(p)) for p in outputs]
    hf = tmp_path / "hf"
    env = {
        **os.environ,
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(hf),
        "HF_DATASETS_CACHE": str(hf / "datasets"),
    }
    done = subprocess.run(
        [sys.executable, "-c", LOADS, json.dumps(files)], capture_output=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    loaded = json.loads(done.stdout.decode().splitlines()[-1])
    for path, (columns, golden) in outputs.items():
        assert loaded[str(path)][:2] == [columns, 6], path
        if golden is not None:
            assert loaded[str(path)][2] == lines(GOLDEN / golden)[0], path


# --- validate knows every writer's schema ----------------------------------------------------

SCHEMAS = [
    ("template", {"format": "template"}, lambda r: {"text": 1}),
    ("prompt-completion", {"format": "prompt-completion"}, lambda r: {**r, "extra": ""}),
    ("sharegpt", {"format": "sharegpt"}, lambda r: {"conversations": r["conversations"][::-1]}),
    ("messages", {"format": "messages"}, lambda r: {"messages": r["messages"][1:2]}),
    ("alpaca-out", {"format": "alpaca"}, lambda r: {k: v for k, v in r.items() if k != "input"}),
    ("alpaca-out-tags", {"format": "alpaca", "keep_tags": True}, lambda r: {**r, "seq": "one"}),
]


@pytest.mark.parametrize(("schema", "fields", "break_row"), SCHEMAS, ids=[s[0] for s in SCHEMAS])
def test_validate_accepts_each_writers_output_and_rejects_a_broken_row(
    tmp_path: Path, schema: str, fields: dict[str, Any], break_row: Any
) -> None:
    out = stream(tmp_path, "out.jsonl", **fields)
    assert validate_files(paths=[str(out)], schema=schema).exit_status == 0
    rows = lines(out)
    rows[3] = break_row(rows[3])
    broken = write_lines(tmp_path / "broken.jsonl", rows)
    result = validate_files(paths=[str(broken)], schema=schema)
    assert result.exit_status == 1
    assert result.totals()["invalid"] == 1
    assert {(f.record, f.line) for f in result.findings} == {(3, 4)}


def test_validate_reads_parquet_output(full: dict[str, Path]) -> None:
    done = run_cli("validate", full["parquet"], "--languages", "en,ja")
    assert done.returncode == 0, done.stdout.decode()
    assert "350 records against record" in done.stderr.decode()


# --- Parquet sources ---------------------------------------------------------------------------


def test_a_parquet_source_reads_like_its_json_original(
    tmp_path: Path, full: dict[str, Path]
) -> None:
    parquet = tmp_path / "en.parquet"
    pq.write_table(pa.Table.from_pylist(EN), parquet, row_group_size=50)  # 4 row groups
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    sources = [("en", str(parquet)), ("ja", str(ALPACA_JA))]
    job = StreamJob(sources, str(out), checks={"all": "off"}, report=str(report))
    assert run_stream(job)[1] == 0
    assert out.read_bytes() == full["jsonl"].read_bytes()
    source = json.loads(report.read_text())["sources"][0]
    assert (source["shape"], source["read"], source["bytes"], source["sha256"]) == (
        "parquet", 175, parquet.stat().st_size, hashlib.sha256(parquet.read_bytes()).hexdigest(),
    )  # fmt: skip


def test_a_file_that_is_not_parquet_is_a_fatal_input_error(tmp_path: Path) -> None:
    fake = tmp_path / "en.parquet"
    fake.write_bytes(ALPACA_EN.read_bytes())
    done = run_cli("stream", f"en={fake}", "-o", tmp_path / "out.jsonl")
    assert done.returncode == 3
    assert done.stderr.decode().startswith(f"convert: error: en={fake}: not a Parquet file: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.parquet"]


# --- compressed outputs and inputs --------------------------------------------------------------

DECOMPRESS = {".gz": gzip.decompress, ".zst": zstd.decompress}
COMPRESS = {".gz": lambda data: gzip.compress(data, mtime=0), ".zst": zstd.compress}


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_compressed_output_holds_the_plain_bytes_and_the_format_comes_first(
    tmp_path: Path, full: dict[str, Path], suffix: str
) -> None:
    for plain in (full["jsonl"], full["text"]):  # .jsonl and .txt (template-text) by suffix
        packed = stream(tmp_path, plain.name + suffix, None).read_bytes()
        assert DECOMPRESS[suffix](packed) == plain.read_bytes()
        assert len(packed) < plain.stat().st_size / 2
    pretty = DECOMPRESS[suffix](stream(tmp_path, "out.json" + suffix).read_bytes())
    assert pretty.startswith(b'[\n  {\n    "seq": "0EN",')


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_compressed_sources_read_like_plain_ones(
    tmp_path: Path, full: dict[str, Path], suffix: str
) -> None:
    en, ja = tmp_path / f"en.json{suffix}", tmp_path / f"ja.jsonl{suffix}"
    en.write_bytes(COMPRESS[suffix](ALPACA_EN.read_bytes()))
    ja.write_bytes(COMPRESS[suffix]("".join(json.dumps(r) + "\n" for r in JA).encode()))
    out = tmp_path / "out.jsonl"
    job = StreamJob([("en", str(en)), ("ja", str(ja))], str(out), checks={"all": "off"})
    assert run_stream(job)[1] == 0
    assert out.read_bytes() == full["jsonl"].read_bytes()
    en.write_bytes(en.read_bytes()[: en.stat().st_size // 2])  # truncated: an error, not an end
    with pytest.raises(InputError, match=r"cannot read.*ended before the end-of-stream marker"):
        run_stream(job)


def test_compressed_output_is_reproducible(tmp_path: Path) -> None:
    for suffix in (".gz", ".zst"):
        first = stream(tmp_path, "a.jsonl" + suffix).read_bytes()
        assert stream(tmp_path, "b.jsonl" + suffix).read_bytes() == first


# --- --dataset-info --------------------------------------------------------------------------


def test_dataset_info_entries_merge_into_an_existing_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    info = data / "dataset_info.json"
    info.write_text(json.dumps({"theirs": {"file_name": "theirs.json"}}))
    done = run_cli(
        "stream", *PAIR, "--limit", "3", "-f", "sharegpt", "-o", data / "pairs.jsonl",
        "--dataset-info", info,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    stream(data, "plain.parquet", dataset_info=str(info))
    stream(tmp_path, "outside.json", format="alpaca", dataset_info=str(info))
    stream(data, "pairs.jsonl", format="messages", dataset_info=str(info))  # replaces its entry
    document = json.loads(info.read_text())
    assert list(document) == ["theirs", "pairs", "plain", "outside"]
    assert document["pairs"] == {
        "file_name": "pairs.jsonl",
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        },
    }
    assert document["plain"] == {
        "file_name": "plain.parquet",
        "formatting": "alpaca",
        "columns": {
            "prompt": "instruction",
            "query": "input",
            "response": "output",
            "system": "reasoning",
        },
    }
    assert document["outside"] == {
        "file_name": str(tmp_path / "outside.json"),
        "formatting": "alpaca",
        "columns": {"prompt": "instruction", "query": "input", "response": "output"},
    }
    assert not [p.name for p in data.iterdir() if p.name.startswith(".")]  # no temporary file


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"format": "template-text"}, "LLaMA-Factory does not read --format template-text"),
        ({"output": "o.jsonl.gz"}, "LLaMA-Factory loads .json, .jsonl, .parquet files, not "),
        ({"output": "-"}, "--dataset-info needs an output file"),
        ({"dataset_info": "bad.json"}, "bad.json: not a JSON object of datasets"),
    ],
)
def test_dataset_info_that_cannot_be_written_fails_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("[]")
    job = StreamJob(
        [("en", str(ALPACA_EN))], **{"output": "o.jsonl", "dataset_info": "info.json", **fields}
    )
    with pytest.raises(UsageError, match=message):
        run_stream(job)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]
