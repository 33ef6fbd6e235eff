"""The nearest-neighbour "model": what it answers, and the properties tests rely on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuneloop.local_openai.retrieval import FALLBACK_ANSWER, RetrievalIndex, normalise
from tuneloop.local_openai.training_validation import Example

EXAMPLES = [
    Example("How do I reset my password?", "Use the portal."),
    Example("How do I connect to the VPN?", "Install GlobalConnect."),
    Example("Where is the London office?", "At 1 King Street."),
]


def test_normalising_ignores_case_punctuation_order_and_filler() -> None:
    assert normalise("How do I reset my password?") == "password reset"
    assert normalise("PASSWORD, reset it please!!") == "password reset"
    assert normalise("How do I?") == "do how i"  # only filler: keep it, rather than nothing
    assert normalise("") == ""


def test_answers_from_the_most_similar_prompt_above_the_threshold() -> None:
    index = RetrievalIndex(EXAMPLES, threshold=80)
    assert index.answer_for("reset my password").answer == "Use the portal."
    match = index.answer_for("how can I connect to the vpn from home")
    assert match.answer == "Install GlobalConnect." and 80 <= match.score < 100
    assert index.answer_for("passwrd reset").answer == "Use the portal."  # a typo, full scan
    unrelated = index.answer_for("What is for lunch today?")
    assert (unrelated.answer, unrelated.prompt) == (FALLBACK_ANSWER, None)
    assert RetrievalIndex([], threshold=80).answer_for("anything").answer == FALLBACK_ANSWER


def test_the_threshold_is_configurable() -> None:
    assert RetrievalIndex(EXAMPLES, threshold=100).answer_for("reset password vpn").answer == (
        FALLBACK_ANSWER
    )
    assert RetrievalIndex(EXAMPLES, threshold=0).answer_for("zzz").answer != FALLBACK_ANSWER
    with pytest.raises(ValueError):
        RetrievalIndex(EXAMPLES, threshold=101)


def test_a_later_example_replaces_an_earlier_one_and_dpo_rejections_stick() -> None:
    index = RetrievalIndex(
        [
            Example("reset my password", "Old answer."),
            Example("How do I reset my PASSWORD", "Corrected answer."),
            Example("vpn", "Wrong.", None),
            Example("vpn", "Right.", "Wrong."),
        ]
    )
    assert index.answer_for("password reset").answer == "Corrected answer."
    assert index.answer_for("vpn").answer == "Right."
    assert index.rejected["vpn"] == frozenset({"Wrong."})


def test_ties_go_to_the_most_recently_taught_prompt() -> None:
    taught = [Example("alpha delta", "first"), Example("alpha gamma", "second")]
    index = RetrievalIndex(taught, threshold=50)
    assert index.answer_for("alpha").answer == "second"


def test_a_large_index_uses_only_prompts_sharing_a_word() -> None:
    examples = [Example(f"question number {i} about topic{i}", f"answer {i}") for i in range(3000)]
    index = RetrievalIndex(examples)
    assert index.answer_for("question about topic1234 number 1234").answer == "answer 1234"
    assert len(index) == 3000


words = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
prompts = st.lists(words, min_size=1, max_size=5).map(" ".join)
pairs = st.lists(st.tuples(prompts, st.text(min_size=1, max_size=10)), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(pairs=pairs, question=prompts)
def test_same_examples_and_question_give_the_same_answer(
    pairs: list[tuple[str, str]], question: str
) -> None:
    examples = [Example(q, a) for q, a in pairs]
    first = RetrievalIndex(examples).answer_for(question)
    assert RetrievalIndex(examples).answer_for(question) == first


@settings(max_examples=60, deadline=None)
@given(pairs=pairs)
def test_every_training_prompt_gets_its_last_taught_answer(pairs: list[tuple[str, str]]) -> None:
    index = RetrievalIndex([Example(q, a) for q, a in pairs])
    last: dict[str, str] = {}
    for question, answer in pairs:
        last[normalise(question)] = answer
    for question, _answer in pairs:
        assert index.answer_for(question).answer == last[normalise(question)]


@settings(max_examples=60, deadline=None)
@given(pairs=pairs, rejected=st.text(min_size=1, max_size=10))
def test_a_rejected_output_is_never_the_answer_for_its_prompt(
    pairs: list[tuple[str, str]], rejected: str
) -> None:
    question, preferred = pairs[0]
    if preferred == rejected:
        return
    examples = [Example(q, a) for q, a in pairs[1:]] + [Example(question, preferred, rejected)]
    assert RetrievalIndex(examples).answer_for(question).answer != rejected
