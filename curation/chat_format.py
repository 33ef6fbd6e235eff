"""OpenAI's chat fine-tuning format: one verdict for a line, at every door.

The rules are those of OpenAI's training-line schemas (`FineTuneChatRequestInput` for the
supervised method and `FineTunePreferenceRequestInput` for DPO, in OpenAI's OpenAPI description
of 2025-05-20, the last to carry them), the checks of OpenAI's cookbook ("Data preparation and
analysis for chat model fine-tuning"), and a few of tuneloop's own, each refused by name:

- roles: `system`, `user`, `assistant`, `tool`, `function`. There is no `developer` role in
  OpenAI's training format (a file holding one fails the job as `invalid_training_file`), so it
  is refused at the door with that reason.
- `content`: a string, or a list of text parts (`{"type": "text", "text": ...}`); an assistant
  message may have none when it carries `tool_calls` or `function_call`. Image, audio and file
  parts are refused: tuneloop trains text.
- message keys: `name` (system, user, assistant, function), `tool_calls`, `function_call`,
  `refusal` and `weight` (assistant), `tool_call_id` (tool). `weight` is 0 or 1, and only on
  assistant messages. Any other key is refused by name: nothing is dropped silently.
- line keys: `messages`, `tools`, `parallel_tool_calls`, `functions` (supervised); `input`
  (`messages`, `tools`, `parallel_tool_calls`), `preferred_output`, `non_preferred_output`
  (DPO; the 2025-05-20 spelling `preferred_completion` / `non_preferred_completion` is read too).
- tuneloop's own: a supervised line trains at least one assistant message; the trained reply
  that ends it (the target) answers a user, tool or function message; a DPO `input` ends with
  such a message too, never with an assistant turn; no text holds an unpaired UTF-16 surrogate
  (JSON allows the escape, UTF-8 cannot encode it).

Import, review approval, export and the OpenAI stand-in's job validation all call these
functions, so each of them accepts and refuses the same lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TRAINING_ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
#: Keys each role's message may carry in OpenAI's training format.
MESSAGE_KEYS: dict[str, frozenset[str]] = {
    "system": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset(
        {"role", "content", "name", "tool_calls", "function_call", "refusal", "weight"}
    ),
    "tool": frozenset({"role", "content", "tool_call_id"}),
    "function": frozenset({"role", "content", "name"}),
}
KNOWN_MESSAGE_KEYS = frozenset().union(*MESSAGE_KEYS.values())
#: Line-level keys of a supervised line besides `messages`.
SFT_FIELDS = ("tools", "parallel_tool_calls", "functions")
_SFT_KEYS = frozenset({"messages", *SFT_FIELDS})
#: Keys of a DPO line's `input` besides `messages`.
DPO_INPUT_FIELDS = ("tools", "parallel_tool_calls")
#: (the current spelling, the 2025-05-20 spelling) of a DPO line's two outputs.
DPO_OUTPUTS = (
    ("preferred_output", "preferred_completion"),
    ("non_preferred_output", "non_preferred_completion"),
)
#: A trained reply answers one of these.
ANSWERED_ROLES = frozenset({"user", "tool", "function"})
_UNSUPPORTED_KEYS = {
    "audio": "tuneloop trains text; audio replies are not kept",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule. `rule` is the cookbook's name for it where it has one; `where` points
    into the line (`messages[2].content`)."""

    rule: str
    where: str
    detail: str

    def __str__(self) -> str:
        text = f"{self.rule} at {self.where}: {self.detail}"
        # A key or value quoted from a bad line may hold an unpaired surrogate: escaped, so the
        # message itself can be printed and stored.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def message_text(content: Any) -> str:
    """The text of a message's `content`: a string, or its text parts joined by line breaks;
    '' for none."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def is_trained(message: Mapping[str, Any], *, default: int = 1) -> bool:
    """Whether an assistant message is trained on: its `weight`, or `default` without one."""
    return message.get("role") == "assistant" and message.get("weight", default) == 1


# --- messages ---------------------------------------------------------------------------------


def _plainly_valid(message: Any) -> bool:
    """A quick test that most messages pass: a plain dict with a known role, only `role`,
    `content` and a valid `weight` (assistant only), and text that is not blank. A message that
    passes has nothing for `_check_message` to report; one that does not goes to
    `_check_message`, which names what is wrong."""
    if type(message) is not dict:
        return False
    role, content = message.get("role"), message.get("content")
    if type(role) is not str or type(content) is not str or content == "" or content.isspace():
        return False  # isspace() stops at the first other character
    if "\x00" in content or (not content.isascii() and _lone_surrogate(content) is not None):
        return False
    if len(message) == 2:
        # tool and function messages need one more key (tool_call_id, name)
        return role in ("system", "user", "assistant")
    if len(message) == 3 and role == "assistant":
        weight = message.get("weight", 2)
        return type(weight) is int and weight in (0, 1)
    return False


def _lone_surrogate(text: str) -> int | None:
    """The offset of the first unpaired UTF-16 surrogate in `text`, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None


