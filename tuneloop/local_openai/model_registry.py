"""The models the stand-in serves: the base catalogue plus the fine-tunes its jobs produced.

A fine-tuned model answers from the examples its job was trained on (merged with its parent's
when the job continued an `ft:` model). Its retrieval index is built once, on first use, and
kept in memory. Like OpenAI's, a new model may answer `model_not_found` for `load_delay_s`
after its job succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tuneloop.local_openai.catalog import (
    BaseModel,
    listed_base_models,
    model_object,
    resolve_base,
)
from tuneloop.local_openai.clock import Clock
from tuneloop.local_openai.errors import model_not_found, permission_denied
from tuneloop.local_openai.retrieval import RetrievalIndex
from tuneloop.local_openai.storage import Storage
from tuneloop.local_openai.training_validation import Example


@dataclass(frozen=True)
class ServedModel:
    """What a chat completion needs: the id to report, the tokenizer, and the index (None for
    a base model, which only knows the fallback)."""

    id: str
    encoding: str
    index: RetrievalIndex | None


class ModelRegistry:
    """Fine-tuned model records on disk, keyed by the job that produced them."""

    def __init__(
        self, storage: Storage, clock: Clock, *, load_delay_s: float, similarity_threshold: float
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._load_delay_s = load_delay_s
        self._threshold = similarity_threshold
        self._records: dict[str, dict[str, Any]] = storage.load_all("models")
        self._by_id: dict[str, str] = {r["id"]: key for key, r in self._records.items()}
        self._indexes: dict[str, RetrievalIndex] = {}

    # --- fine-tuned models ------------------------------------------------------------------
    def register(
        self, *, model_id: str, job_id: str, base: BaseModel, parent: str | None, created: float
    ) -> None:
        """Record a model whose job just succeeded; it loads `load_delay_s` later."""
        record = {
            "id": model_id,
            "job_id": job_id,
            "base": base.id,
            "parent": parent,
            "created": created,
            "ready_at": created + self._load_delay_s,
        }
        self._storage.save("models", job_id, record)
        self._records[job_id] = record
        self._by_id[model_id] = job_id

    def save_examples(self, job_id: str, examples: Sequence[Example]) -> None:
        self._storage.save("examples", job_id, [example.to_json() for example in examples])

    def drop_examples(self, job_id: str) -> None:
        """Forget the examples of a job that will never produce a model."""
        self._storage.delete("examples", job_id)

    def examples_of(self, model_id: str) -> list[Example]:
        """What a fine-tuned model was taught (for continued training)."""
        job_id = self._by_id[model_id]
        rows = self._storage.load("examples", job_id) or []
        return [Example.from_json(row) for row in rows]

    def fine_tuned(self, model_id: str) -> dict[str, Any] | None:
        job_id = self._by_id.get(model_id)
        return self._records.get(job_id) if job_id else None

    # --- the API ----------------------------------------------------------------------------
    def list(self) -> dict[str, Any]:
        data = listed_base_models()
        for record in sorted(self._records.values(), key=lambda r: (r["created"], r["id"])):
            data.append(self._object(record))
        return {"object": "list", "data": data}

    def retrieve(self, model_id: str) -> dict[str, Any]:
        base = resolve_base(model_id)
        if base is not None:
            return model_object(model_id, base.created, base.shutdown_date)
        record = self.fine_tuned(model_id)
        if record is None:
            raise model_not_found(model_id)
        return self._object(record)

    def delete(self, model_id: str) -> dict[str, Any]:
        if resolve_base(model_id) is not None:
            raise permission_denied(
                "You have insufficient permissions for this operation: only fine-tuned models "
                "can be deleted."
            )
        job_id = self._by_id.get(model_id)
        if job_id is None:
            raise model_not_found(model_id)
        self._storage.delete("models", job_id)
        self._storage.delete("examples", job_id)
        self._records.pop(job_id, None)
        self._by_id.pop(model_id, None)
        self._indexes.pop(model_id, None)
        return {"id": model_id, "object": "model", "deleted": True}

    def served(self, model_id: str) -> ServedModel:
        """The model a chat completion runs on; `model_not_found` if unknown or still loading."""
        base = resolve_base(model_id)
        if base is not None:
            return ServedModel(base.id, base.encoding, None)
        record = self.fine_tuned(model_id)
        if record is None or self._clock.now() < record["ready_at"]:
            raise model_not_found(model_id)
        index = self._indexes.get(model_id)
        if index is None:
            index = RetrievalIndex(self.examples_of(model_id), self._threshold)
            self._indexes[model_id] = index
        base = resolve_base(record["base"])
        return ServedModel(model_id, base.encoding if base else "o200k_base", index)

    def _object(self, record: dict[str, Any]) -> dict[str, Any]:
        base = resolve_base(record["base"])
        return model_object(
            record["id"], int(record["created"]), base.shutdown_date if base else None
        )
