"""Continuous batching in the stand-in: sequences decoded together give what each gives alone.

The scheduler runs without its thread here (`background=False`) and the test drives its
steps, so what runs together is known, not left to thread timing. References are decoded
without the stand-in: transformers and PEFT directly, one sequence, no padding.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("peft", reason="the lora extra is not installed")

import torch
from transformers import AutoModelForCausalLM, DynamicCache

from tests.serving.adapters import AdapterFolders
from tests.serving.conftest import ADAPTER, OTHER_ADAPTER
from tests.serving.servers import BaseModel
from tuneloop.local_vllm.engine import AdapterRefused, Engine
from tuneloop.local_vllm.generation import SamplingParams
from tuneloop.local_vllm.kv_batch import PaddedBatch, prefill_inputs
from tuneloop.local_vllm.scheduler import Request, Scheduler

MAX_MODEL_LEN = 256
QUESTIONS = [
    "hi",
    "How do I reset my password?",
    "My laptop will not connect to the VPN. Restart it, then open the VPN client again. "
    "Where do I request a new monitor or keyboard? File a ticket in the IT portal.",
    "Where do I request a new monitor?",
    "The printer on the third floor is jammed again. Please post in the help channel.",
]


def greedy(tokens: int) -> SamplingParams:
    return SamplingParams(max_tokens=tokens, temperature=0.0, ignore_eos=True)


@pytest.fixture(scope="module")
def engine(base_model: BaseModel, adapters: AdapterFolders) -> Engine:
    """The tiny model with two adapters loaded."""
    made = Engine(base_model.path, enable_lora=True, max_lora_rank=8)
    for name in (ADAPTER, OTHER_ADAPTER):
        record = adapters.get(name)
        assert record is not None
        made.add_adapter(name, record.path)
    return made


@pytest.fixture(scope="module")
def reference(base_model: BaseModel, adapters: AdapterFolders) -> Iterator[Any]:
    """Greedy decoding of one prompt alone, by transformers (+ PEFT for an adapter)."""
    from peft import PeftModel

    models: dict[str | None, Any] = {}

    def model(adapter: str | None) -> Any:
        if adapter not in models:
            loaded = AutoModelForCausalLM.from_pretrained(base_model.path).eval()
            if adapter is not None:
                record = adapters.get(adapter)
                assert record is not None
                loaded = PeftModel.from_pretrained(loaded, record.path).eval()
            models[adapter] = loaded
        return models[adapter]

    def decode(prompt_ids: list[int], adapter: str | None, tokens: int) -> list[int]:
        network = model(adapter)
        cache = DynamicCache(config=network.config)
        feed, out = torch.tensor([prompt_ids]), []
        with torch.inference_mode():
            for _ in range(tokens):
                logits = network(input_ids=feed, cache=cache, use_cache=True).logits[0, -1]
                out.append(int(torch.argmax(logits)))
                feed = torch.tensor([[out[-1]]])
        return out

    yield decode


@dataclass
class Submitted:
    request: Request
    adapter: str | None
    prompt_ids: list[int]
    tokens: int


def prompt(engine: Engine, question: str) -> list[int]:
    return engine.render([{"role": "user", "content": question}])


def submit(
    scheduler: Scheduler,
    engine: Engine,
    question: str,
    adapter: str | None,
    params: SamplingParams,
    seed: int = 0,
) -> Submitted:
    ids = prompt(engine, question)
    generator = torch.Generator().manual_seed(seed)
    request = scheduler.add_request(ids, adapter, params, generator=generator)
    return Submitted(request, adapter, ids, params.max_tokens)


def text_of(request: Request) -> str:
    """The request's whole text from its queued steps (it must have finished)."""
    pieces = []
    while not request.outputs.empty():
        step = request.outputs.get()
        if isinstance(step, Exception):
            raise step
        pieces.append(step.text)
        if step.finish_reason is not None:
            return "".join(pieces)
    raise AssertionError("the request has not finished")


def run_to_end(scheduler: Scheduler) -> list[int]:
    """Step until nothing is left; the batch size of each decode step."""
    sizes = []
    while scheduler.has_unfinished_requests():
        sizes.append(scheduler.step())
    return sizes