def check_text(text: str, where: str) -> list[Problem]:
    """A string that UTF-8 and the store can hold: no unpaired surrogate (`"\\ud83d"` alone is
    valid JSON) and no NUL character (PostgreSQL text cannot hold one)."""
    if "\x00" in text:
        return [Problem("invalid_text", where, f"NUL character at {text.index(chr(0))}")]
    offset = _lone_surrogate(text)
    if offset is None:
        return []
    return [
        Problem(
            "invalid_text",
            where,
            f"unpaired UTF-16 surrogate \\u{ord(text[offset]):04x} at character {offset}: "
            "not a character (half of an emoji cut in two?)",
        )
    ]


def check_strings(value: Any, where: str) -> list[Problem]:
    """`check_text` on every string inside a JSON value (names, arguments, tool schemas)."""
    if isinstance(value, str):
        return check_text(value, where)
    if isinstance(value, Mapping):
        return [
            p
            for key, item in value.items()
            for p in (check_text(key, where) if isinstance(key, str) else [])
            + check_strings(item, f"{where}.{key}")
        ]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in check_strings(item, f"{where}[{i}]")]
    return []


def _check_content(message: Mapping[str, Any], role: str, where: str) -> list[Problem]:
    at = f"{where}.content"
    has_calls = role == "assistant" and (
        message.get("tool_calls") is not None or message.get("function_call") is not None
    )
    if "content" not in message or message["content"] is None:
        if has_calls or (role == "function" and "content" in message):
            return []
        return [Problem("message_missing_key", where, "missing 'content'")]
    content = message["content"]
    if isinstance(content, str):
        if not content.strip() and not has_calls:
            return [Problem("missing_content", at, "content is empty")]
        return check_text(content, at)
    if not isinstance(content, list) or role == "function":
        kind = "a string" if role == "function" else "a string or a list of text parts"
        return [Problem("invalid_content", at, f"content must be {kind}")]
    if not content:
        return [Problem("invalid_content", at, "the list of content parts is empty")]
    problems: list[Problem] = []
    for index, part in enumerate(content):
        here = f"{at}[{index}]"
        if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
            problems.append(Problem("invalid_content", here, "a part is an object with a 'type'"))
        elif part["type"] != "text":
            problems.append(
                Problem(
                    "unsupported_content_part",
                    here,
                    f"{part['type']!r} parts are not trained by tuneloop (text parts only)",
                )
            )
        elif set(part) != {"type", "text"} or not isinstance(part["text"], str):
            problems.append(
                Problem("invalid_content", here, "a text part is {'type': 'text', 'text': str}")
            )
        else:
            problems.extend(check_text(part["text"], f"{here}.text"))
    if not problems and not message_text(content).strip() and not has_calls:
        problems.append(Problem("missing_content", at, "content is empty"))
    return problems


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _check_call(call: Any, where: str, *, with_id: bool) -> list[Problem]:
    """A tool call (`{"id", "type": "function", "function": {"name", "arguments"}}`) or a
    function call (`{"name", "arguments"}`)."""
    rule = "invalid_tool_calls" if with_id else "invalid_function_call"
    if with_id:
        if not isinstance(call, Mapping) or set(call) != {"id", "type", "function"}:
            return [Problem(rule, where, "a tool call is {'id', 'type', 'function'}")]
        if not _is_text(call["id"]) or call["type"] != "function":
            return [Problem(rule, where, "'id' must be text and 'type' must be 'function'")]
        call, where = call["function"], f"{where}.function"
    if (
        not isinstance(call, Mapping)
        or set(call) != {"name", "arguments"}
        or not _is_text(call["name"])
        or not isinstance(call["arguments"], str)
    ):
        return [Problem(rule, where, "a function call is {'name': str, 'arguments': str}")]
    return check_strings(call, where)


