"""Does a model answer? One small chat completion, after loading it on the serving side.

Promotion asks before serving a model (a model that does not exist, or that the provider
refuses, would turn every reply into an apology), and `/healthz` asks, now and then, about the
model being served. The result says what went wrong in words fit to show anyone (an HTTP status
and the provider's error code, never the exception's text, which may quote URLs); the caller
logs `detail` for whoever runs the server.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import openai

from scheduler.errors import ServingError
from scheduler.training.openai_trainer import provider_code

if TYPE_CHECKING:
    from scheduler.cycle.context import ModelServing

#: What the probe sends: one token of answer to a one-word question.
PROBE_MESSAGES = ({"role": "user", "content": "ping"},)
PROBE_MAX_TOKENS = 1


class ProbeOutcome(enum.Enum):
    ANSWERS = "answers"
    RATE_LIMITED = "rate_limited"  # the model exists; the provider is throttling us now
    NOT_SERVED = "not_served"  # unknown to the provider, or not loadable on the serving side
    REFUSED = "refused"  # the provider refused the request or our key (400, 401, 403, 422)
    UNAVAILABLE = "unavailable"  # 5xx, timeout, connection failure


@dataclass(frozen=True)
class ProbeResult:
    """`problem` is None when the model answered, else a short public reason; `detail` is
    the raw error, for the log only."""

    model: str
    outcome: ProbeOutcome
    problem: str | None = None
    detail: str | None = None

    @property
    def answers(self) -> bool:
        return self.outcome is ProbeOutcome.ANSWERS


def probe_model(
    client: openai.OpenAI,
    model: str,
    *,
    serving: ModelServing | None = None,
    timeout_s: float = 10.0,
    max_retries: int = 0,
) -> ProbeResult:
    """Ask `model` for a one-token chat completion through `client`, after `serving` (a
    self-hosted backend's adapter loader) has loaded it. Never raises for the model's
    failures: they are the result. `timeout_s` bounds the completion (seconds)."""
    if serving is not None:
        try:
            loaded = serving.ensure(model)
        except ServingError as error:
            return _failed(model, ProbeOutcome.NOT_SERVED, "could not be loaded for serving", error)
        if not loaded:
            return ProbeResult(
                model,
                ProbeOutcome.NOT_SERVED,
                "is neither the served base model nor an adapter in the adapter store",
            )
    try:
        client.with_options(timeout=timeout_s, max_retries=max_retries).chat.completions.create(
            model=model,
            messages=list(PROBE_MESSAGES),  # type: ignore[arg-type]
            max_completion_tokens=PROBE_MAX_TOKENS,
        )
    except openai.APIStatusError as error:
        return _status_failure(model, error)
    except openai.APITimeoutError as error:
        return _failed(
            model, ProbeOutcome.UNAVAILABLE, f"did not answer within {timeout_s:g} s", error
        )
    except openai.APIConnectionError as error:
        return _failed(model, ProbeOutcome.UNAVAILABLE, "the provider could not be reached", error)
    return ProbeResult(model, ProbeOutcome.ANSWERS)


def provider_status(error: openai.APIError) -> str:
    """An API error in words fit to show anyone: `HTTP 404 model_not_found`, `a timeout`."""
    if isinstance(error, openai.APIStatusError):
        code = provider_code(error)
        return f"HTTP {error.status_code}" + (f" {code}" if code else "")
    if isinstance(error, openai.APITimeoutError):
        return "a timeout"
    if isinstance(error, openai.APIConnectionError):
        return "no connection"
    return type(error).__name__


def probe_before_promotion(
    client: openai.OpenAI, model: str, *, serving: ModelServing | None = None
) -> ProbeResult:
    """`probe_model` for a promotion by hand: it may wait for a slow first answer (30 s) and
    ride out a transient 5xx (the SDK's two retries), which a health check may not."""
    return probe_model(client, model, serving=serving, timeout_s=30.0, max_retries=2)


def _status_failure(model: str, error: openai.APIStatusError) -> ProbeResult:
    status = error.status_code
    said = provider_status(error)
    if status == 404:
        return _failed(
            model, ProbeOutcome.NOT_SERVED, f"is not served by the provider ({said})", error
        )
    if status == 429:
        return _failed(model, ProbeOutcome.RATE_LIMITED, f"is rate limited now ({said})", error)
    if status >= 500:
        return _failed(model, ProbeOutcome.UNAVAILABLE, f"failed at the provider ({said})", error)
    return _failed(model, ProbeOutcome.REFUSED, f"was refused by the provider ({said})", error)


def _failed(model: str, outcome: ProbeOutcome, problem: str, error: Exception) -> ProbeResult:
    return ProbeResult(model, outcome, problem, f"{type(error).__name__}: {error}")
