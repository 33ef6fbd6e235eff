"""Chat completions through the real SDK: fallback and retrieval answers, streaming with a
usage chunk, tiktoken usage, accepted-and-ignored and refused parameters, 404s."""

from __future__ import annotations

import openai
import pytest
import tiktoken

from tests.local_openai.conftest import Api
from tests.local_openai.helpers import FAQ, SYSTEM, ask, dpo_line, jsonl, sft_file, train
from tuneloop.local_openai import FALLBACK_ANSWER
from tuneloop.local_openai.tokens import truncate


@pytest.fixture
def model(api: Api) -> str:
    done = train(api.client(), api.clock)
    assert done.fine_tuned_model is not None
    return done.fine_tuned_model


def test_a_base_model_answers_with_the_polite_fallback(api: Api) -> None:
    reply = api.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": FAQ[0][0]}]
    )
    assert reply.choices[0].message.content == FALLBACK_ANSWER
    assert FALLBACK_ANSWER.startswith("I don't know that yet")
    assert reply.model == "gpt-4o-mini-2024-07-18"
    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.choices[0].finish_reason == "stop"


def test_a_fine_tuned_model_answers_from_its_nearest_training_prompt(api: Api, model: str) -> None:
    client = api.client()
    assert ask(client, model, "How do I reset my password?") == FAQ[0][1]
    assert ask(client, model, "how can i RESET my password please!!") == FAQ[0][1]
    assert ask(client, model, "vpn connect from home, how?") == FAQ[1][1]
    assert ask(client, model, "What is the capital of Peru?") == FALLBACK_ANSWER
    # Only the last user message counts, whatever came before it.
    reply = client.chat.completions.create(
        model=model,
        messages=[
            SYSTEM,
            {"role": "user", "content": "What is the capital of Peru?"},
            {"role": "assistant", "content": "Lima."},
            {"role": "user", "content": [{"type": "text", "text": "When is payday?"}]},
        ],
    )
    assert reply.choices[0].message.content == FAQ[8][1]
    assert reply.model == model


def test_answers_are_deterministic(api: Api, model: str) -> None:
    client = api.client()
    questions = ["reset password", "book a room", "holiday calendar where", "bananas"]
    first = [ask(client, model, q) for q in questions]
    assert [ask(client, model, q) for q in questions] == first


def test_later_examples_replace_earlier_ones_for_the_same_prompt(api: Api) -> None:
    data = sft_file([*FAQ, (FAQ[0][0].upper(), "Call the service desk on 1234.")])
    done = train(api.client(), api.clock, data)
    assert done.fine_tuned_model is not None
    assert ask(api.client(), done.fine_tuned_model, FAQ[0][0]) == "Call the service desk on 1234."


def test_dpo_answers_preferred_and_never_rejected(api: Api) -> None:
    client = api.client()
    question = FAQ[4][0]
    rejected = "Nobody, just submit it."
    data = jsonl([dpo_line(question, FAQ[4][1], rejected)] + [dpo_line(q, a, "?") for q, a in FAQ])
    done = train(client, api.clock, data, method={"type": "dpo"})
    assert done.fine_tuned_model is not None
    for wording in (question, question.lower(), "who approves expense claims"):
        assert ask(client, done.fine_tuned_model, wording) == FAQ[4][1]


def test_usage_is_counted_with_tiktoken(api: Api, model: str) -> None:
    messages = [SYSTEM, {"role": "user", "content": FAQ[3][0]}]
    reply = api.client().chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
    encoding = tiktoken.get_encoding("o200k_base")
    expected_prompt = 3 + sum(
        3 + len(encoding.encode(m["role"])) + len(encoding.encode(m["content"])) for m in messages
    )
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == expected_prompt
    assert reply.usage.completion_tokens == len(encoding.encode(FAQ[3][1]))
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_sends_chunks_and_a_final_usage_chunk(api: Api, model: str) -> None:
    stream = api.client().chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": FAQ[5][0]}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == FAQ[5][1]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_streaming_without_usage_has_no_usage_chunk(api: Api, model: str) -> None:
    chunks = list(
        api.client().chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == FALLBACK_ANSWER


def test_parameters_openai_accepts_are_accepted_and_ignored(api: Api, model: str) -> None:
    reply = api.client().chat.completions.create(
        model=model,
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": FAQ[6][0]},
        ],
        temperature=0.2,
        top_p=0.9,
        seed=3,
        user="U123",
        metadata={"k": "v"},
        store=False,
        response_format={"type": "text"},
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        n=2,
    )
    assert [c.message.content for c in reply.choices] == [FAQ[6][1], FAQ[6][1]]
    assert [c.index for c in reply.choices] == [0, 1]


def test_max_tokens_and_stop_end_the_answer_early(api: Api, model: str) -> None:
    client = api.client()
    cut = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": FAQ[0][0]}], max_completion_tokens=3
    )
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage is not None and cut.usage.completion_tokens == 3
    stopped = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": FAQ[0][0]}], stop=["portal"]
    )
    assert stopped.choices[0].message.content == "Use the self-service "
    assert stopped.choices[0].finish_reason == "stop"


def test_unknown_models_are_404_model_not_found(api: Api) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        api.client().chat.completions.create(
            model="gpt-7", messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.code == "model_not_found"
    assert raised.value.body == {
        "message": "The model `gpt-7` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"messages": []}, "messages", "empty_array"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
        ({"frobnicate": True}, None, None),
        ({"stream_options": {"include_usage": True}}, "stream_options", None),
    ],
)
def test_bad_requests_get_openais_400(
    api: Api, body: dict[str, object], param: str | None, code: str | None
) -> None:
    request: dict[str, object] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
    }
    request.update(body)
    with pytest.raises(openai.BadRequestError) as raised:
        api.client().chat.completions.create(
            model=str(request.pop("model")),
            messages=request.pop("messages"),  # type: ignore[arg-type]
            extra_body=request,
        )
    error = raised.value.body
    assert isinstance(error, dict)
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


@pytest.mark.parametrize("text", ["short", "😀" * 5, "naïve café " * 40, "x" * 30])
@pytest.mark.parametrize("max_tokens", [1, 3, 10, 30])
def test_truncation_keeps_at_most_max_tokens_and_cuts_only_what_is_too_long(
    text: str, max_tokens: int
) -> None:
    encoding = tiktoken.get_encoding("o200k_base")
    cut, was_cut = truncate(text, max_tokens, "o200k_base")
    tokens = encoding.encode_ordinary(text)
    assert was_cut == (len(tokens) > max_tokens)
    assert cut == (encoding.decode(tokens[:max_tokens]) if was_cut else text)
