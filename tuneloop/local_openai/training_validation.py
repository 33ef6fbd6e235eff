"""OpenAI's checks of a fine-tuning file, and the examples a valid file teaches.

Two line formats are accepted, as OpenAI documents them:

- supervised (`fine-tune-chat`): `{"messages": [{"role": ..., "content": ...}, ...]}`; every
  assistant message with weight 1 (the default) is a target for the user message before it.
- preference (DPO): `{"input": {"messages": [...]}, "preferred_output": [assistant message],
  "non_preferred_output": [assistant message]}` (the 2025-05-20 spec spells the last two
  `preferred_completion` / `non_preferred_completion`; both spellings are read).

A line is checked by the same rules as tuneloop's own doors (`curation.chat_format`: import,
review approval and export), so a file that tuneloop exports is a file this stand-in accepts,
and a line it refuses would have been refused at the door. Failures carry OpenAI's error codes
(`invalid_training_file` with the example number and the broken rule, `invalid_n_examples`
below 10 examples) so the job can fail with them asynchronously.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from curation.chat_format import check_dpo_line, check_sft_line, dpo_outputs, message_text
from curation.tokens import line_tokens
from tuneloop.local_openai.tokens import count_text

MIN_EXAMPLES = 10

FileFormat = Literal["chat", "preference", "prompt_completion", "unknown"]
Method = Literal["supervised", "dpo"]

_FORMAT_NAMES = {"chat": "fine-tune-chat", "preference": "preference"}
_METHOD_FOR_FORMAT: dict[str, Method] = {"chat": "supervised", "preference": "dpo"}


@dataclass(frozen=True)
class Example:
    """One thing a file teaches: for `prompt`, answer `answer`, and never `rejected`."""

    prompt: str
    answer: str
    rejected: str | None = None

    def to_json(self) -> list[str | None]:
        return [self.prompt, self.answer, self.rejected]

    @classmethod
    def from_json(cls, row: Sequence[str | None]) -> Example:
        return cls(str(row[0]), str(row[1]), row[2])


@dataclass(frozen=True)
class TrainingData:
    """A file that passed validation."""

    format: FileFormat
    n_examples: int
    tokens: int
    examples: list[Example]


class TrainingFileError(Exception):
    """A file OpenAI would reject; `code`, `message` and `param` become the job's `error`."""

    def __init__(self, code: str, message: str, param: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param

    def as_job_error(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "param": self.param}


class _LineError(Exception):
    """A problem with one example, worded as OpenAI words it (without the file-level prefix)."""


def validate_training_file(
    content: bytes,
    *,
    file_id: str,
    method: Method,
    encoding: str,
    param: Literal["training_file", "validation_file"] = "training_file",
    min_examples: int = MIN_EXAMPLES,
) -> TrainingData:
    """Check a file as OpenAI does for `method`; raise `TrainingFileError` if it would fail.
    `min_examples` is OpenAI's minimum for a training file unless another provider's is given."""
    kind = "training" if param == "training_file" else "validation"
    code = f"invalid_{kind}_file"
    prefix = f"The job failed due to an invalid {kind} file. "

    def fail(message: str) -> TrainingFileError:
        return TrainingFileError(code, prefix + message, param)

    try:
        lines = list(_json_lines(content))
    except _LineError as error:
        raise fail(str(error)) from None

    file_format: FileFormat = _detect_format(lines[0]) if lines else "chat"
    if file_format == "prompt_completion":
        raise fail(
            f"Invalid file format. Input file {file_id} is in the prompt-completion format, "
            "which chat models cannot be fine-tuned on; use the chat format "
            '({"messages": [...]}).'
        )
    if file_format == "unknown":
        raise fail(
            "Unexpected file format, expected either prompt/completion pairs or chat messages."
        )
    if _METHOD_FOR_FORMAT[file_format] != method:
        raise fail(
            f"Invalid file format. Input file {file_id} is in the {_FORMAT_NAMES[file_format]} "
            "format, but the specified fine-tuning job is not using "
            f"'{_METHOD_FOR_FORMAT[file_format]}' as the training method "
            f"(provided method={method})."
        )

    examples: list[Example] = []
    tokens = 0
    for number, line in enumerate(lines, start=1):
        try:
            if file_format == "chat":
                taught, messages = _chat_example(line, number)
            else:
                taught, messages = _preference_example(line, number)
        except _LineError as error:
            raise fail(f"Invalid file format. {error}") from None
        examples.extend(taught)
        tokens += line_tokens(
            messages,
            lambda text: count_text(text, encoding),
            tools=_tools(line),
            encoding_name=encoding,
        )

    if param == "training_file" and len(lines) < min_examples:
        raise TrainingFileError(
            "invalid_n_examples",
            f"Training file has {len(lines)} example(s), but must have at least "
            f"{min_examples} examples",
            param,
        )
    return TrainingData(file_format, len(lines), tokens, examples)


def _json_lines(content: bytes) -> Iterator[Any]:
    """Each line as JSON; trailing blank lines are fine, any other non-object line is not."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise _LineError("Invalid file format. The file is not UTF-8 encoded text.") from None
    raw_lines = text.split("\n")
    while raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()
    for number, raw in enumerate(raw_lines, start=1):
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise _LineError(
                "Expected file to have JSONL format, where every line is a valid JSON "
                f"dictionary. Line {number} is not a dictionary."
            )
        yield value


def _detect_format(line: Mapping[str, Any]) -> FileFormat:
    if "messages" in line:
        return "chat"
    if "input" in line and ("preferred_output" in line or "preferred_completion" in line):
        return "preference"
    if "prompt" in line and "completion" in line:
        return "prompt_completion"
    return "unknown"


def _tools(line: Mapping[str, Any]) -> list[Any]:
    holder = line.get("input", line)
    return [*holder.get("tools", ()), *holder.get("functions", ())]


def _refuse(problems: list[Any], number: int) -> None:
    if problems:
        raise _LineError(f"Example {number}: {problems[0]}")


def _chat_example(
    line: Mapping[str, Any], number: int
) -> tuple[list[Example], list[Mapping[str, Any]]]:
    if "messages" not in line:
        raise _LineError(f"Example {number}: Missing required key 'messages'.")
    _refuse(check_sft_line(line), number)
    messages = list(line["messages"])
    taught: list[Example] = []
    last_user: str | None = None
    for message in messages:
        role = message["role"]
        if role == "user":
            last_user = message_text(message.get("content"))
        elif role == "assistant" and message.get("weight", 1) == 1:
            answer = message_text(message.get("content"))
            if last_user is not None and answer:
                taught.append(Example(last_user, answer))
    return taught, messages


def _preference_example(
    line: Mapping[str, Any], number: int
) -> tuple[list[Example], list[Mapping[str, Any]]]:
    _refuse(check_dpo_line(line), number)
    messages = list(line["input"]["messages"])
    preferred, rejected = (output[0] for output in dpo_outputs(line))
    user_turns = [m for m in messages if m["role"] == "user"]
    prompt = message_text(user_turns[-1].get("content")) if user_turns else ""
    taught = [
        Example(
            prompt, message_text(preferred.get("content")), message_text(rejected.get("content"))
        )
    ]
    return taught, [*messages, preferred, rejected]