def test_sequences_that_join_and_leave_a_batch_decode_as_they_do_alone(
    engine: Engine, reference: Any
) -> None:
    scheduler = Scheduler(engine, max_model_len=MAX_MODEL_LEN, background=False)
    early = [
        submit(scheduler, engine, QUESTIONS[1], None, greedy(12)),
        submit(scheduler, engine, QUESTIONS[3], ADAPTER, greedy(5)),  # leaves first
        submit(scheduler, engine, QUESTIONS[0], OTHER_ADAPTER, greedy(10)),
    ]
    assert [scheduler.step(), scheduler.step()] == [3, 3]
    # joining later: a longer prompt than the batch (the rows already there get padded)
    # and a shorter one (padded itself)
    late = [
        submit(scheduler, engine, QUESTIONS[2], ADAPTER, greedy(9)),
        submit(scheduler, engine, QUESTIONS[0], None, greedy(6)),
    ]
    assert len(prompt(engine, QUESTIONS[2])) > len(prompt(engine, QUESTIONS[1])) + 2
    sizes = run_to_end(scheduler)
    assert sizes[0] == 5 and 0 not in sizes
    for job in early + late:
        expected = engine.decode(reference(job.prompt_ids, job.adapter, job.tokens))
        assert text_of(job.request) == expected, (job.adapter, job.prompt_ids)


def test_a_seeded_request_samples_the_same_whatever_runs_beside_it(engine: Engine) -> None:
    params = SamplingParams(max_tokens=12, temperature=1.0, top_p=0.9, ignore_eos=True)

    def sampled(neighbours: int) -> str:
        scheduler = Scheduler(engine, max_model_len=MAX_MODEL_LEN, background=False)
        job = submit(scheduler, engine, QUESTIONS[1], ADAPTER, params, seed=7)
        for index in range(neighbours):
            submit(scheduler, engine, QUESTIONS[index % 4], None, params, seed=index)
        assert scheduler.step() == 1 + neighbours
        run_to_end(scheduler)
        return text_of(job.request)

    assert sampled(0) == sampled(3)


def test_max_num_seqs_bounds_the_batch_and_the_rest_wait(engine: Engine, reference: Any) -> None:
    scheduler = Scheduler(engine, max_model_len=MAX_MODEL_LEN, max_num_seqs=2, background=False)
    jobs = [submit(scheduler, engine, QUESTIONS[i], None, greedy(4)) for i in range(3)]
    assert run_to_end(scheduler) == [2, 2, 2, 1, 1, 1]
    for job in jobs:
        assert text_of(job.request) == engine.decode(reference(job.prompt_ids, None, 4))


def test_a_request_for_one_adapter_more_than_max_loras_waits_for_room(
    engine: Engine, reference: Any
) -> None:
    scheduler = Scheduler(engine, max_model_len=MAX_MODEL_LEN, max_loras=1, background=False)
    first = submit(scheduler, engine, QUESTIONS[1], ADAPTER, greedy(3))
    other = submit(scheduler, engine, QUESTIONS[3], OTHER_ADAPTER, greedy(3))
    base = submit(scheduler, engine, QUESTIONS[0], None, greedy(3))  # goes ahead of `other`
    assert run_to_end(scheduler) == [2, 2, 1, 1]
    for job in (first, other, base):
        expected = engine.decode(reference(job.prompt_ids, job.adapter, 3))
        assert text_of(job.request) == expected


def test_unloading_an_adapter_ends_its_sequences_and_no_other(
    engine: Engine, adapters: AdapterFolders, reference: Any
) -> None:
    record = adapters.get(OTHER_ADAPTER)
    assert record is not None
    scheduler = Scheduler(engine, max_model_len=MAX_MODEL_LEN, background=False)
    base = submit(scheduler, engine, QUESTIONS[1], None, greedy(8))
    doomed = submit(scheduler, engine, QUESTIONS[3], OTHER_ADAPTER, greedy(8))
    try:
        assert scheduler.step() == 2
        engine.remove_adapter(OTHER_ADAPTER)
        assert run_to_end(scheduler)[-1] == 1
    finally:
        engine.add_adapter(OTHER_ADAPTER, record.path)
    with pytest.raises(AdapterRefused, match=f"LoRA adapter '{OTHER_ADAPTER}' was unloaded"):
        text_of(doomed.request)
    assert text_of(base.request) == engine.decode(reference(base.prompt_ids, None, 8))


