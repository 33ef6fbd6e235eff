"""The exported JSONL, as is (OpenAI's fine-tuning formats), turned into what TRL trains on.

Supervised lines `{"messages": [...]}` become pre-tokenised examples `{input_ids, labels}`:
labels are -100 (ignored by the loss) everywhere except on the assistant turns, and never on an
assistant turn with `"weight": 0`. OpenAI's format defines that weight (0 or 1 on assistant
messages: 0 means "context, do not learn this reply"); TRL ignores it, and TRL's own
`assistant_only_loss` needs a chat template with `{% generation %}` markers, which SmolLM2's and
most others lack. So the turns are found here from the chat template itself: the text of an
assistant turn is what rendering the conversation up to and including it adds to rendering it
up to the generation prompt before it. That works for any template that renders a
conversation's beginning the same way whatever follows, which chat templates do so that a
model's reply can be appended to its prompt.

Preference lines `{"input": {"messages"}, "preferred_output": [...], "non_preferred_output":
[...]}` become TRL's conversational preference rows `{prompt, chosen, rejected}`.

No torch here: the functions take any Hugging Face tokenizer with a chat template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scheduler.training.lora.errors import WorkerFailure

IGNORE_INDEX = -100  # what PyTorch's cross-entropy and TRL skip


class TrainingFileError(WorkerFailure):
    """A line the worker cannot train on; the message names the file and the line."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_training_file", message)


class ChatTokenizer(Protocol):
    """The part of a transformers tokenizer used here."""

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...

    def __call__(self, text: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class SftExample:
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


@dataclass(frozen=True)
class SftDataset:
    examples: list[SftExample]
    #: Lines with no assistant token left once cut to max_length (TRL drops these as well).
    dropped: int


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; TrainingFileError for a line that is not
    a JSON object."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingFileError(f"{path.name} line {number}: not JSON: {exc.msg}") from exc
            if not isinstance(value, dict):
                raise TrainingFileError(f"{path.name} line {number}: not a JSON object")
            yield number, value


def chat_messages(messages: Any, where: str) -> list[dict[str, str]]:
    """Messages as a chat template takes them: role and content (and name when given), without
    OpenAI's `weight`. TrainingFileError when a message has no text role and content."""
    if not isinstance(messages, list) or not messages:
        raise TrainingFileError(f"{where}: expected a non-empty list of messages")
    plain = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TrainingFileError(f"{where}[{index}]: a message must be an object")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise TrainingFileError(f"{where}[{index}]: role and content must be strings")
        entry = {"role": role, "content": content}
        if isinstance(message.get("name"), str):
            entry["name"] = message["name"]
        plain.append(entry)
    return plain


def _render(tokenizer: ChatTokenizer, messages: Sequence[dict[str, str]], *, prompt: bool) -> str:
    if not messages and not prompt:
        return ""
    return str(
        tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=prompt)
    )


def trained_spans(
    tokenizer: ChatTokenizer, messages: Sequence[dict[str, Any]], where: str = "messages"
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans [start, end) to learn: each assistant
    turn whose weight is not 0, from after its role header to the end of the turn as the
    template writes it (its end-of-turn token included, so the model learns to stop).

    Raises TrainingFileError when the template renders a conversation's beginning differently
    depending on what follows (the turns cannot be located then).
    """
    plain = chat_messages(list(messages), where)
    text = _render(tokenizer, plain, prompt=False)
    spans: list[tuple[int, int]] = []
    for index, message in enumerate(messages):
        if message.get("role") != "assistant" or message.get("weight", 1) == 0:
            continue
        through = _render(tokenizer, plain[: index + 1], prompt=False)
        if not text.startswith(through):
            raise TrainingFileError(
                f"{where}[{index}]: the chat template renders the conversation up to this turn "
                "differently from the whole conversation, so its tokens cannot be located"
            )
        end = len(through)
        start = _turn_start(tokenizer, plain, index, text, end)
        if start is None:
            raise TrainingFileError(
                f"{where}[{index}]: the assistant's reply is not found where the chat template "
                "renders it"
            )
        spans.append((start, end))
    return text, spans


def _turn_start(
    tokenizer: ChatTokenizer, plain: list[dict[str, str]], index: int, text: str, end: int
) -> int | None:
    """Where the reply of assistant turn `index` starts in `text`: after the generation prompt
    when that is a prefix (the usual case), else where its content is found after the
    previous turns (a template that adds a default system prompt only before a first user
    turn, say)."""
    if index > 0:
        head = _render(tokenizer, plain[:index], prompt=True)
        if text.startswith(head) and len(head) <= end:
            return len(head)
    before = _render(tokenizer, plain[:index], prompt=False)
    floor = len(before) if text.startswith(before) else 0
    found = text.find(plain[index]["content"].strip(), floor, end)
    return found if found >= 0 else None


def sft_example(
    tokenizer: ChatTokenizer,
    messages: Sequence[dict[str, Any]],
    max_length: int,
    where: str = "messages",
) -> SftExample | None:
    """Token ids and labels of one conversation, cut to `max_length` tokens (keeping the
    start, like TRL's `truncation_mode="keep_start"`); None when no token to learn is left.

    A token is learned when its first character lies in a span of `trained_spans`; labels
    equal input_ids there and are IGNORE_INDEX elsewhere.
    """
    text, spans = trained_spans(tokenizer, messages, where)
    # add_special_tokens=False: the template already wrote any BOS (TRL does the same).
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids = list(encoded["input_ids"])[:max_length]
    offsets = list(encoded["offset_mapping"])[:max_length]
    labels = [
        token if any(start <= first < end for start, end in spans) else IGNORE_INDEX
        for token, (first, _last) in zip(input_ids, offsets, strict=True)
    ]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return SftExample(input_ids=input_ids, labels=labels)


def sft_dataset(tokenizer: ChatTokenizer, path: Path, max_length: int) -> SftDataset:
    """Every supervised line of `path` as an `SftExample`; TrainingFileError for a line that is
    not `{"messages": [...]}` or has no assistant turn to learn."""
    examples: list[SftExample] = []
    dropped = 0
    for number, line in read_jsonl(path):
        where = f"{path.name} line {number}: messages"
        if "messages" not in line:
            raise TrainingFileError(
                f"{path.name} line {number}: no 'messages' (a preference line in a supervised job?)"
            )
        messages = line["messages"]
        chat_messages(messages, where)
        if not any(m.get("role") == "assistant" and m.get("weight", 1) != 0 for m in messages):
            raise TrainingFileError(f"{where}: no assistant message to learn (weight 1)")
        example = sft_example(tokenizer, messages, max_length, where)
        if example is None:
            dropped += 1
        else:
            examples.append(example)
    return SftDataset(examples=examples, dropped=dropped)


def preference_row(line: dict[str, Any], where: str) -> dict[str, list[dict[str, str]]]:
    """OpenAI's DPO line -> TRL's conversational preference row {prompt, chosen, rejected}."""
    prompt = line.get("input")
    if not isinstance(prompt, dict):
        raise TrainingFileError(f"{where}: no 'input' object (a supervised line in a DPO job?)")
    return {
        "prompt": chat_messages(prompt.get("messages"), f"{where}: input.messages"),
        "chosen": chat_messages(line.get("preferred_output"), f"{where}: preferred_output"),
        "rejected": chat_messages(
            line.get("non_preferred_output"), f"{where}: non_preferred_output"
        ),
    }


def preference_rows(path: Path) -> list[dict[str, list[dict[str, str]]]]:
    return [preference_row(line, f"{path.name} line {number}") for number, line in read_jsonl(path)]
