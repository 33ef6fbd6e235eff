"""What the worker trains on: assistant turns only, never a turn with OpenAI's weight 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers", reason="the lora extra is not installed")

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from scheduler.training.lora.data import (
    IGNORE_INDEX,
    TrainingFileError,
    preference_row,
    sft_dataset,
    sft_example,
    trained_spans,
)
from tests.training_lora.conftest import dpo_lines, write_lines

#: SmolLM2-Instruct's chat template: a default system prompt when the first message is not one,
#: and no {% generation %} markers.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are the help desk."},
    {"role": "user", "content": "How do I reset my password?"},
    {"role": "assistant", "content": "Just email it to me.", "weight": 0},
    {"role": "user", "content": "Is that safe?"},
    {"role": "assistant", "content": "No: reset it at login.fernhill.example instead."},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(tiny_model)


def learned_text(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, Any]]) -> str:
    example = sft_example(tokenizer, messages, max_length=1024)
    assert example is not None
    learned = [t for t, label in zip(example.input_ids, example.labels, strict=True) if label >= 0]
    return str(tokenizer.decode(learned))


def test_a_weight_0_turn_is_never_labelled(tokenizer: PreTrainedTokenizerBase) -> None:
    example = sft_example(tokenizer, CONVERSATION, max_length=1024)
    assert example is not None
    text, _ = trained_spans(tokenizer, CONVERSATION)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert list(encoded["input_ids"]) == example.input_ids
    wrong_start = text.index("Just email it to me.")
    wrong_end = text.index("<|im_start|>user", wrong_start)
    inside_wrong = [
        label
        for label, (first, _) in zip(example.labels, encoded["offset_mapping"], strict=True)
        if wrong_start <= first < wrong_end
    ]
    assert inside_wrong, "the weight-0 reply is in the input (as context)"
    assert set(inside_wrong) == {IGNORE_INDEX}
    # Labels equal the input where learned, and only the weight-1 reply (with its end of turn,
    # so the model learns to stop) is learned.
    assert all(
        label in (IGNORE_INDEX, token)
        for token, label in zip(example.input_ids, example.labels, strict=True)
    )
    assert learned_text(tokenizer, CONVERSATION) == (
        "No: reset it at login.fernhill.example instead.<|im_end|>\n"
    )


def test_every_assistant_turn_of_weight_1_is_learned(tokenizer: PreTrainedTokenizerBase) -> None:
    messages = [dict(m) for m in CONVERSATION]
    del messages[2]["weight"]
    assert learned_text(tokenizer, messages) == (
        "Just email it to me.<|im_end|>\n"
        "No: reset it at login.fernhill.example instead.<|im_end|>\n"
    )


def test_templates_without_generation_markers_work_smollm2(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    smollm2 = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    smollm2.chat_template = SMOLLM2_TEMPLATE
    no_system = CONVERSATION[1:]
    assert learned_text(smollm2, no_system) == (
        "No: reset it at login.fernhill.example instead.<|im_end|>\n"
    )
    # An assistant turn first: its generation prompt alone lacks the default system prompt,
    # so the reply is found after what precedes it.
    opening = [
        {"role": "assistant", "content": "Hi, I am the help desk bot."},
        {"role": "user", "content": "hello"},
    ]
    assert learned_text(smollm2, opening) == "Hi, I am the help desk bot.<|im_end|>\n"


def test_a_template_that_rewrites_the_beginning_is_refused(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    counting = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    counting.chat_template = (
        "{{ messages|length }} messages\n{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    )
    both_learned = [{k: v for k, v in m.items() if k != "weight"} for m in CONVERSATION[1:]]
    with pytest.raises(TrainingFileError, match=r"messages\[1\].*cannot be located") as raised:
        sft_example(counting, both_learned, max_length=1024)
    assert raised.value.code == "invalid_training_file"


def test_examples_cut_before_any_reply_are_dropped(
    tokenizer: PreTrainedTokenizerBase, tmp_path: Path
) -> None:
    long_question = {"role": "user", "content": "why " * 300}
    lines = [
        {"messages": [long_question, {"role": "assistant", "content": "Because."}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hi!"}]},
    ]
    dataset = sft_dataset(tokenizer, write_lines(tmp_path / "train.jsonl", lines), 64)
    assert dataset.dropped == 1
    assert len(dataset.examples) == 1
    assert all(len(e.input_ids) <= 64 for e in dataset.examples)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"input": {"messages": []}}, "no 'messages'"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "no assistant message"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "x", "weight": 0},
                ]
            },
            "no assistant message",
        ),
        ({"messages": [{"role": "user", "content": 3}]}, "must be strings"),
    ],
)
def test_lines_that_cannot_be_trained_name_the_line(
    tokenizer: PreTrainedTokenizerBase, tmp_path: Path, line: dict[str, Any], reason: str
) -> None:
    path = write_lines(tmp_path / "train.jsonl", [{"messages": CONVERSATION}, line])
    with pytest.raises(TrainingFileError, match=f"train.jsonl line 2.*{reason}"):
        sft_dataset(tokenizer, path, 256)


def test_openai_dpo_lines_become_trl_preference_rows() -> None:
    line = dpo_lines(1)[0]
    row = preference_row(line, "line 1")
    assert row["prompt"] == [
        {"role": "user", "content": "forgot my okta password how do i reset it"}
    ]
    assert row["chosen"][0]["role"] == "assistant"
    assert row["chosen"][0]["content"].startswith("Go to login.fernhill.example")
    assert row["rejected"] == [{"role": "assistant", "content": "Not sure, ask someone else."}]
    with pytest.raises(TrainingFileError, match="line 9: no 'input'"):
        preference_row({"messages": CONVERSATION}, "line 9")
