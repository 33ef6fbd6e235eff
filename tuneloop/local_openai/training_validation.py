"""OpenAI's checks of a fine-tuning file, and the examples a valid file teaches.

Two line formats are accepted, as OpenAI documents them:

- supervised (`fine-tune-chat`): `{"messages": [{"role": ..., "content": ...}, ...]}`; every
  assistant message with weight 1 (the default) is a target for the user message before it.
- preference (DPO): `{"input": {"messages": [...]}, "preferred_output": [assistant message],
  "non_preferred_output": [assistant message]}` (the 2025-05-20 spec spells the last two
  `preferred_completion` / `non_preferred_completion`; both spellings are read).

Failures carry OpenAI's error codes and wording (`invalid_training_file` with the example
number, `invalid_n_examples` below 10 examples) so the job can fail with them asynchronously.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tuneloop.local_openai.tokens import count_messages, message_text

MIN_EXAMPLES = 10

FileFormat = Literal["chat", "preference", "prompt_completion", "unknown"]
Method = Literal["supervised", "dpo"]

_ROLES = ("system", "user", "assistant", "tool", "function")
_ROLES_TEXT = ", ".join(f"'{role}'" for role in _ROLES)
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
) -> TrainingData:
    """Check a file as OpenAI does for `method`; raise `TrainingFileError` if it would fail."""
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
        tokens += count_messages(messages, encoding)

    if param == "training_file" and len(lines) < MIN_EXAMPLES:
        raise TrainingFileError(
            "invalid_n_examples",
            f"Training file has {len(lines)} example(s), but must have at least "
            f"{MIN_EXAMPLES} examples",
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


def _chat_example(
    line: Mapping[str, Any], number: int
) -> tuple[list[Example], list[Mapping[str, Any]]]:
    if "messages" not in line:
        raise _LineError(f"Example {number}: Missing required key 'messages'.")
    messages = _checked_messages(line["messages"], number, "messages")
    taught: list[Example] = []
    last_user: str | None = None
    for index, message in enumerate(messages, start=1):
        role = message["role"]
        if role == "user":
            last_user = message_text(message.get("content"))
        elif role == "assistant":
            weight = message.get("weight", 1)
            if weight not in (0, 1) or isinstance(weight, bool):
                raise _LineError(
                    f"Example {number}, message {index}: 'weight' must be 0 or 1, got {weight!r}."
                )
            answer = message_text(message.get("content"))
            if weight == 1 and last_user is not None and answer:
                taught.append(Example(last_user, answer))
    if not any(m["role"] == "assistant" and m.get("weight", 1) == 1 for m in messages):
        raise _LineError(
            f"Example {number}: it has no assistant message with weight 1, so there is "
            "nothing to train on."
        )
    return taught, messages


def _preference_example(
    line: Mapping[str, Any], number: int
) -> tuple[list[Example], list[Mapping[str, Any]]]:
    prompt_input = line.get("input")
    if not isinstance(prompt_input, Mapping) or "messages" not in prompt_input:
        raise _LineError(f"Example {number}: Missing required key 'input.messages'.")
    messages = _checked_messages(prompt_input["messages"], number, "input.messages")
    preferred = _single_output(line, number, "preferred_output", "preferred_completion")
    rejected = _single_output(line, number, "non_preferred_output", "non_preferred_completion")
    user_turns = [m for m in messages if m["role"] == "user"]
    if not user_turns:
        raise _LineError(f"Example {number}: 'input.messages' has no user message.")
    prompt = message_text(user_turns[-1].get("content"))
    taught = [
        Example(prompt, message_text(preferred["content"]), message_text(rejected["content"]))
    ]
    return taught, [*messages, preferred, rejected]


def _single_output(line: Mapping[str, Any], number: int, key: str, alias: str) -> Mapping[str, Any]:
    value = line.get(key, line.get(alias))
    if value is None:
        raise _LineError(f"Example {number}: Missing required key '{key}'.")
    if (
        not isinstance(value, list)
        or len(value) != 1
        or not isinstance(value[0], Mapping)
        or value[0].get("role") != "assistant"
        or not isinstance(value[0].get("content"), str)
        or not value[0]["content"]
    ):
        raise _LineError(
            f"Example {number}: '{key}' must be a list holding exactly one assistant message "
            "with text content."
        )
    return value[0]


def _checked_messages(value: Any, number: int, key: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not value:
        raise _LineError(f"Example {number}: '{key}' must be a non-empty list of messages.")
    for index, message in enumerate(value, start=1):
        where = f"Example {number}, message {index}"
        if not isinstance(message, Mapping):
            raise _LineError(f"{where}: a message must be a JSON object.")
        if "role" not in message:
            raise _LineError(f"{where} Discriminator 'role' is missing in value")
        role = message["role"]
        if role not in _ROLES:
            raise _LineError(
                f"{where} Input tag '{role}' found using 'role' does not match any of the "
                f"expected tags: {_ROLES_TEXT}"
            )
        content = message.get("content")
        has_calls = bool(message.get("tool_calls") or message.get("function_call"))
        if content is None and role == "assistant" and has_calls:
            continue
        if isinstance(content, str):
            if role in ("user", "system") and not content.strip():
                raise _LineError(f"{where}: 'content' must not be empty.")
            continue
        if (
            isinstance(content, list)
            and content
            and all(isinstance(part, Mapping) and "type" in part for part in content)
        ):
            continue
        raise _LineError(
            f"{where}: 'content' must be a string or a non-empty list of content parts."
        )
    return list(value)
