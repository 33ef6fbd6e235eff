"""What the provider says about a model: does it answer yet, and when does it shut down.

A fine-tuned model may answer `model_not_found` for minutes after its job succeeded, so the
cycle asks before evaluating. `shutdown_date` comes from `GET /v1/models/{id}`, where OpenAI
reports retirements; fine-tunes inherit their base model's date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import openai

from scheduler.training.openai_trainer import provider_code

#: What a provider answers (404) for a model it does not serve yet: OpenAI's code, and
#: Together's (which also names base models it does not offer).
NOT_SERVED_YET = ("model_not_found", "model_not_available", None)


def model_answers(client: openai.OpenAI, model: str) -> bool:
    """True once `model` answers a chat completion; False while the provider answers 404
    `model_not_found` (OpenAI) or `model_not_available` (Together)."""
    try:
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "ping"}],
            max_completion_tokens=1,
        )
    except openai.NotFoundError as exc:
        if provider_code(exc) in NOT_SERVED_YET:
            return False
        raise
    return True


def model_exists(client: openai.OpenAI, model: str) -> bool:
    """True when the provider knows `model` (`GET /v1/models/{id}` answers), False on 404."""
    try:
        client.models.retrieve(model)
    except openai.NotFoundError:
        return False
    return True


def shutdown_date(client: openai.OpenAI, model: str) -> date | None:
    """The model's announced shutdown date, or None if none is announced (or it is unknown)."""
    try:
        found = client.models.retrieve(model)
    except openai.NotFoundError:
        return None
    value = getattr(found, "shutdown_date", None)
    if value is None and found.model_extra:
        value = found.model_extra.get("shutdown_date")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    if isinstance(value, int | float):  # some servers send a unix timestamp
        return datetime.fromtimestamp(value, UTC).date()
    return None