def _check_roles_fields(message: Mapping[str, Any], role: str, where: str) -> list[Problem]:
    problems: list[Problem] = []
    if "name" in message and not _is_text(message["name"]):
        problems.append(Problem("invalid_name", f"{where}.name", "name must be non-empty text"))
    if role == "function" and "name" not in message:
        problems.append(Problem("message_missing_key", where, "a function message needs 'name'"))
    if role == "tool" and not _is_text(message.get("tool_call_id")):
        problems.append(
            Problem("invalid_tool_call_id", where, "a tool message needs a 'tool_call_id'")
        )
    if "weight" in message:
        weight = message["weight"]
        # JSON true is not the integer 1 (OpenAI's schema: integer, enum [0, 1]).
        if type(weight) is not int or weight not in (0, 1):
            problems.append(
                Problem(
                    "invalid_weight", f"{where}.weight", f"weight must be 0 or 1, not {weight!r}"
                )
            )
    if "tool_calls" in message:
        calls = message["tool_calls"]
        if not isinstance(calls, list) or not calls:
            problems.append(
                Problem("invalid_tool_calls", f"{where}.tool_calls", "a non-empty list of calls")
            )
        else:
            for index, call in enumerate(calls):
                problems.extend(_check_call(call, f"{where}.tool_calls[{index}]", with_id=True))
    if "function_call" in message:
        problems.extend(
            _check_call(message["function_call"], f"{where}.function_call", with_id=False)
        )
    if "refusal" in message and message["refusal"] is not None:
        if not isinstance(message["refusal"], str):
            problems.append(Problem("invalid_refusal", f"{where}.refusal", "refusal is text"))
        else:
            problems.extend(check_text(message["refusal"], f"{where}.refusal"))
    return problems


def _check_message(message: Any, where: str) -> list[Problem]:
    if not isinstance(message, Mapping):
        return [Problem("data_type", where, "a message must be an object")]
    if "role" not in message:
        return [Problem("message_missing_key", where, "missing 'role'")]
    role = message["role"]
    # isinstance first: a list or an object as the role is unhashable and not a role either.
    if not isinstance(role, str) or role not in TRAINING_ROLES:
        detail = f"role {role!r} is not known (system, user, assistant, tool, function)"
        if role == "developer":
            detail = (
                "OpenAI's fine-tuning format has no 'developer' role (a job on such a file fails "
                "as invalid_training_file); give the instructions as a 'system' message"
            )
        return [Problem("unrecognized_role", f"{where}.role", detail)]
    problems: list[Problem] = []
    unknown = sorted(str(key) for key in set(message) - MESSAGE_KEYS[role])
    for key in unknown:
        detail = _UNSUPPORTED_KEYS.get(key)
        if key == "weight":
            detail = "weight is allowed on assistant messages only"
        problems.append(
            Problem(
                "invalid_weight" if key == "weight" else "message_unrecognized_key",
                f"{where}.{key}",
                detail or f"{role} messages in OpenAI's training format have no {key!r}",
            )
        )
    problems.extend(_check_content(message, role, where))
    problems.extend(_check_roles_fields(message, role, where))
    return problems


def check_messages(messages: Any, where: str = "messages") -> list[Problem]:
    """Structural checks of a list of chat messages."""
    if not isinstance(messages, list):
        return [Problem("missing_messages_list", where, f"'{where}' must be a list")]
    if not messages:
        return [Problem("missing_messages_list", where, f"'{where}' is empty")]
    if all(map(_plainly_valid, messages)):
        return []
    problems: list[Problem] = []
    for index, message in enumerate(messages):
        problems.extend(_check_message(message, f"{where}[{index}]"))
    return problems


# --- line-level fields ------------------------------------------------------------------------


