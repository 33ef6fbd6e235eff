"""One completion, token by token: sampling, stop conditions and the text to stream.

Follows vLLM's `SamplingParams` semantics: temperature below 1e-5 is greedy; `top_k` -1 or 0
and `top_p` 1 switch those filters off; generation stops at an EOS token (unless
`ignore_eos`), at one of `stop_token_ids`, when a `stop` string appears (the text is cut
before it and it becomes the `stop_reason`), after `max_tokens`, or at the model's length.
While streaming, text that may still turn into a stop string (the longest stop string less
one character) or that ends in an incomplete UTF-8 sequence is held back, as vLLM's
detokenizer does, so a stream's pieces always add up to the whole completion's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tuneloop.local_vllm.engine import Engine

#: vLLM treats temperatures below this as greedy (`_SAMPLING_EPS`).
SAMPLING_EPS = 1e-5
_INCOMPLETE = "\ufffd"


@dataclass(frozen=True)
class SamplingParams:
    """What a request asked for, checked (see `protocol.parse_chat_request`)."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    stop_token_ids: frozenset[int] = frozenset()
    ignore_eos: bool = False

    @property
    def greedy(self) -> bool:
        return self.temperature < SAMPLING_EPS


@dataclass(frozen=True)
class TokenStep:
    """One generated token: the text it releases ("" while held back) and, on the last
    token, why generation ended (`stop` or `length`) and the stop string or token hit."""

    text: str
    finish_reason: str | None = None
    stop_reason: str | int | None = None


class Detokenizer:
    """One completion's sampled tokens turned into `TokenStep`s, and the check for its end
    (vLLM's incremental detokenizer and `check_stop`).

    `prompt_tokens`: the prompt's length, so that prompt plus completion stay within
    `max_model_len` whatever `max_tokens` says.
    """

    def __init__(
        self, engine: Engine, prompt_tokens: int, params: SamplingParams, *, max_model_len: int
    ) -> None:
        self._engine = engine
        self._prompt_tokens = prompt_tokens
        self._params = params
        self._max_model_len = max_model_len
        self._generated: list[int] = []
        self._emitted = 0
        self._hold = max((len(stop) for stop in params.stop), default=1) - 1

    def append(self, token: int) -> TokenStep:
        """The step that `token`, the next sampled token, releases; the last has a
        `finish_reason` (no token may be appended after it)."""
        params = self._params
        self._generated.append(token)
        finish, stop_reason = _stop_token(token, self._engine, params)
        text = self._engine.decode(self._generated)
        if finish is None and params.stop:
            hit = _first_stop(text, params.stop)
            if hit is not None:
                text, finish, stop_reason = text[: hit[0]], "stop", hit[1]
        if finish is None and (
            len(self._generated) >= params.max_tokens
            or self._prompt_tokens + len(self._generated) >= self._max_model_len
        ):
            finish = "length"
        if finish is not None:
            return TokenStep(text[self._emitted :], finish, stop_reason)
        ready = len(text.rstrip(_INCOMPLETE))
        ready = min(ready, len(text) - self._hold)
        piece = text[self._emitted : ready] if ready > self._emitted else ""
        self._emitted = max(self._emitted, ready)
        return TokenStep(piece)


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """The next token id from a [vocab] float tensor of logits."""
    if params.greedy:
        return int(torch.argmax(logits))
    logits = logits / params.temperature
    if 0 < params.top_k < logits.numel():
        kth = torch.topk(logits, params.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True)
        probs = torch.softmax(ordered, dim=-1)
        # Drop a token when the tokens above it already reach top_p; the first always stays.
        drop = torch.cumsum(probs, dim=-1) - probs > params.top_p
        logits = logits.scatter(0, order, ordered.masked_fill(drop, float("-inf")))
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def _stop_token(
    token: int, engine: Engine, params: SamplingParams
) -> tuple[str | None, int | None]:
    if token in params.stop_token_ids:
        return "stop", token
    if not params.ignore_eos and token in engine.eos_token_ids:
        return "stop", None
    return None, None


def _first_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """Where the earliest stop string starts in `text`, and which one it is."""
    found = [(text.find(stop), stop) for stop in stops if stop and stop in text]
    return min(found) if found else None
