"""OpenAI's chat fine-tuning format: the checks from OpenAI's cookbook, named by rule.

One validator serves every door into the store (seed import, bulk import, review approval) and
the way out (export), so a line that passes here is a line OpenAI accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KNOWN_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
KNOWN_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight"}
)
PROMPT_ROLES = frozenset({"system", "developer", "user", "assistant"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule. `rule` is the cookbook's name for it; `where` points into the line."""

    rule: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.where}: {self.detail}"


def _plainly_valid(message: Any) -> bool:
    """A quick test that most messages pass: a plain dict with only known keys, a known role
    and text that is not blank. A message that passes has nothing for `_check_message` to
    report; one that does not goes to `_check_message`, which names what is wrong."""
    if type(message) is not dict or not message.keys() <= KNOWN_MESSAGE_KEYS:
        return False
    role, content = message.get("role"), message.get("content")
    return (
        type(role) is str
        and role in KNOWN_ROLES
        and type(content) is str
        and content != ""
        and not content.isspace()  # what strip() removes; stops at the first other character
        and message.get("weight", 0) in (0, 1)
    )


def _check_message(message: Any, where: str) -> list[Problem]:
    if not isinstance(message, Mapping):
        return [Problem("data_type", where, "a message must be an object")]
    problems: list[Problem] = []
    for key in ("role", "content"):
        if key not in message and not (key == "content" and "tool_calls" in message):
            problems.append(Problem("message_missing_key", where, f"missing {key!r}"))
    unknown = sorted(set(message) - KNOWN_MESSAGE_KEYS)
    if unknown:
        problems.append(Problem("message_unrecognized_key", where, f"unknown keys {unknown}"))
    role = message.get("role")
    # isinstance first: a list or an object as the role is unhashable and not a role either.
    if "role" in message and (not isinstance(role, str) or role not in KNOWN_ROLES):
        problems.append(Problem("unrecognized_role", where, f"role {role!r} is not known"))
    if "content" in message:
        content = message["content"]
        if not isinstance(content, str):
            problems.append(Problem("missing_content", where, "content must be a string"))
        elif not content.strip():
            problems.append(Problem("missing_content", where, "content is empty"))
    if "weight" in message and message["weight"] not in (0, 1):
        problems.append(Problem("invalid_weight", where, "weight must be 0 or 1"))
    return problems


def check_messages(messages: Any, where: str = "messages") -> list[Problem]:
    """Structural checks of a list of chat messages."""
    if not isinstance(messages, list):
        return [Problem("missing_messages_list", where, "'messages' must be a list")]
    if not messages:
        return [Problem("missing_messages_list", where, "'messages' is empty")]
    if all(map(_plainly_valid, messages)):
        return []
    problems: list[Problem] = []
    for index, message in enumerate(messages):
        problems.extend(_check_message(message, f"{where}[{index}]"))
    return problems


def check_sft_line(line: Any) -> list[Problem]:
    """A supervised line: `{"messages": [...]}` with at least one assistant message."""
    if not isinstance(line, Mapping):
        return [Problem("data_type", "line", "each line must be a JSON object")]
    if "messages" not in line:
        return [Problem("missing_messages_list", "line", "no 'messages' key")]
    problems = check_messages(line["messages"])
    # From the end: the assistant's reply is usually the last message.
    if not problems and not any(m.get("role") == "assistant" for m in reversed(line["messages"])):
        problems.append(
            Problem("example_missing_assistant_message", "messages", "no assistant message")
        )
    return problems


def check_prompt(messages: Any, where: str = "messages") -> list[Problem]:
    """Prompt messages of an example: valid messages ending with the user's turn."""
    problems = check_messages(messages, where)
    if problems:
        return problems
    for index, message in enumerate(messages):
        if message["role"] not in PROMPT_ROLES:
            problems.append(
                Problem("unrecognized_role", f"{where}[{index}]", "prompts hold no tool calls")
            )
    if messages[-1]["role"] != "user":
        problems.append(Problem("prompt_not_ending_with_user", where, "last message must be user"))
    return problems


def _check_output(output: Any, where: str) -> list[Problem]:
    if not isinstance(output, list) or len(output) != 1:
        return [Problem("invalid_output", where, "must be a list of exactly one message")]
    problems = [] if _plainly_valid(output[0]) else _check_message(output[0], f"{where}[0]")
    if not problems and output[0].get("role") != "assistant":
        problems.append(Problem("invalid_output", f"{where}[0]", "role must be 'assistant'"))
    return problems


def check_dpo_line(line: Any) -> list[Problem]:
    """A preference line: input messages, one preferred and one non-preferred reply."""
    if not isinstance(line, Mapping):
        return [Problem("data_type", "line", "each line must be a JSON object")]
    problems: list[Problem] = []
    prompt = line.get("input")
    if not isinstance(prompt, Mapping) or "messages" not in prompt:
        problems.append(Problem("missing_messages_list", "input", "no 'input.messages'"))
    else:
        problems.extend(check_prompt(prompt["messages"], "input.messages"))
    problems.extend(_check_output(line.get("preferred_output"), "preferred_output"))
    problems.extend(_check_output(line.get("non_preferred_output"), "non_preferred_output"))
    if not problems and (
        line["preferred_output"][0]["content"] == line["non_preferred_output"][0]["content"]
    ):
        problems.append(
            Problem("identical_outputs", "preferred_output", "preferred equals non-preferred")
        )
    return problems


def split_chat_line(line: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """An SFT line -> (prompt messages, target reply): the last message is the target.

    Raises ValueError when the line does not end with an assistant message.
    """
    messages = list(line["messages"])
    last = messages[-1]
    if last.get("role") != "assistant" or not isinstance(last.get("content"), str):
        raise ValueError("the last message must be the assistant's reply (the target)")
    prompt = [{"role": m["role"], "content": m["content"]} for m in messages[:-1]]
    return prompt, last["content"]