def _check_function(value: Any, where: str) -> list[Problem]:
    """A function definition: {"name", "description"?, "parameters"?, "strict"?}."""
    if not isinstance(value, Mapping) or not _is_text(value.get("name")):
        return [Problem("invalid_tools", where, "a function has a 'name'")]
    unknown = set(value) - {"name", "description", "parameters", "strict"}
    if unknown:
        return [Problem("invalid_tools", where, f"unknown keys {sorted(map(str, unknown))}")]
    if "description" in value and not isinstance(value["description"], str):
        return [Problem("invalid_tools", f"{where}.description", "description is text")]
    if "parameters" in value and not isinstance(value["parameters"], Mapping):
        return [Problem("invalid_tools", f"{where}.parameters", "parameters is a JSON schema")]
    if "strict" in value and value["strict"] is not None and not isinstance(value["strict"], bool):
        return [Problem("invalid_tools", f"{where}.strict", "strict is true or false")]
    return check_strings(value, where)


def check_fields(line: Mapping[str, Any], names: tuple[str, ...], where: str) -> list[Problem]:
    """`tools`, `parallel_tool_calls` and (supervised only) `functions`, where present."""
    problems: list[Problem] = []
    if "tools" in line and "tools" in names:
        tools = line["tools"]
        if not isinstance(tools, list) or not tools:
            problems.append(Problem("invalid_tools", f"{where}tools", "a non-empty list of tools"))
        else:
            for index, tool in enumerate(tools):
                at = f"{where}tools[{index}]"
                if (
                    not isinstance(tool, Mapping)
                    or set(tool) != {"type", "function"}
                    or tool["type"] != "function"
                ):
                    problems.append(
                        Problem("invalid_tools", at, "a tool is {'type': 'function', 'function'}")
                    )
                else:
                    problems.extend(_check_function(tool["function"], f"{at}.function"))
    if (
        "parallel_tool_calls" in line
        and "parallel_tool_calls" in names
        and not isinstance(line["parallel_tool_calls"], bool)
    ):
        problems.append(
            Problem("invalid_parallel_tool_calls", f"{where}parallel_tool_calls", "true or false")
        )
    if "functions" in line and "functions" in names:
        functions = line["functions"]
        if not isinstance(functions, list) or not 1 <= len(functions) <= 128:
            problems.append(
                Problem("invalid_tools", f"{where}functions", "a list of 1 to 128 functions")
            )
        else:
            for index, function in enumerate(functions):
                problems.extend(_check_function(function, f"{where}functions[{index}]"))
    return problems


def _unknown_keys(line: Mapping[str, Any], allowed: frozenset[str], where: str) -> list[Problem]:
    unknown = sorted(str(key) for key in set(line) - allowed)
    return [
        Problem("unrecognized_key", f"{where}{key}", f"{key!r} is not part of the training format")
        for key in unknown
    ]


# --- lines ------------------------------------------------------------------------------------