def test_a_failed_step_ends_the_running_requests_and_later_ones_run(
    engine: Engine, reference: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler = Scheduler(engine, max_model_len=MAX_MODEL_LEN, background=False)
    doomed = submit(scheduler, engine, QUESTIONS[1], ADAPTER, greedy(5))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the forward failed")

    with monkeypatch.context() as patch:
        patch.setattr(engine, "decode_step", broken)
        assert scheduler.step() == 0
    with pytest.raises(RuntimeError, match="the forward failed"):
        text_of(doomed.request)
    assert not scheduler.has_unfinished_requests()
    later = submit(scheduler, engine, QUESTIONS[3], None, greedy(3))
    run_to_end(scheduler)
    assert text_of(later.request) == engine.decode(reference(later.prompt_ids, None, 3))


def test_an_aborted_request_leaves_the_batch(engine: Engine) -> None:
    scheduler = Scheduler(engine, max_model_len=MAX_MODEL_LEN, background=False)
    kept = submit(scheduler, engine, QUESTIONS[1], None, greedy(6))
    dropped = submit(scheduler, engine, QUESTIONS[3], None, greedy(6))
    assert scheduler.step() == 2
    scheduler.abort(dropped.request)
    assert run_to_end(scheduler) == [1] * 4  # 6 tokens: 1 from prefill, 1 per decode step
    assert len(text_of(kept.request)) > 0


def test_the_reader_gets_steps_from_the_background_thread_and_closing_aborts(
    engine: Engine, reference: Any
) -> None:
    scheduler = Scheduler(engine, max_model_len=MAX_MODEL_LEN)
    ids = prompt(engine, QUESTIONS[1])
    steps = list(scheduler.generate(ids, ADAPTER, greedy(7), generator=torch.Generator()))
    assert [step.finish_reason for step in steps] == [None] * 6 + ["length"]
    assert "".join(step.text for step in steps) == engine.decode(reference(ids, ADAPTER, 7))
    stream = scheduler.generate(ids, None, greedy(200), generator=torch.Generator())
    next(stream)
    stream.close()
    for _ in range(1000):  # the thread ends once the aborted request has left
        if not scheduler.has_unfinished_requests():
            break
        threading.Event().wait(0.01)
    assert not scheduler.has_unfinished_requests()


# --- the padded cache -------------------------------------------------------------------------
def prefilled(*prompts: list[int]) -> PaddedBatch:
    """A batch as a prefill of `prompts` leaves it: every cached value is the row's number
    plus one (a NaN on padding, which the batch must not keep)."""
    inputs = prefill_inputs(prompts)
    cache = DynamicCache()
    rows, width = inputs["input_ids"].shape
    states = torch.arange(1.0, rows + 1).reshape(rows, 1, 1, 1).expand(rows, 1, width, 4)
    states = states.masked_fill((inputs["attention_mask"] == 0)[:, None, :, None], float("nan"))
    for layer in range(2):
        cache.update(states.clone(), states.clone(), layer)
    return PaddedBatch(cache, inputs["attention_mask"])


def test_prompts_are_left_padded_with_positions_that_count_their_own_tokens() -> None:
    inputs = prefill_inputs([[5, 6], [7, 8, 9, 10]])
    assert inputs["input_ids"].tolist() == [[0, 0, 5, 6], [7, 8, 9, 10]]
    assert inputs["attention_mask"].tolist() == [[0, 0, 1, 1], [1, 1, 1, 1]]
    assert inputs["position_ids"].tolist() == [[0, 0, 0, 1], [0, 1, 2, 3]]


def test_rows_are_left_padded_on_joining_and_the_padding_is_cut_when_they_leave() -> None:
    batch = prefilled([1, 2, 3])
    batch.extend(prefilled([1, 2, 3, 4, 5], [1]))
    assert (len(batch), batch.length) == (3, 5)
    assert batch.cache is not None
    keys = batch.cache.layers[0].keys
    assert keys[:, 0, :, 0].tolist() == [[0, 0, 1, 1, 1], [1] * 5, [0, 0, 0, 0, 2]]
    assert batch.cache.layers[1].values[2, 0, :, 0].tolist() == [0, 0, 0, 0, 2]  # no NaN
    inputs = batch.decode_inputs([7, 8, 9])
    assert inputs["attention_mask"].tolist() == [[0, 0, 1, 1, 1, 1], [1] * 6, [0] * 4 + [1] * 2]
    assert inputs["position_ids"].tolist() == [[3], [5], [1]]
    assert inputs["input_ids"].tolist() == [[7], [8], [9]]
    for layer in batch.cache.layers:  # what the forward does: one column per row
        layer.keys = torch.cat([layer.keys, torch.zeros(3, 1, 1, 4)], dim=2)
    batch.keep([0, 2])
    assert (len(batch), batch.length) == (2, 4)  # the two padding columns are gone
    assert batch.cache.layers[0].keys[:, 0, :, 0].tolist() == [[1, 1, 1, 0], [0, 0, 2, 0]]
    batch.keep([])
    assert (len(batch), batch.cache) == (0, None)


def test_decode_inputs_want_one_token_per_row() -> None:
    batch = prefilled([1, 2])
    with pytest.raises(ValueError, match="2 tokens for a batch of 1 rows"):
        batch.decode_inputs([1, 2])
