"""The models the Together stand-in serves: its base models and the jobs' output models.

An output model answers by retrieval over the examples its job was trained on (with its
parent's, when the job continued one through `from_checkpoint`), like the OpenAI stand-in's
fine-tunes, and answers `model_not_available` for `load_delay_s` after its job completed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuneloop.local_openai.clock import Clock
from tuneloop.local_openai.errors import ApiError
from tuneloop.local_openai.model_registry import ServedModel
from tuneloop.local_openai.retrieval import RetrievalIndex
from tuneloop.local_openai.storage import Storage
from tuneloop.local_openai.training_validation import Example
from tuneloop.local_together.catalog import BASE_MODELS

ENCODING = "o200k_base"


def model_not_available(model: str) -> ApiError:
    """Together's answer for a model it does not serve (or not yet)."""
    return ApiError(
        404,
        f"Unable to access model {model}. Please visit https://api.together.ai/models to view "
        "the list of supported models.",
        code="model_not_available",
    )


class ModelRegistry:
    """Output models on disk, keyed by the job that made them (names contain slashes)."""

    def __init__(
        self, storage: Storage, clock: Clock, *, load_delay_s: float, similarity_threshold: float
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._load_delay_s = load_delay_s
        self._threshold = similarity_threshold
        self._records: dict[str, dict[str, Any]] = storage.load_all("models")
        self._by_name = {r["id"]: key for key, r in self._records.items()}
        self._indexes: dict[str, RetrievalIndex] = {}

    def register(self, *, name: str, job_id: str, base: str, created: float) -> None:
        record = {
            "id": name,
            "job_id": job_id,
            "base": base,
            "created": created,
            "ready_at": created + self._load_delay_s,
        }
        self._storage.save("models", job_id, record)
        self._records[job_id] = record
        self._by_name[name] = job_id

    def save_examples(self, job_id: str, examples: Sequence[Example]) -> None:
        self._storage.save("examples", job_id, [e.to_json() for e in examples])

    def examples_of_job(self, job_id: str) -> list[Example]:
        return [Example.from_json(row) for row in self._storage.load("examples", job_id) or []]

    def drop_examples(self, job_id: str) -> None:
        self._storage.delete("examples", job_id)

    def served(self, model_id: str) -> ServedModel:
        """For chat completions: a base model (no index: it only knows the fallback), or a
        loaded output model."""
        if model_id in BASE_MODELS:
            return ServedModel(model_id, ENCODING, None)
        job_id = self._by_name.get(model_id)
        record = self._records.get(job_id) if job_id else None
        if record is None or self._clock.now() < record["ready_at"]:
            raise model_not_available(model_id)
        index = self._indexes.get(model_id)
        if index is None:
            index = RetrievalIndex(self.examples_of_job(record["job_id"]), self._threshold)
            self._indexes[model_id] = index
        return ServedModel(model_id, ENCODING, index)

    def list(self) -> list[dict[str, Any]]:
        """`GET /models`: a bare array, base models first, then the loaded output models."""
        data = [model.model_object() for model in BASE_MODELS.values()]
        now = self._clock.now()
        for record in sorted(self._records.values(), key=lambda r: (r["created"], r["id"])):
            if now >= record["ready_at"]:
                data.append(
                    {
                        "id": record["id"],
                        "object": "model",
                        "created": int(record["created"]),
                        "type": "chat",
                        "display_name": record["id"].rpartition("/")[2],
                        "organization": record["id"].partition("/")[0],
                        "context_length": BASE_MODELS[record["base"]].context_length,
                    }
                )
        return data