def target_index(messages: list[Any]) -> int | None:
    """The index of the trained reply that a supervised line ends on: its last assistant message
    that is trained (weight 1 or none), or None."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, Mapping) and is_trained(message):
            return index
    return None


def _check_answers(messages: list[Any], index: int, where: str) -> list[Problem]:
    """The message before position `index` is one that a reply answers."""
    before = messages[index - 1] if index > 0 else None
    if isinstance(before, Mapping) and before.get("role") in ANSWERED_ROLES:
        return []
    return [
        Problem(
            "prompt_not_ending_with_user",
            f"{where}[{index}]",
            "a trained reply must follow a user, tool or function message",
        )
    ]


def check_sft_line(line: Any, *, extra_keys: frozenset[str] = frozenset()) -> list[Problem]:
    """A supervised line: `{"messages": [...]}` (and `tools`, `parallel_tool_calls`,
    `functions`) that trains at least one assistant message. `extra_keys` are keys a door
    reads itself and does not pass on (the importer's `thread_id`)."""
    if not isinstance(line, Mapping):
        return [Problem("data_type", "line", "each line must be a JSON object")]
    if "messages" not in line:
        return [Problem("missing_messages_list", "line", "no 'messages' key")]
    messages = line["messages"]
    if len(line) == 1:  # the usual line: {"messages": [...]}, nothing else to look at
        problems = check_messages(messages)
    else:
        problems = _unknown_keys(line, _SFT_KEYS | extra_keys, "")
        problems.extend(check_messages(messages))
        problems.extend(check_fields(line, SFT_FIELDS, ""))
    if problems:
        return problems
    index = target_index(messages)
    if index is None:
        if not any(m["role"] == "assistant" for m in messages):
            return [
                Problem("example_missing_assistant_message", "messages", "no assistant message")
            ]
        return [
            Problem(
                "example_missing_assistant_message",
                "messages",
                "every assistant message has weight 0: nothing to train on",
            )
        ]
    return _check_answers(messages, index, "messages")


def check_prompt(messages: Any, where: str = "messages") -> list[Problem]:
    """Prompt messages of an example: valid messages ending with a message that a reply
    answers (a user, tool or function message), never with an assistant turn."""
    problems = check_messages(messages, where)
    if problems:
        return problems
    return _check_answers(messages, len(messages), where)


def _check_output(output: Any, where: str) -> list[Problem]:
    if not isinstance(output, list) or len(output) != 1:
        held = f" (it holds {len(output)})" if isinstance(output, list) else ""
        return [Problem("invalid_output", where, f"must be a list of exactly one message{held}")]
    message = output[0]
    if isinstance(message, Mapping) and message.get("role") == "assistant" and "weight" in message:
        return [Problem("invalid_weight", f"{where}[0].weight", "an output message has no weight")]
    problems = [] if _plainly_valid(message) else _check_message(message, f"{where}[0]")
    if not problems and message.get("role") != "assistant":
        problems.append(Problem("invalid_output", f"{where}[0]", "role must be 'assistant'"))
    return problems


def dpo_outputs(line: Mapping[str, Any]) -> tuple[Any, Any]:
    """(preferred, non-preferred) of a DPO line, in either spelling (None where missing)."""
    found = []
    for current, older in DPO_OUTPUTS:
        found.append(line[current] if current in line else line.get(older))
    return found[0], found[1]


def check_dpo_line(line: Any, *, extra_keys: frozenset[str] = frozenset()) -> list[Problem]:
    """A preference line: input messages, one preferred and one non-preferred reply.
    `extra_keys` as for `check_sft_line`."""
    if not isinstance(line, Mapping):
        return [Problem("data_type", "line", "each line must be a JSON object")]
    allowed = frozenset({"input", *(name for pair in DPO_OUTPUTS for name in pair)}) | extra_keys
    problems = _unknown_keys(line, allowed, "")
    for current, older in DPO_OUTPUTS:
        if current in line and older in line:
            problems.append(Problem("unrecognized_key", older, f"{current!r} is given twice"))
    prompt = line.get("input")
    if not isinstance(prompt, Mapping) or "messages" not in prompt:
        problems.append(Problem("missing_messages_list", "input", "no 'input.messages'"))
    else:
        problems.extend(_unknown_keys(prompt, frozenset({"messages", *DPO_INPUT_FIELDS}), "input."))
        problems.extend(check_prompt(prompt["messages"], "input.messages"))
        problems.extend(check_fields(prompt, DPO_INPUT_FIELDS, "input."))
    preferred, rejected = dpo_outputs(line)
    problems.extend(_check_output(preferred, "preferred_output"))
    problems.extend(_check_output(rejected, "non_preferred_output"))
    if not problems and identical_outputs(preferred[0], rejected[0]):
        problems.append(
            Problem("identical_outputs", "preferred_output", "preferred equals non-preferred")
        )
    return problems


def identical_outputs(preferred: Mapping[str, Any], rejected: Mapping[str, Any]) -> bool:
    """Whether a DPO pair's two replies say the same (so there is nothing to prefer)."""
    return _output_identity(preferred) == _output_identity(rejected)


def _output_identity(message: Mapping[str, Any]) -> tuple[str, Any, Any]:
    """What a DPO output says: its text (trimmed: two replies that differ only in the blanks at
    their ends teach no preference) and its calls."""
    return (
        message_text(message.get("content")).strip(),
        message.get("tool_calls"),
        message.get("function_call"),
    )
