"""One set of serving tests, run against the local stand-in and against real vLLM.

Everything here goes through the real `openai` SDK over HTTP: chat completions as the bot
and the evaluator send them, and adapter management through `VLLMAdapterServing`.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

pytest.importorskip("peft", reason="the lora extra is not installed")

from bot.replies.model_call import ModelCall, ModelFailure
from scheduler.errors import ServingError
from scheduler.serving import VLLMAdapterServing
from tests.serving.adapters import AdapterFolders
from tests.serving.conftest import (
    ADAPTER,
    FOREIGN_ADAPTER,
    OTHER_ADAPTER,
    RANK_16_ADAPTER,
    THIRD_ADAPTER,
    UNREGISTERED,
)
from tests.serving.servers import MAX_MODEL_LEN, BaseModel, Server

QUESTION = [{"role": "user", "content": "How do I reset my password?"}]


def ask(client: openai.OpenAI, model: str, tokens: int = 12, **extra: Any) -> Any:
    """A greedy completion that runs its full length (vLLM's `ignore_eos`), so replies of
    different models are long enough to compare."""
    return client.chat.completions.create(
        model=model,
        messages=QUESTION,
        max_completion_tokens=tokens,
        temperature=0,
        extra_body={"ignore_eos": True, **extra},
    )


def prompt_tokens(base_model: BaseModel) -> int:
    """The question's prompt length: the model's chat template, tokenized as vLLM does."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model.path)
    text = tokenizer.apply_chat_template(QUESTION, tokenize=False, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


# --- chat -------------------------------------------------------------------------------------
def test_the_evaluation_asks_a_model_the_same_way_twice_and_gets_the_same_answer(
    server: Server, serving: VLLMAdapterServing
) -> None:
    """The evaluator's default options are greedy: a model compared with itself ties on every
    item instead of winning and losing by its sampling noise."""
    from scheduler.evaluation import Asker, EvalOptions

    serving.load(ADAPTER)
    options = EvalOptions(max_tokens=12)
    asker = Asker(server.client(), max_tokens=options.max_tokens, temperature=options.temperature)
    answers = {asker.ask(ADAPTER, QUESTION).text for _ in range(3)}
    assert len(answers) == 1 and "" not in answers


def test_chat_on_the_base_model_and_on_an_adapter(
    server: Server, serving: VLLMAdapterServing, base_model: BaseModel
) -> None:
    serving.load(ADAPTER)
    client = server.client()
    for model in (base_model.name, ADAPTER):
        reply = ask(client, model, tokens=6)
        assert reply.object == "chat.completion"
        assert reply.model == model
        choice = reply.choices[0]
        assert choice.message.role == "assistant"
        assert isinstance(choice.message.content, str)
        assert choice.finish_reason == "length"
        assert reply.usage is not None
        assert reply.usage.prompt_tokens == prompt_tokens(base_model)
        assert reply.usage.completion_tokens == 6
        assert reply.usage.total_tokens == reply.usage.prompt_tokens + 6


def test_a_stream_adds_up_to_the_same_reply_with_usage_last(
    server: Server, serving: VLLMAdapterServing, base_model: BaseModel
) -> None:
    serving.load(ADAPTER)
    client = server.client()
    for model in (base_model.name, ADAPTER):
        whole = ask(client, model)
        stream = client.chat.completions.create(
            model=model,
            messages=QUESTION,
            max_completion_tokens=12,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
        chunks = list(stream)
        assert chunks[0].choices[0].delta.role == "assistant"
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == whole.choices[0].message.content
        finished = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert finished[-1] == "length" and set(finished[:-1]) == {None}
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 12
        assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_the_bots_streaming_call_is_answered_by_the_adapter(
    server: Server, serving: VLLMAdapterServing, base_model: BaseModel
) -> None:
    serving.load(ADAPTER)
    reply = ModelCall(server.client(), max_tokens=8, timeout_s=60).stream(ADAPTER, QUESTION)
    try:
        text = "".join(reply)
    except ModelFailure as failure:  # sampling may pick the end of the turn at once
        assert failure.kind == "empty", failure
        return
    assert text == reply.text and text.strip()
    assert reply.prompt_tokens == prompt_tokens(base_model)
    assert reply.completion_tokens is not None and 1 <= reply.completion_tokens <= 8


def test_an_adapter_changes_the_reply(
    server: Server, serving: VLLMAdapterServing, base_model: BaseModel
) -> None:
    serving.keep([ADAPTER, OTHER_ADAPTER])
    client = server.client()
    replies = {
        model: ask(client, model).choices[0].message.content
        for model in (base_model.name, ADAPTER, OTHER_ADAPTER)
    }
    assert len(set(replies.values())) == 3, replies
    # and greedy decoding is deterministic: the same model answers the same
    assert ask(client, ADAPTER).choices[0].message.content == replies[ADAPTER]


def test_a_seed_makes_sampling_repeatable(server: Server, base_model: BaseModel) -> None:
    client = server.client()

    def sampled(seed: int) -> str:
        reply = client.chat.completions.create(
            model=base_model.name,
            messages=QUESTION,
            max_completion_tokens=10,
            temperature=1.0,
            seed=seed,
            extra_body={"ignore_eos": True},
        )
        return reply.choices[0].message.content or ""

    assert sampled(7) == sampled(7)
    assert len({sampled(seed) for seed in (1, 2, 3, 4)}) > 1


def test_a_stop_string_cuts_the_reply_before_it(
    server: Server, serving: VLLMAdapterServing
) -> None:
    serving.load(ADAPTER)
    client = server.client()
    full = ask(client, ADAPTER, tokens=16).choices[0].message.content or ""
    # a piece of plain text after the first character (a stop string at 0 leaves nothing)
    stops = [full[i : i + 2] for i in range(1, len(full) - 1) if "\ufffd" not in full[i : i + 2]]
    if not stops:
        pytest.skip(f"the greedy reply {full!r} has no plain two-character piece to stop at")
    stop = stops[0]
    reply = ask(client, ADAPTER, tokens=16, stop=[stop]).choices[0]
    assert reply.message.content == full[: full.index(stop)]
    assert reply.finish_reason == "stop"
    assert (reply.model_extra or {}).get("stop_reason") == stop


def test_max_tokens_beyond_the_model_length_is_a_bad_request(
    server: Server, base_model: BaseModel
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        ask(server.client(), base_model.name, tokens=MAX_MODEL_LEN + 1)
    assert refused.value.param == "max_completion_tokens"  # named as the request named it
    assert f"max_model_len={MAX_MODEL_LEN}" in refused.value.message


def test_an_unknown_model_is_not_found(server: Server, serving: VLLMAdapterServing) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        ask(server.client(), UNREGISTERED)
    assert missing.value.param == "model"
    assert f"The model `{UNREGISTERED}` does not exist" in missing.value.message
    # the bot's reply path names it model_not_found
    with pytest.raises(ModelFailure) as failure:
        "".join(
            ModelCall(server.client(), max_tokens=4, timeout_s=30).stream(UNREGISTERED, QUESTION)
        )
    assert failure.value.kind == "model_not_found"


def test_the_api_key_guards_every_v1_route(server: Server, adapters: AdapterFolders) -> None:
    intruder = server.client(api_key="wrong-key")
    with pytest.raises(openai.AuthenticationError):
        intruder.models.list()
    with pytest.raises(openai.AuthenticationError):
        ask(intruder, "tiny-llama")
    with pytest.raises(ServingError, match="HTTP 401"):
        VLLMAdapterServing(intruder, adapters).load(ADAPTER)
    import httpx2

    with httpx2.Client(transport=httpx2.HTTPTransport()) as http:
        assert http.get(server.base_url.removesuffix("/v1") + "/health").status_code == 200


# --- adapter management -------------------------------------------------------------------------
def test_load_lists_the_adapter_under_its_base_and_unload_forgets_it(
    server: Server, serving: VLLMAdapterServing, adapters: AdapterFolders, base_model: BaseModel
) -> None:
    assert serving.loaded() == set()
    serving.load(ADAPTER)
    serving.load(ADAPTER)  # already loaded: success
    assert serving.loaded() == {ADAPTER}
    cards = {card.id: card for card in server.client().models.list().data}
    assert (cards[base_model.name].model_extra or {})["parent"] is None
    adapter_card = cards[ADAPTER].model_extra or {}
    assert adapter_card["parent"] == base_model.name
    record = adapters.get(ADAPTER)
    assert record is not None and adapter_card["root"] == str(record.path)
    serving.unload(ADAPTER)
    serving.unload(ADAPTER)  # not loaded: success
    assert serving.loaded() == set()
    with pytest.raises(openai.NotFoundError):
        ask(server.client(), ADAPTER)
    assert ask(server.client(), base_model.name).choices[0].message.content is not None


def test_keep_loads_the_missing_and_unloads_the_rest_never_the_base(
    server: Server, serving: VLLMAdapterServing, base_model: BaseModel
) -> None:
    serving.keep([ADAPTER, OTHER_ADAPTER])
    assert serving.loaded() == {ADAPTER, OTHER_ADAPTER}
    serving.keep([THIRD_ADAPTER, ADAPTER, base_model.name])  # a rollback target may be the base
    assert serving.loaded() == {ADAPTER, THIRD_ADAPTER}
    serving.keep([])
    assert serving.loaded() == set()
    assert {card.id for card in server.client().models.list().data} == {base_model.name}


def test_ensure_loads_a_registered_adapter_and_nothing_else(
    serving: VLLMAdapterServing, base_model: BaseModel
) -> None:
    assert serving.ensure(ADAPTER) is True
    assert serving.loaded() == {ADAPTER}
    assert serving.ensure(ADAPTER) is True
    assert serving.ensure(base_model.name) is True
    assert serving.ensure(UNREGISTERED) is False
    assert serving.loaded() == {ADAPTER}


def test_refusals_name_the_adapter_and_quote_the_server(serving: VLLMAdapterServing) -> None:
    with pytest.raises(ServingError, match=f"{UNREGISTERED}.*not in the adapter store"):
        serving.load(UNREGISTERED)
    # checked before asking the server: vLLM would load it and serve wrong weights
    with pytest.raises(ServingError, match=f"{FOREIGN_ADAPTER}.*base model 'narrow-llama'"):
        serving.load(FOREIGN_ADAPTER)
    with pytest.raises(ServingError, match=f"{RANK_16_ADAPTER}.*LoRA rank 16 is greater than"):
        serving.load(RANK_16_ADAPTER)
    assert serving.loaded() == set()


def test_keep_does_what_it_can_and_reports_what_it_could_not(
    serving: VLLMAdapterServing,
) -> None:
    serving.keep([OTHER_ADAPTER])
    with pytest.raises(ServingError, match=f"{UNREGISTERED}.*not in the adapter store"):
        serving.keep([UNREGISTERED, ADAPTER])
    assert serving.loaded() == {ADAPTER}


def test_after_a_restart_ensure_serves_the_adapter_again(
    server: Server, serving: VLLMAdapterServing
) -> None:
    serving.keep([ADAPTER])
    before = ask(server.client(), ADAPTER).choices[0].message.content
    server.restart()
    assert serving.loaded() == set()
    with pytest.raises(openai.NotFoundError):
        ask(server.client(), ADAPTER)
    # the bot's path: a 404 for a registered adapter reloads it, then the reply goes ahead
    call = ModelCall(server.client(), max_tokens=4, timeout_s=60, reload_model=serving.ensure)
    try:
        "".join(call.stream(ADAPTER, QUESTION))
    except ModelFailure as failure:
        assert failure.kind == "empty", failure
    assert serving.loaded() == {ADAPTER}
    assert ask(server.client(), ADAPTER).choices[0].message.content == before


def test_unreachable_server_is_a_serving_error(adapters: AdapterFolders) -> None:
    client = openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(ServingError, match=f"{ADAPTER}.*could not be reached"):
        VLLMAdapterServing(client, adapters).load(ADAPTER)
