"""A training line taken apart the way the store keeps it, and put together again for export.

The store keeps an example as prompt messages (`Example.messages`), the text of the trained
reply (`Example.target`) and of the rejected one (`Example.rejected`), and, only where a line has
more than that, `Example.line_fields`:

- `target` / `rejected`: the whole reply message when it is more than `role` and text content
  (text parts, `tool_calls`, `name`, an explicit `weight`);
- `after`: messages after the trained reply (a supervised line may go on past it);
- `tools`, `parallel_tool_calls`, `functions`: the line's own fields in OpenAI's format.

Which assistant turns are trained: the target, always; an earlier assistant turn of the prompt
only when it says `"weight": 1`. Every other earlier assistant turn is context and is written
with `"weight": 0`, so the flagged first answer of a Slack thread is never trained because a
later answer in the same thread was approved. A DPO line's `input` is the prompt, which ends
with a user, tool or function message (checked at every door), never with an assistant turn.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from curation.chat_format import (
    DPO_INPUT_FIELDS,
    SFT_FIELDS,
    dpo_outputs,
    message_text,
    target_index,
)

#: Keys of `Example.line_fields`.
LINE_FIELD_KEYS = frozenset({"target", "rejected", "after", *SFT_FIELDS})


@dataclass(slots=True)
class TrainingLine:
    """One example in parts. `target` and `rejected` are assistant messages. (Not frozen: a
    frozen dataclass's __init__ costs several times more, and export makes one per row.)"""

    prompt: list[dict[str, Any]]
    target: dict[str, Any]
    rejected: dict[str, Any] | None = None
    after: list[dict[str, Any]] = field(default_factory=list)
    #: `tools`, `parallel_tool_calls`, `functions`, as the line gave them.
    fields: dict[str, Any] = field(default_factory=dict)

    # --- from a checked line ---------------------------------------------------------------------

    @classmethod
    def from_sft_line(cls, line: Mapping[str, Any]) -> TrainingLine:
        """A supervised line that `check_sft_line` passed: split at its last trained reply."""
        messages = [dict(m) for m in line["messages"]]
        index = target_index(messages)
        if index is None:
            raise ValueError("the line trains no assistant message")
        return cls(
            prompt=messages[:index],
            target=messages[index],
            after=messages[index + 1 :],
            fields={name: line[name] for name in SFT_FIELDS if name in line},
        )

    @classmethod
    def from_dpo_line(cls, line: Mapping[str, Any]) -> TrainingLine:
        """A preference line that `check_dpo_line` passed."""
        preferred, rejected = dpo_outputs(line)
        prompt = line["input"]
        return cls(
            prompt=[dict(m) for m in prompt["messages"]],
            target=dict(preferred[0]),
            rejected=dict(rejected[0]),
            fields={name: prompt[name] for name in DPO_INPUT_FIELDS if name in prompt},
        )

    # --- to and from the store -------------------------------------------------------------------

    @classmethod
    def from_stored(
        cls,
        messages: list[dict[str, Any]],
        target: str,
        rejected: str | None,
        line_fields: Mapping[str, Any] | None,
    ) -> TrainingLine:
        """The parts of a stored example (its columns)."""
        if not line_fields:  # the usual example: prompt and reply
            return cls(messages, _plain(target), None if rejected is None else _plain(rejected))
        extra = line_fields
        return cls(
            prompt=messages,
            target=extra.get("target") or _plain(target),
            rejected=extra.get("rejected") or (None if rejected is None else _plain(rejected)),
            after=list(extra.get("after") or ()),
            fields={name: extra[name] for name in SFT_FIELDS if name in extra},
        )

    @property
    def target_text(self) -> str:
        return reply_text(self.target)

    @property
    def rejected_text(self) -> str | None:
        return None if self.rejected is None else reply_text(self.rejected)

    def line_fields(self) -> dict[str, Any] | None:
        """What `Example.line_fields` holds for this line, or None when the columns say it all."""
        stored: dict[str, Any] = dict(self.fields)
        if not _is_plain(self.target):
            stored["target"] = self.target
        if self.rejected is not None and not _is_plain(self.rejected):
            stored["rejected"] = self.rejected
        if self.after:
            stored["after"] = self.after
        return stored or None

    # --- lines for export ------------------------------------------------------------------------

    def sft_line(self) -> dict[str, Any]:
        """OpenAI's supervised line: earlier assistant turns get an explicit weight (0 unless
        stored as 1), the target keeps its own keys."""
        line: dict[str, Any] = {
            "messages": [*map(_weighted, self.prompt), dict(self.target), *map(dict, self.after)]
        }
        line.update(self.fields)
        return line

    def dpo_line(self) -> dict[str, Any]:
        """OpenAI's preference line. An output message has no `weight` in OpenAI's schema (both
        outputs are trained against each other), so the target's is not written."""
        prompt: dict[str, Any] = {"messages": [dict(m) for m in self.prompt]}
        prompt.update({name: self.fields[name] for name in DPO_INPUT_FIELDS if name in self.fields})
        if self.rejected is None:
            raise ValueError("a preference line needs a rejected reply")
        return {
            "input": prompt,
            "preferred_output": [_without_weight(self.target)],
            "non_preferred_output": [_without_weight(self.rejected)],
        }


def _plain(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def _is_plain(message: Mapping[str, Any]) -> bool:
    return len(message) == 2 and isinstance(message.get("content"), str) and "role" in message


def _weighted(message: Mapping[str, Any]) -> dict[str, Any]:
    if message.get("role") != "assistant":
        return dict(message)
    return {**message, "weight": 1 if message.get("weight") == 1 else 0}


def _without_weight(message: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key != "weight"}


def request_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored prompt messages as a chat request takes them: `weight` is a key of the training
    format only (a chat request with it is refused as an unexpected property)."""
    return [_without_weight(m) if "weight" in m else m for m in messages]


def reply_text(message: Mapping[str, Any]) -> str:
    """The text a reply stands for, in the store and in evaluation: its content's text, or
    its calls written out (`lookup_ticket({"id": "4512"})`) when it has no text."""
    text = message_text(message.get("content"))
    if text.strip():
        return text
    calls = [
        call.get("function", {})
        for call in message.get("tool_calls") or ()
        if isinstance(call, dict)
    ]
    if isinstance(message.get("function_call"), Mapping):
        calls.append(message["function_call"])
    return "\n".join(f"{c.get('name')}({c.get('arguments')})" for c in calls) or text


def canonical(value: Any) -> str:
    """A JSON value as canonical text (sorted keys), for hashing."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
