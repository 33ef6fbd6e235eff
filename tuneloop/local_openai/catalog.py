"""The base models the stand-in lists, and what it tells clients about every model.

The ids, creation times and retirement dates mirror OpenAI's model list (OpenAI reports
2027-01-14 as the shutdown of the gpt-4o/4o-mini/4.1/4.1-mini families and their fine-tunes),
so code that refuses to promote a model that shuts down soon can be tested offline.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Shown as `owned_by` on every model, so nobody mistakes the stand-in for a language model.
STAND_IN_OWNER = "tuneloop-local-stand-in (nearest-neighbour retrieval, not a language model)"

#: The `org` part of fine-tuned model names: `ft:{base}:{org}:{suffix}:{id}`.
ORGANIZATION = "local"
ORGANIZATION_ID = "org-local-stand-in"

_RETIRING = "2027-01-14"


@dataclass(frozen=True)
class BaseModel:
    """A base model: its snapshot id, when OpenAI published it, and its retirement date."""

    id: str
    created: int
    shutdown_date: str | None
    encoding: str = "o200k_base"
    fine_tunable: bool = True


_SNAPSHOTS = (
    BaseModel("gpt-4.1-2025-04-14", 1744316542, _RETIRING),
    BaseModel("gpt-4.1-mini-2025-04-14", 1744317547, _RETIRING),
    BaseModel("gpt-4.1-nano-2025-04-14", 1744321025, None),
    BaseModel("gpt-4o-2024-08-06", 1722814719, _RETIRING),
    BaseModel("gpt-4o-mini-2024-07-18", 1721172717, _RETIRING),
    BaseModel("gpt-3.5-turbo-0125", 1706048358, None, encoding="cl100k_base"),
)

#: Aliases resolve to a snapshot, as OpenAI's do (`gpt-4o-mini` -> `gpt-4o-mini-2024-07-18`).
ALIASES: dict[str, str] = {
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
}

BASE_MODELS: dict[str, BaseModel] = {model.id: model for model in _SNAPSHOTS}


def resolve_base(model: str) -> BaseModel | None:
    """The snapshot behind a base model id or alias, or None if it is not a known base model."""
    return BASE_MODELS.get(ALIASES.get(model, model))


def listed_base_models() -> list[dict[str, object]]:
    """`Model` objects for the base snapshots and their aliases."""
    listed: list[dict[str, object]] = []
    for model in _SNAPSHOTS:
        listed.append(model_object(model.id, model.created, model.shutdown_date))
    for alias, target in ALIASES.items():
        base = BASE_MODELS[target]
        listed.append(model_object(alias, base.created, base.shutdown_date))
    return listed


def model_object(model_id: str, created: int, shutdown_date: str | None) -> dict[str, object]:
    """A `Model` as the spec shapes it."""
    return {
        "id": model_id,
        "object": "model",
        "created": int(created),
        "owned_by": STAND_IN_OWNER,
        "shutdown_date": shutdown_date,
    }
