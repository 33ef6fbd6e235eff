"""The reply path: thread history under the token budget, model failures, the active model."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx2
import openai
import pytest

from bot import BotConfig
from bot.blocks.ids import APOLOGY_EVENT
from bot.replies import ModelCall, PromptBuilder, TokenBudget, Turn, fit_messages
from bot.replies.model_call import ModelFailure
from curation.models import ExchangeStatus
from curation.tokens import count_messages, get_encoding
from tests.bot.conftest import BASE_MODEL, SYSTEM_PROMPT, Bot
from tests.bot.fakes import ScriptedModel
from tuneloop.local_openai import LocalOpenAI

ENCODING = get_encoding("o200k_base")


# --- the budget, on its own ---------------------------------------------------------------------
def test_the_newest_turns_that_fit_are_kept_with_the_system_prompt() -> None:
    turns = [Turn("user" if i % 2 == 0 else "assistant", f"turn {i} " * 20) for i in range(30)]
    turns.append(Turn("user", "the question"))
    messages = fit_messages("system", turns, 400, ENCODING)
    assert count_messages(messages, ENCODING) <= 400
    assert messages[0] == {"role": "system", "content": "system"}
    assert messages[-1] == {"role": "user", "content": "the question"}
    assert messages[1]["role"] == "user"  # a history never starts with the bot's turn
    kept = [m["content"] for m in messages[1:-1]]
    assert kept == [t.content for t in turns[-1 - len(kept) : -1]]  # the newest, in order
    assert len(kept) < 30


def test_the_prompt_builder_counts_its_system_prompt_once_and_fits_alike() -> None:
    system = "You are the help desk. " * 40
    turns = [Turn("user" if i % 2 == 0 else "assistant", f"turn {i} " * 20) for i in range(30)]
    turns.append(Turn("user", "the question"))
    builder = PromptBuilder(system, budget_tokens=900)
    first = builder.build(turns, "any-model")
    assert first == fit_messages(system, turns, 900, ENCODING)  # counted here, not passed
    assert builder.build(turns, "any-model") == first  # the cached count gives the same fit
    assert count_messages(first, ENCODING) <= 900


def test_a_question_longer_than_the_budget_is_cut_to_fit() -> None:
    messages = fit_messages("system", [Turn("user", "word " * 2000)], 200, ENCODING)
    assert len(messages) == 2
    assert count_messages(messages, ENCODING) <= 200
    assert messages[1]["content"].endswith("…")


def test_token_budgets_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TokenBudget(prompt_tokens=0)


# --- through Slack --------------------------------------------------------------------------------
def test_a_long_thread_is_trimmed_under_the_budget(make_bot: Callable[..., Bot]) -> None:
    budget = 600
    bot = make_bot(config=BotConfig(budget=TokenBudget(prompt_tokens=budget)))
    first = bot.ask("How do I book leave?")
    bot.replies(first)
    for i in range(450):  # more than two pages of conversations.replies
        speaker = bot.alice if i % 2 == 0 else bot.bob
        bot.ws.post(
            bot.channel, user=speaker, text=f"note {i}: " + "blah " * 10, thread_ts=first.ts
        )
    bot.ask("So what is the answer?", thread_ts=first.ts)
    bot.replies(first, count=2)
    bot.settle()

    prompt = bot.exchanges()[-1].prompt_messages
    assert count_messages(prompt, ENCODING) <= budget
    assert prompt[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert prompt[-1] == {"role": "user", "content": "So what is the answer?"}
    assert prompt[-2]["content"].startswith("note 449:")  # the newest turns are kept
    assert all("How do I book leave?" not in m["content"] for m in prompt)  # the oldest went
    assert len(bot.ws.calls_to("conversations.replies")) >= 3  # every page was read


def test_the_prompt_sent_is_the_prompt_recorded(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    said = bot.ask("Where is the office?")
    [reply] = bot.replies(said)
    bot.settle()
    [request] = scripted.requests
    [exchange] = bot.exchanges()
    assert request["messages"] == exchange.prompt_messages
    assert request["stream"] is True
    assert request["max_completion_tokens"] == TokenBudget().reply_tokens
    assert reply["text"] == "Scripted answer."
    assert (exchange.prompt_tokens, exchange.completion_tokens) == (11, 7)


def _assert_apologised(
    bot: Bot, caplog: pytest.LogCaptureFixture, question: str, model: str = BASE_MODEL
) -> None:
    said = bot.ask(question)
    [apology] = bot.replies(said)
    bot.settle()
    assert apology["text"].startswith(":warning: Sorry, I couldn't answer that.")
    assert apology["metadata"]["event_type"] == APOLOGY_EVENT
    assert "blocks" not in apology  # nothing to give feedback on
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.FAILED
    assert exchange.question == question  # the question is still recorded
    assert exchange.model == model
    assert exchange.error
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("failed for exchange" in r.getMessage() for r in errors)


def test_a_rate_limit_gives_an_apology_and_keeps_the_question(
    bot: Bot, stand_in: LocalOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    stand_in.faults.rate_limit(1)
    _assert_apologised(bot, caplog, "How do I reset my password?")
    assert "rate_limited" in bot.exchanges()[0].error


def test_a_server_error_gives_an_apology(
    bot: Bot, stand_in: LocalOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    stand_in.faults.fail_requests(1, status=503)
    _assert_apologised(bot, caplog, "How do I reset my password?")
    assert "unavailable" in bot.exchanges()[0].error


def test_a_timeout_gives_an_apology(
    make_bot: Callable[..., Bot], scripted: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.reply = httpx2.ReadTimeout("the model is slow")
    bot = make_bot(openai_client=scripted.client())
    _assert_apologised(bot, caplog, "Is the VPN down?")
    assert "timeout" in bot.exchanges()[0].error


def test_an_unknown_model_gives_an_apology(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot.model.value = unknown = "ft:gpt-4.1-mini-2025-04-14:local:tuneloop:notyet"
    _assert_apologised(bot, caplog, "Is the VPN down?", unknown)
    assert "model_not_found" in bot.exchanges()[0].error


def test_after_a_failure_the_bot_answers_again_without_the_apology_in_its_prompt(
    bot: Bot, stand_in: LocalOpenAI
) -> None:
    stand_in.faults.rate_limit(1)
    said = bot.ask("How do I reset my password?")
    bot.replies(said)
    bot.driver.say(bot.alice, bot.channel, "Trying again: how?", thread_ts=said.ts)
    bot.replies(said, count=2)
    bot.settle()
    retried = bot.exchanges()[-1]
    assert retried.status is ExchangeStatus.ANSWERED
    assert [m["role"] for m in retried.prompt_messages] == ["system", "user", "user"]


def test_a_promotion_changes_the_model_of_the_next_reply(bot: Bot) -> None:
    first = bot.ask("How do I book leave?")
    bot.replies(first)
    bot.settle()
    bot.model.value = "gpt-4o-mini-2024-07-18"  # what a promotion does to the registry
    second = bot.ask("How do I book leave?")
    bot.replies(second)
    bot.settle()
    assert [e.model for e in bot.exchanges()] == [BASE_MODEL, "gpt-4o-mini-2024-07-18"]
    assert bot.model.calls == 2  # looked up for each message, no restart


# --- the model call, on its own -----------------------------------------------------------------


def _sse_client(body: bytes, requests: list[dict[str, object]]) -> openai.OpenAI:
    def handle(request: httpx2.Request) -> httpx2.Response:
        requests.append(json.loads(request.content))
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return openai.OpenAI(
        api_key="test",
        base_url="http://model.invalid/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handle)),
        max_retries=0,
    )


def _events(*events: object) -> bytes:
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"


def test_the_model_call_streams_text_and_usage_and_sends_a_chat_completions_body() -> None:
    requests: list[dict[str, object]] = []
    chunk = {"object": "chat.completion.chunk", "model": "m"}
    body = _events(
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": "Use "}}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": "Okta."}}]},
        {**chunk, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}},
    )
    call = ModelCall(_sse_client(body, requests), max_tokens=50, timeout_s=5)
    messages = [{"role": "user", "content": "How do I sign in?"}]
    reply = call.stream("m", messages)
    assert list(reply) == ["Use ", "Okta."]
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens) == ("Use Okta.", 9, 3)
    assert requests == [
        {
            "model": "m",
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_completion_tokens": 50,
        }
    ]


def test_a_reply_temperature_is_sent_when_one_is_set() -> None:
    requests: list[dict[str, object]] = []
    chunk = {"object": "chat.completion.chunk", "model": "m"}
    body = _events({**chunk, "choices": [{"index": 0, "delta": {"content": "Hi"}}]})
    for temperature in (None, 0.0):
        call = ModelCall(
            _sse_client(body, requests), max_tokens=5, timeout_s=5, temperature=temperature
        )
        assert list(call.stream("m", [{"role": "user", "content": "Hi?"}])) == ["Hi"]
    assert "temperature" not in requests[0]  # unset: the server's default
    assert requests[1]["temperature"] == 0.0


def test_an_error_event_in_the_stream_is_a_model_failure() -> None:
    chunk = {"object": "chat.completion.chunk", "model": "m"}
    body = _events(
        {**chunk, "choices": [{"index": 0, "delta": {"content": "Half an"}}]},
        {"error": {"message": "the server had an error", "type": "server_error"}},
    )
    reply = ModelCall(_sse_client(body, []), max_tokens=50, timeout_s=5).stream("m", [])
    with pytest.raises(ModelFailure) as failure:
        list(reply)
    assert failure.value.kind == "interrupted"
    assert "the server had an error" in failure.value.detail


def test_an_empty_stream_is_a_model_failure() -> None:
    reply = ModelCall(_sse_client(_events(), []), max_tokens=50, timeout_s=5).stream("m", [])
    with pytest.raises(ModelFailure) as failure:
        list(reply)
    assert failure.value.kind == "empty"


def _forgetful_server(loaded: set[str]) -> tuple[openai.OpenAI, list[str]]:
    """A model server that answers 404 (vLLM's shape) for models it has not loaded."""
    asked: list[str] = []
    body = _events(
        {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    )

    def handle(request: httpx2.Request) -> httpx2.Response:
        model = json.loads(request.content)["model"]
        asked.append(model)
        if model not in loaded:
            error = {"message": f"The model `{model}` does not exist.", "type": "NotFoundError"}
            return httpx2.Response(404, json={"object": "error", **error, "code": 404})
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = openai.OpenAI(
        api_key="test",
        base_url="http://model.invalid/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handle)),
        max_retries=0,
    )
    return client, asked


def test_a_model_the_server_forgot_is_reloaded_and_the_reply_goes_ahead() -> None:
    loaded: set[str] = set()
    client, asked = _forgetful_server(loaded)
    reloads: list[str] = []

    def reload_model(model: str) -> bool:
        reloads.append(model)
        loaded.add(model)
        return True

    call = ModelCall(client, max_tokens=5, timeout_s=5, reload_model=reload_model)
    assert list(call.stream("tuneloop-lora-dv3", [])) == ["Hi"]
    assert (reloads, asked) == (["tuneloop-lora-dv3"], ["tuneloop-lora-dv3"] * 2)


def test_a_model_that_cannot_be_reloaded_is_model_not_found_once() -> None:
    client, asked = _forgetful_server(set())
    call = ModelCall(client, max_tokens=5, timeout_s=5, reload_model=lambda model: False)
    with pytest.raises(ModelFailure) as failure:
        list(call.stream("gone", []))
    assert failure.value.kind == "model_not_found" and asked == ["gone"]
    # Reloaded but still missing: no loop, one more try only.
    call = ModelCall(client, max_tokens=5, timeout_s=5, reload_model=lambda model: True)
    with pytest.raises(ModelFailure):
        list(call.stream("gone", []))
    assert asked == ["gone"] * 3
