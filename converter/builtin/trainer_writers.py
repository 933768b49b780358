"""Writers for trainers: the seed's prompt template, prompt/completion, ShareGPT, OpenAI
``messages`` and plain Alpaca. Each writes JSON Lines (``template-text`` plain text) whatever the
output's suffix; Hugging Face ``datasets`` and LLaMA-Factory read JSON Lines from ``.json`` too.

Where each record's parts go (the mapping is in docs/output-formats.md):

- ``template``: ``{"text": <the template rendered>}``; ``template-text``: the rendered texts,
  each followed by a newline, with a line ``<|separator|>`` between two texts.
- ``prompt-completion``: the template split before ``{response}``: ``prompt + completion`` is
  exactly the ``template`` text.
- These three refuse a record a field of which holds one of the template's markers: its text
  would not split back into the fields (converter.prompt_template).
- ``sharegpt`` / ``messages``: a system turn (the reasoning sentence, after the ``--system``
  text and a newline when there is one; left out when both are empty), the user's turn (the
  instruction, plus a newline and the input when there is one) and the assistant's (the output).
- ``alpaca``: ``instruction``, ``input``, ``output``; ``--keep-tags`` adds ``seq``,
  ``reasoning`` and ``tags``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from converter import hookimpl
from converter.builtin.writers import JsonLinesWriter
from converter.dataset_info import ALPACA, TEXT
from converter.model import Record, WriterOptions, WriterSpec
from converter.prompt_template import load_template, prompt_of

#: The line between two texts of ``template-text``.
SEPARATOR = "<|separator|>"
_SEPARATOR_LINE = f"\n{SEPARATOR}\n"
TEMPLATE_OPTIONS = frozenset({"system", "template"})


class _ShapedLines(JsonLinesWriter):
    """JSON Lines of rows shaped by a subclass, validated against the subclass's schema."""

    schema_name = ""

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        super().__init__(stream, options)
        self.schema = self.schema_name


class _TemplatedLines(_ShapedLines):
    """Rows shaped from the prompt template by a subclass (``shape``). A record a field of
    which holds one of the template's markers is refused (ValueError: its group is
    rejected)."""

    #: The row of a record (a subclass's method).
    shape: Callable[[Record], dict[str, Any]]

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        super().__init__(stream, options)
        self.template = load_template(options.template, options.system)

    def row(self, record: Record) -> dict[str, Any]:
        marked = self.template.marker_in(record)
        if marked:
            raise ValueError(marked)
        return self.shape(record)


class TemplateWriter(_TemplatedLines):
    """``{"text": ...}``: each record rendered with the prompt template."""

    schema_name = "template"

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        super().__init__(stream, options)
        self.render = self.template.render

    def shape(self, record: Record) -> dict[str, Any]:
        return {"text": self.render(record)}


class TemplateTextWriter(TemplateWriter):
    """The rendered texts as plain UTF-8, each followed by a newline, separated by a line
    ``<|separator|>``. A text holding that line itself cannot be told apart: it is rejected."""

    #: Between two texts, however they are batched (converter.model.Writer).
    separator = SEPARATOR.encode() + b"\n"

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        super().__init__(stream, options)
        self.started = False

    def encode(self, row: dict[str, Any]) -> bytes:
        text: str = row["text"]
        if _SEPARATOR_LINE in f"\n{text}\n":
            raise ValueError(f"the text holds the separator line {SEPARATOR}")
        return text.encode() + b"\n"

    def write(self, chunks: list[bytes]) -> None:
        if not chunks:
            return
        lead = self.separator if self.started else b""
        self.started = True
        self.stream.write(lead + self.separator.join(chunks))


class PromptCompletionWriter(_TemplatedLines):
    """``{"prompt": ..., "completion": ...}`` (TRL): the template split before ``{response}``."""

    schema_name = "prompt-completion"

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        super().__init__(stream, options)
        prompt, completion = self.template.split()
        self.prompt, self.completion = prompt.render, completion.render

    def shape(self, record: Record) -> dict[str, Any]:
        return {"prompt": self.prompt(record), "completion": self.completion(record)}


class _ChatWriter(_ShapedLines):
    """A conversation of system, user and assistant turns under ``column``."""

    column = ""
    role_key, content_key = "", ""
    system_role, user_role, assistant_role = "", "", ""

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        super().__init__(stream, options)
        self.system = options.system

    def row(self, record: Record) -> dict[str, Any]:
        role, content = self.role_key, self.content_key
        system = "\n".join(filter(None, (self.system, record.reasoning)))
        turns = [{role: self.system_role, content: system}] if system else []
        turns.append({role: self.user_role, content: prompt_of(record)})
        turns.append({role: self.assistant_role, content: record.output})
        return {self.column: turns}

    @classmethod
    def dataset_info(cls) -> dict[str, Any]:
        """The LLaMA-Factory entry: ``sharegpt`` formatting with this writer's keys and roles."""
        return {
            "formatting": "sharegpt",
            "columns": {"messages": cls.column},
            "tags": {
                "role_tag": cls.role_key,
                "content_tag": cls.content_key,
                "user_tag": cls.user_role,
                "assistant_tag": cls.assistant_role,
                "system_tag": cls.system_role,
            },
        }


class ShareGptWriter(_ChatWriter):
    """``{"conversations": [{"from": "system"|"human"|"gpt", "value": ...}, ...]}``."""

    schema_name = "sharegpt"
    column = "conversations"
    role_key, content_key = "from", "value"
    system_role, user_role, assistant_role = "system", "human", "gpt"


class MessagesWriter(_ChatWriter):
    """``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}``."""

    schema_name = "messages"
    column = "messages"
    role_key, content_key = "role", "content"
    system_role, user_role, assistant_role = "system", "user", "assistant"


class AlpacaWriter(_ShapedLines):
    """Plain Alpaca records; ``--keep-tags`` adds ``seq``, ``reasoning`` and ``tags``."""

    def __init__(self, stream: BinaryIO, options: WriterOptions) -> None:
        super().__init__(stream, options)
        self.schema = "alpaca-out-tags" if options.keep_tags else "alpaca-out"

    def row(self, record: Record) -> dict[str, Any]:
        row: dict[str, Any] = {
            "instruction": record.instruction,
            "input": record.input,
            "output": record.output,
        }
        if self.keep_tags:
            row.update(seq=record.seq, reasoning=record.reasoning, tags=record.tags)
        return row


@hookimpl
def register_writers(register: Callable[[WriterSpec], None]) -> None:
    """Register ``template``, ``template-text``, ``prompt-completion``, ``sharegpt``,
    ``messages`` and ``alpaca``."""
    template, chat = TEMPLATE_OPTIONS, frozenset({"system"})
    for spec in (
        WriterSpec("template", (), TemplateWriter, "prompt template, JSON Lines", template, TEXT),
        WriterSpec("template-text", (".txt",), TemplateTextWriter, "prompt template", template),
        WriterSpec("prompt-completion", (), PromptCompletionWriter, "TRL pairs", template),
        WriterSpec("sharegpt", (), ShareGptWriter, "ShareGPT", chat, ShareGptWriter.dataset_info()),
        WriterSpec(
            "messages", (), MessagesWriter, "chat messages", chat, MessagesWriter.dataset_info()
        ),
        WriterSpec("alpaca", (), AlpacaWriter, "plain Alpaca records", dataset_info=ALPACA),
    ):
        register(spec)
