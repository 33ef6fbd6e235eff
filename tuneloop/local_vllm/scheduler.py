"""Continuous batching: which sequences run at each step, and the thread that runs the steps.

As vLLM's scheduler does, each step admits waiting requests while fewer than `max_num_seqs`
run and their adapters stay within `max_loras` (the new prompts are prefilled together in
one forward, within a prompt-token budget per step), then decodes every running sequence in
one forward pass (`Engine.decode_step`); a sequence leaves the batch when it finishes, fails or is
aborted, and others join at any step. Requests for different adapters share a step (PEFT's
mixed batch). Sampling stays per request: each has its
own `torch.Generator`, so a seeded request samples the same tokens whoever it shares steps
with; greedy requests agree with unbatched greedy decoding up to float rounding (batched
matrix products may round differently, as in vLLM).

Requests are read as iterators (`Scheduler.generate`): a background thread runs steps while
any request is unfinished and exits when none is; each step's tokens reach their readers
through per-request queues, so streams flow as tokens are produced. Closing an iterator aborts
its request; a reader that neither reads nor closes its iterator leaves its sequence running
to its end (`max_tokens`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from tuneloop.local_vllm.config import DEFAULT_MAX_NUM_SEQS
from tuneloop.local_vllm.engine import AdapterRefused, AdaptersUnloaded, Engine
from tuneloop.local_vllm.generation import Detokenizer, SamplingParams, TokenStep, sample
from tuneloop.local_vllm.kv_batch import PaddedBatch

log = logging.getLogger(__name__)

#: Prompt tokens prefilled per step at most, padding not counted (one prompt always goes in,
#: whatever its length):
#: vLLM's CPU default `max_num_batched_tokens`, which bounds how long a step that admits new
#: requests stalls the streams already running.
MAX_NUM_BATCHED_TOKENS = 2048


@dataclass(eq=False)
class Request:
    """One completion being generated (vLLM's `Request`).

    `outputs` carries each `TokenStep`, or the exception that ended the request, to its
    reader; `next_token` is the token sampled last and not yet fed to the model.
    """

    prompt_ids: tuple[int, ...]
    adapter: str | None
    params: SamplingParams
    generator: torch.Generator
    detokenizer: Detokenizer
    outputs: queue.SimpleQueue[TokenStep | Exception] = field(default_factory=queue.SimpleQueue)
    next_token: int = -1
    aborted: bool = False


class Scheduler:
    """Runs requests in continuous batches on one `Engine`.

    `max_model_len`: prompt plus completion tokens at most. `max_num_seqs`: sequences decoded
    together at most (vLLM's `--max-num-seqs`); 1 decodes one request at a time, first come
    first served; an engine whose model cannot batch (`Engine.batchable`) runs one at a time
    whatever it says. `max_loras`: distinct adapters in one batch at most (vLLM's
    `--max-loras`; None: no limit); the base model is not one. `background` False leaves the
    steps to the caller (`step`), as vLLM's `LLMEngine.step`: for tests that need to know what
    ran together.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_model_len: int,
        max_num_seqs: int = DEFAULT_MAX_NUM_SEQS,
        max_loras: int | None = None,
        background: bool = True,
    ) -> None:
        if max_num_seqs < 1:
            raise ValueError(f"max_num_seqs must be at least 1, got {max_num_seqs}")
        if max_loras is not None and max_loras < 1:
            raise ValueError(f"max_loras must be at least 1, got {max_loras}")
        self._engine = engine
        self._max_model_len = max_model_len
        self._max_num_seqs = max_num_seqs if engine.batchable else 1
        self._max_loras = max_loras if max_loras is not None else max_num_seqs
        self._background = background
        self._lock = threading.Lock()
        self._waiting: deque[Request] = deque()
        self._thread: threading.Thread | None = None
        # Owned by the thread that runs `step`:
        self._running: list[Request] = []
        self._batch = PaddedBatch()

    # --- readers' side --------------------------------------------------------------------
    def generate(
        self,
        prompt_ids: Sequence[int],
        adapter: str | None,
        params: SamplingParams,
        *,
        generator: torch.Generator,
    ) -> Iterator[TokenStep]:
        """One completion of `prompt_ids` with `adapter` (None: the base model).

        Yields one `TokenStep` per generated token as steps produce it; the last has a
        `finish_reason`. The request is added at the first `next`, and aborted when the
        iterator is closed early. Raises what ended the request: AdapterRefused when its
        adapter was unloaded, or the engine's failure.
        """
        request = self.add_request(prompt_ids, adapter, params, generator=generator)
        try:
            while True:
                step = request.outputs.get()
                if isinstance(step, Exception):
                    raise step
                yield step
                if step.finish_reason is not None:
                    return
        finally:
            self.abort(request)

    def add_request(
        self,
        prompt_ids: Sequence[int],
        adapter: str | None,
        params: SamplingParams,
        *,
        generator: torch.Generator,
    ) -> Request:
        """Queue a request; its steps arrive on `Request.outputs`."""
        detokenizer = Detokenizer(
            self._engine, len(prompt_ids), params, max_model_len=self._max_model_len
        )
        request = Request(tuple(prompt_ids), adapter, params, generator, detokenizer)
        with self._lock:
            self._waiting.append(request)
            if self._background and self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="local-vllm-scheduler", daemon=True
                )
                self._thread.start()
        return request

    def abort(self, request: Request) -> None:
        """Stop generating for `request` (nothing happens when it has finished)."""
        request.aborted = True
        with self._lock:
            if request in self._waiting:
                self._waiting.remove(request)

    def has_unfinished_requests(self) -> bool:
        """Whether any request waits or runs (vLLM's `LLMEngine.has_unfinished_requests`)."""
        with self._lock:
            return bool(self._waiting or self._running)

    # --- the stepping thread's side -------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                if not (self._waiting or self._running):
                    self._thread = None  # the next request starts another
                    return
            self.step()

    def step(self) -> int:
        """Drop aborted sequences, admit waiting requests (their prompts prefilled together,
        their first tokens sampled), then feed every running sequence its next token in one
        forward.

        Returns how many sequences that forward decoded (0 when none ran). Never raises: a
        failure ends the requests it concerns, which their readers raise.
        """
        try:
            self._keep([i for i, request in enumerate(self._running) if not request.aborted])
            admitted = self._admit()
            if admitted:
                self._prefill(admitted)
            return self._decode() if self._running else 0
        except Exception as error:  # the batch may be half updated: end what runs
            self._fail_running(error)
            return 0

    def _admit(self) -> list[Request]:
        """Waiting requests to start now, first come first served; a request whose adapter
        would be one more than `max_loras` in the batch waits, in its place, and those behind
        it may go first (vLLM's scheduler skips it the same way)."""
        admitted: list[Request] = []
        skipped: list[Request] = []
        loras = {request.adapter for request in self._running if request.adapter is not None}
        budget = MAX_NUM_BATCHED_TOKENS
        with self._lock:
            while self._waiting and len(self._running) + len(admitted) < self._max_num_seqs:
                request = self._waiting.popleft()
                adapter = request.adapter
                if adapter is not None and adapter not in loras and len(loras) >= self._max_loras:
                    skipped.append(request)
                    continue
                if admitted and len(request.prompt_ids) > budget:
                    self._waiting.appendleft(request)
                    break
                admitted.append(request)
                budget -= len(request.prompt_ids)
                if adapter is not None:
                    loras.add(adapter)
            self._waiting.extendleft(reversed(skipped))
        return admitted

    def _prefill(self, requests: list[Request]) -> None:
        """Prefill the admitted requests together, sample their first tokens, and add those
        that go on to the running batch."""
        while requests:
            try:
                logits, rows = self._engine.prefill(
                    [request.prompt_ids for request in requests],
                    [request.adapter for request in requests],
                )
                break
            except AdaptersUnloaded as gone:
                requests = self._drop_unloaded(requests, gone)
            except Exception as error:  # these requests alone: the running batch is untouched
                log.exception("local vLLM stand-in: prefill failed")
                for request in requests:
                    request.outputs.put(error)
                return
        else:
            return
        going_on = self._emit_all(requests, logits)
        # Running first: should the merge fail, `step` ends these requests with the others.
        self._running.extend(requests[row] for row in going_on)
        rows.keep(going_on)
        self._batch.extend(rows)

    def _decode(self) -> int:
        running = self._running
        try:
            logits = self._engine.decode_step(
                self._batch,
                [request.next_token for request in running],
                [request.adapter for request in running],
            )
        except AdaptersUnloaded as gone:
            # The batch is untouched: the others are fed at the next step.
            still = set(self._drop_unloaded(running, gone))
            self._keep([row for row, request in enumerate(running) if request in still])
            return 0
        self._keep(self._emit_all(running, logits))
        return len(running)

    @staticmethod
    def _drop_unloaded(requests: list[Request], gone: AdaptersUnloaded) -> list[Request]:
        """End the requests whose adapter is gone; the others."""
        for request in requests:
            if request.adapter in gone.names:
                request.outputs.put(
                    AdapterRefused(f"LoRA adapter {request.adapter!r} was unloaded")
                )
        return [request for request in requests if request.adapter not in gone.names]

    def _emit_all(self, requests: list[Request], logits: torch.Tensor) -> list[int]:
        """Sample each request's next token from its row of `logits` [rows, vocab] and send
        its step; the rows that go on."""
        going_on = []
        for row, request in enumerate(requests):
            try:
                finished = self._emit(request, logits[row])
            except Exception as error:
                log.exception("local vLLM stand-in: sampling failed")
                request.outputs.put(error)
                finished = True
            if not finished:
                going_on.append(row)
        return going_on

    @staticmethod
    def _emit(request: Request, logits: torch.Tensor) -> bool:
        """Sample the request's next token and send its step; whether it finished."""
        token = sample(logits, request.params, request.generator)
        step = request.detokenizer.append(token)
        request.outputs.put(step)
        request.next_token = token
        return step.finish_reason is not None

    def _fail_running(self, error: Exception) -> None:
        log.error("local vLLM stand-in: a step failed", exc_info=error)
        for request in self._running:
            request.outputs.put(error)
        self._keep([])

    def _keep(self, rows: list[int]) -> None:
        if len(rows) == len(self._running):
            return
        self._running = [self._running[row] for row in rows]
        self._batch.keep(rows)
