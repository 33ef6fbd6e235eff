"""The chat-format checks: the quick test for plainly valid messages changes no verdict."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from curation.chat_format import (
    KNOWN_MESSAGE_KEYS,
    TRAINING_ROLES,
    _check_message,
    _plainly_valid,
    check_messages,
    check_sft_line,
)

# Values at each rule's edges; nothing unhashable (a role may not be).
_other = st.one_of(st.none(), st.booleans(), st.integers(-1, 2), st.text(max_size=4))
_role = st.one_of(st.sampled_from([*sorted(TRAINING_ROLES), "robot", "", "User"]), _other)
_content = st.one_of(
    st.sampled_from(["", " ", "\n\t", "\u3000", "\x1c", " hi ", "\u2028", "ok"]), _other
)
_weight = st.one_of(st.sampled_from([0, 1, 0.0, 1.0, 0.5, 2, float("nan")]), _other)
_message = st.one_of(
    st.fixed_dictionaries(
        {"role": _role, "content": _content},
        optional={"weight": _weight, "name": _other, "tool_calls": _other, "extra": _other},
    ),
    st.dictionaries(st.sampled_from([*sorted(KNOWN_MESSAGE_KEYS), "extra"]), _other),
    st.none(),
    st.text(max_size=4),
)
_messages = st.lists(_message, max_size=4)


def _detailed(messages: list[Any]) -> list[Any]:
    """What check_messages reports without its quick test: every message looked at closely."""
    if not messages:
        return check_messages(messages)
    return [p for i, m in enumerate(messages) for p in _check_message(m, f"messages[{i}]")]


@settings(max_examples=500)
@given(_message)
def test_a_plainly_valid_message_has_no_problem(message: Any) -> None:
    if _plainly_valid(message):
        assert _check_message(message, "m") == []


@settings(max_examples=300)
@given(_messages)
def test_checks_report_what_the_detailed_checks_report(messages: list[Any]) -> None:
    assert check_messages(messages) == _detailed(messages)


def test_a_line_without_the_assistant_reply_is_named() -> None:
    line = {"messages": [{"role": "user", "content": "hi"}]}
    assert [p.rule for p in check_sft_line(line)] == ["example_missing_assistant_message"]
    line["messages"].append({"role": "assistant", "content": "hello"})
    assert check_sft_line(line) == []


def test_a_role_that_is_not_a_string_is_a_problem_not_a_crash() -> None:
    for role in (["user"], {"name": "user"}):
        problems = check_messages([{"role": role, "content": "Hi"}])
        assert [p.rule for p in problems] == ["unrecognized_role"]
        assert "is not known" in problems[0].detail
