"""OpenAI's checks of training files, line by line, and what a valid file teaches."""

from __future__ import annotations

from typing import Any

import pytest

from tests.local_openai.conftest import TRAINING_SPEC_PATH
from tests.local_openai.contract import TrainingLineSchemas
from tests.local_openai.helpers import FAQ, SYSTEM, dpo_line, jsonl, sft_file, sft_line
from tuneloop.local_openai.training_validation import (
    Example,
    TrainingFileError,
    validate_training_file,
)

QUESTION = {"role": "user", "content": "q"}
ANSWER = {"role": "assistant", "content": "a"}


def check(data: bytes, method: str = "supervised", **options: Any) -> Any:
    return validate_training_file(
        data,
        file_id="file-x",
        method=method,
        encoding="o200k_base",
        **options,  # type: ignore[arg-type]
    )


def error_of(data: bytes, method: str = "supervised", **options: Any) -> TrainingFileError:
    with pytest.raises(TrainingFileError) as raised:
        check(data, method, **options)
    return raised.value


def test_a_valid_chat_file_teaches_its_assistant_turns() -> None:
    multi_turn = {
        "messages": [
            SYSTEM,
            {"role": "user", "content": "My laptop is slow"},
            {"role": "assistant", "content": "Old draft reply", "weight": 0},
            {"role": "user", "content": [{"type": "text", "text": "still slow"}]},
            {"role": "assistant", "content": "Restart it, then run updates."},
        ]
    }
    data = check(jsonl([multi_turn, *(sft_line(q, a) for q, a in FAQ)]))
    assert data.format == "chat" and data.n_examples == len(FAQ) + 1
    assert data.examples[0] == Example("still slow", "Restart it, then run updates.")
    assert Example(FAQ[0][0], FAQ[0][1]) in data.examples
    assert data.tokens > 0


def test_a_preference_file_teaches_preferred_and_rejected() -> None:
    data = check(jsonl(dpo_line(q, a, "no") for q, a in FAQ), "dpo")
    assert data.format == "preference"
    assert data.examples[0] == Example(FAQ[0][0], FAQ[0][1], "no")


def test_the_2025_spelling_of_preference_lines_is_read_too() -> None:
    lines = [
        {
            "input": {"messages": [{"role": "user", "content": q}]},
            "preferred_completion": [{"role": "assistant", "content": a}],
            "non_preferred_completion": [{"role": "assistant", "content": "no"}],
        }
        for q, a in FAQ
    ]
    assert check(jsonl(lines), "dpo").n_examples == len(FAQ)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ({"messages": [{"content": "hi"}]}, "Example 3: message_missing_key at messages[0]"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "unrecognized_role at messages[0].role"),
        ({"messages": []}, "Example 3: missing_messages_list at messages: 'messages' is empty"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "example_missing_assistant_message"),
        (
            {"messages": [{"role": "user", "content": 5}, ANSWER]},
            "Example 3: invalid_content at messages[0].content",
        ),
        ({"messages": [QUESTION, {**ANSWER, "weight": 2}]}, "weight must be 0 or 1, not 2"),
        (
            {"messages": [{"role": "developer", "content": "Be brief."}, QUESTION, ANSWER]},
            "no 'developer' role",
        ),
        ({"messages": [QUESTION, ANSWER], "thread_id": "t1"}, "unrecognized_key at thread_id"),
        ({"prompt": "q", "completion": "a"}, "Example 3: Missing required key 'messages'"),
    ],
)
def test_bad_chat_lines_name_their_example(line: dict[str, Any], expected: str) -> None:
    lines: list[Any] = [sft_line(q, a) for q, a in FAQ]
    lines[2] = line
    error = error_of(jsonl(lines))
    assert (error.code, error.param) == ("invalid_training_file", "training_file")
    assert error.message.startswith("The job failed due to an invalid training file. ")
    assert expected in error.message


def test_bad_preference_lines() -> None:
    lines: list[Any] = [dpo_line(q, a, "no") for q, a in FAQ]
    lines[1] = {**lines[1], "non_preferred_output": []}
    assert (
        "Example 2: invalid_output at non_preferred_output: must be a list"
        in error_of(jsonl(lines), "dpo").message
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"messages": []}\n[1, 2]\n', "Line 2 is not a dictionary"),
        (b"\xef\xbb\xbf" + sft_file(), "Line 1 is not a dictionary"),  # a BOM
        (b"\xff\xfe", "not UTF-8"),
        (jsonl([{"prompt": "q", "completion": "a"}] * 10), "prompt-completion format"),
        (jsonl([{"text": "hello"}] * 10), "Unexpected file format"),
    ],
)
def test_files_that_are_not_chat_jsonl(data: bytes, expected: str) -> None:
    assert expected in error_of(data).message


def test_counts_are_checked_after_format_and_only_for_training_files() -> None:
    few = sft_file(FAQ[:3])
    error = error_of(few)
    assert (error.code, error.param) == ("invalid_n_examples", "training_file")
    assert error.message == "Training file has 3 example(s), but must have at least 10 examples"
    assert check(few, param="validation_file").n_examples == 3
    assert error_of(b"").code == "invalid_n_examples"
    bad = error_of(jsonl([{"messages": []}]), param="validation_file")
    assert (bad.code, bad.param) == ("invalid_validation_file", "validation_file")


def test_trailing_blank_lines_are_fine() -> None:
    assert check(sft_file() + b"\n\n").n_examples == len(FAQ)


@pytest.fixture(scope="module")
def training_schemas() -> TrainingLineSchemas:
    if not TRAINING_SPEC_PATH.is_file():
        pytest.skip(
            f"OpenAI's 2025-05-20 spec with training formats is absent: {TRAINING_SPEC_PATH}"
        )
    return TrainingLineSchemas(TRAINING_SPEC_PATH)


def test_lines_the_stand_in_accepts_conform_to_openais_training_schemas(
    training_schemas: TrainingLineSchemas,
) -> None:
    parts = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    tool_use = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
    ]
    chat_lines: list[dict[str, Any]] = [
        *(sft_line(q, a) for q, a in FAQ),
        {"messages": [parts, {**ANSWER, "weight": 1}]},
        {"messages": tool_use},
    ]
    check(jsonl(chat_lines))
    for line in chat_lines:
        assert training_schemas.errors("FineTuneChatRequestInput", line) == []

    preference = [
        {
            "input": {"messages": [SYSTEM, {"role": "user", "content": q}]},
            "preferred_completion": [{"role": "assistant", "content": a}],
            "non_preferred_completion": [{"role": "assistant", "content": "no"}],
        }
        for q, a in FAQ
    ]
    check(jsonl(preference), "dpo")
    for line in preference:
        assert training_schemas.errors("FineTunePreferenceRequestInput", line) == []


def test_the_schemas_reject_what_the_stand_in_rejects(
    training_schemas: TrainingLineSchemas,
) -> None:
    bad_role = {"messages": [{"role": "bot", "content": "x"}]}
    assert training_schemas.errors("FineTuneChatRequestInput", bad_role)
    assert training_schemas.errors("FineTuneChatRequestInput", {"messages": []})
