"""``--dataset-info PATH``: the LLaMA-Factory ``dataset_info.json`` entry for the file written.

The entry is named after the output file (``out.jsonl`` -> ``out``) and holds its ``file_name``
(relative to the folder of ``dataset_info.json``, which is LLaMA-Factory's ``dataset_dir``;
absolute when the output lies outside it) and the writer's ``formatting``, ``columns`` and
``tags``. An existing ``dataset_info.json`` keeps its other entries; an entry of the same name
is replaced. The file is rewritten atomically, put in place with the output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from converter.compression import compression_of
from converter.errors import UsageError
from converter.inputs import read_settings
from converter.model import WriterSpec
from converter.output import STDOUT, Companion, json_document

#: File types LLaMA-Factory loads (it tells them by the last suffix).
LOADABLE = (".json", ".jsonl", ".parquet")
#: The default record (json, jsonl, parquet): Alpaca columns, the reasoning as system prompt.
RECORD = {
    "formatting": "alpaca",
    "columns": {
        "prompt": "instruction",
        "query": "input",
        "response": "output",
        "system": "reasoning",
    },
}
#: Plain Alpaca records.
ALPACA = {
    "formatting": "alpaca",
    "columns": {"prompt": "instruction", "query": "input", "response": "output"},
}
#: ``{"text": ...}``: a pre-training set (LLaMA-Factory ``stage: pt`` reads the prompt column).
TEXT = {"formatting": "alpaca", "columns": {"prompt": "text"}}


def check_dataset_info(path: str | None, output: str, spec: WriterSpec) -> None:
    """UsageError, before any record is read, when no entry can be written for this run."""
    if path is None:
        return
    if spec.dataset_info is None:
        raise UsageError(f"--dataset-info: LLaMA-Factory does not read --format {spec.name}")
    if output == STDOUT:
        raise UsageError("--dataset-info needs an output file (-o FILE)")
    if compression_of(output) or not output.endswith(LOADABLE):
        raise UsageError(
            f"--dataset-info: LLaMA-Factory loads {', '.join(LOADABLE)} files, not {output}"
        )
    _load(path)


def dataset_info_file(path: str, outputs: Sequence[str], spec: WriterSpec) -> Companion:
    """The file at ``path`` with the entries for ``outputs`` (written with ``spec``) merged in:
    its path and content, put in place with the outputs (converter.output.commit_all)."""
    document = _load(path)
    for output in outputs:
        entry = {"file_name": _file_name(output, path), **(spec.dataset_info or {})}
        document[Path(output).name.rsplit(".", 1)[0]] = entry
    return path, json_document(document)


def _load(path: str) -> dict[str, Any]:
    """The existing document (empty when there is no file); UsageError when it is not one."""
    try:
        text = read_settings(path)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"--dataset-info {path}: cannot read: {exc.strerror or exc}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--dataset-info {path}: not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError(f"--dataset-info {path}: not a JSON object of datasets")
    return document


def _file_name(output: str, info_path: str) -> str:
    """``output`` as LLaMA-Factory finds it from the folder of ``dataset_info.json``."""
    target = os.path.abspath(output)
    relative = os.path.relpath(target, os.path.dirname(os.path.abspath(info_path)))
    outside = relative == os.pardir or relative.startswith(os.pardir + os.sep)
    return target if outside else relative
