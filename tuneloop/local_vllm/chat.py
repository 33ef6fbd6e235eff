"""`/v1/chat/completions`: real generation, answered in vLLM's response and chunk shapes.

The shapes are vLLM 0.32's as it answered on this machine: a completion's message carries
`refusal`, `annotations`, `audio`, `function_call` and `reasoning` (all null), each choice a
`stop_reason`; a stream opens with a `role` chunk per choice, then sends one chunk per
generated token (its `content` may be "" while text is held back), the last with
`finish_reason`, then with `stream_options.include_usage` a chunk with empty `choices` and
`usage`, then `data: [DONE]`. `completion_tokens` counts every generated token, EOS included.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch

from tuneloop.local_vllm.engine import Engine
from tuneloop.local_vllm.errors import bad_request
from tuneloop.local_vllm.generation import SamplingParams, TokenStep
from tuneloop.local_vllm.models import ServedModels
from tuneloop.local_vllm.protocol import ChatRequest, parse_chat_request
from tuneloop.local_vllm.scheduler import Scheduler

SYSTEM_FINGERPRINT = "vllm-0.32.0-local-stand-in"


class ChatService:
    """Checks a request, renders its prompt, and generates its completion(s) on `scheduler`
    (the choices of one request one after another, so they draw from its generator in turn).

    `seed` seeds the sampler of requests that give no `seed` of their own (vLLM's `--seed`),
    so a server started with the same seed answers the same sequence of requests the same.
    """

    def __init__(
        self,
        engine: Engine,
        scheduler: Scheduler,
        models: ServedModels,
        *,
        seed: int,
        clock: Callable[[], float],
    ) -> None:
        self._engine = engine
        self._scheduler = scheduler
        self._models = models
        self._clock = clock
        self._seeds = random.Random(seed)
        self._seeds_lock = threading.Lock()

    def create(self, body: object) -> dict[str, Any] | Iterator[dict[str, Any]]:
        """A completion (dict), or the chunks of a stream (generated as they are read).

        Everything that can be refused is checked before this returns; raises VLLMError.
        """
        max_model_len = self._models.max_model_len
        request = parse_chat_request(body, max_model_len=max_model_len)
        name, adapter = self._models.resolve(request.model)
        try:
            prompt_ids = self._engine.render(request.messages)
        except Exception as error:  # jinja's TemplateError and friends: vLLM answers 400
            raise bad_request(f"Chat template error: {error}") from error
        if len(prompt_ids) >= max_model_len:
            shown = min(len(prompt_ids), max_model_len + 1)
            raise bad_request(
                f"This model's maximum context length is {max_model_len} tokens. However, "
                f"your prompt contains at least {shown} input tokens, which exceeds this limit "
                "even without any output tokens. Please reduce the length of the input prompt.",
                param="input_tokens",
                value=shown,
            )
        params = self._sampling(request, room=max_model_len - len(prompt_ids))
        generator = torch.Generator().manual_seed(self._seed(request))

        def choice_steps() -> Iterator[Iterator[TokenStep]]:
            for _ in range(request.n):
                yield self._scheduler.generate(prompt_ids, adapter, params, generator=generator)

        header = {
            "id": f"chatcmpl-{secrets.token_hex(8)}",
            "created": int(self._clock()),
            "model": name,
        }
        if request.stream:
            return _chunks(header, choice_steps(), len(prompt_ids), request)
        return _completion(header, choice_steps(), len(prompt_ids))

    def _sampling(self, request: ChatRequest, *, room: int) -> SamplingParams:
        defaults = self._engine.sampling_defaults
        # vLLM v1 lets a completion run to the model's length, whatever max_tokens says.
        max_tokens = min(request.max_tokens or room, room)
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=_pick(request.temperature, defaults.get("temperature"), 1.0),
            top_p=_pick(request.top_p, defaults.get("top_p"), 1.0),
            top_k=int(_pick(request.top_k, defaults.get("top_k"), 0)),
            stop=request.stop,
            stop_token_ids=request.stop_token_ids,
            ignore_eos=request.ignore_eos,
        )

    def _seed(self, request: ChatRequest) -> int:
        if request.seed is not None:
            return request.seed
        with self._seeds_lock:
            return self._seeds.getrandbits(63)


def _pick(asked: float | None, configured: float | None, default: float) -> float:
    if asked is not None:
        return asked
    return configured if configured is not None else default


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }


def _completion(
    header: dict[str, Any], choices: Iterator[Iterator[TokenStep]], prompt_tokens: int
) -> dict[str, Any]:
    rendered = []
    completion_tokens = 0
    for index, steps in enumerate(choices):
        taken = list(steps)
        completion_tokens += len(taken)
        rendered.append(
            {
                "index": index,
                "message": {
                    "role": "assistant",
                    "content": "".join(step.text for step in taken),
                    "refusal": None,
                    "annotations": None,
                    "audio": None,
                    "function_call": None,
                    "reasoning": None,
                },
                "logprobs": None,
                "finish_reason": taken[-1].finish_reason,
                "stop_reason": taken[-1].stop_reason,
                "token_ids": None,
                "routed_experts": None,
            }
        )
    usage = _usage(prompt_tokens, completion_tokens)
    return {
        "id": header["id"],
        "object": "chat.completion",
        "created": header["created"],
        "model": header["model"],
        "choices": rendered,
        "service_tier": None,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": {**usage, "prompt_tokens_details": None, "completion_tokens_details": None},
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "prompt_text": None,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


def _chunks(
    header: dict[str, Any],
    choices: Iterator[Iterator[TokenStep]],
    prompt_tokens: int,
    request: ChatRequest,
) -> Iterator[dict[str, Any]]:
    base = {
        "id": header["id"],
        "object": "chat.completion.chunk",
        "created": header["created"],
        "model": header["model"],
    }
    for index in range(request.n):
        opening = {"role": "assistant", "content": ""}
        yield {
            **base,
            "choices": [
                {"index": index, "delta": opening, "logprobs": None, "finish_reason": None}
            ],
            "prompt_token_ids": None,
            "prompt_text": None,
        }
    completion_tokens = 0
    for index, steps in enumerate(choices):
        for step in steps:
            completion_tokens += 1
            choice: dict[str, Any] = {
                "index": index,
                "delta": {"content": step.text},
                "logprobs": None,
                "finish_reason": step.finish_reason,
            }
            if step.finish_reason is not None:
                choice["stop_reason"] = step.stop_reason
            choice["token_ids"] = None
            chunk = {**base, "choices": [choice]}
            last = step.finish_reason is not None and index == request.n - 1
            if last and not request.include_usage:
                chunk["system_fingerprint"] = SYSTEM_FINGERPRINT
            yield chunk
    if request.include_usage:
        yield {
            **base,
            "choices": [],
            "usage": _usage(prompt_tokens, completion_tokens),
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
