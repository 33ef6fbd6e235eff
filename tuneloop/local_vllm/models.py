"""What the server serves: the base model under its names, and the adapters loaded at runtime.

`/v1/models` lists one card per base model name (`root` the model path, `parent` null,
`max_model_len`) and one per adapter (`root` the adapter's path, `parent` the first base name),
in vLLM's `ModelCard` shape (vllm/entrypoints/openai/models/serving.py).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuneloop.local_vllm.errors import model_not_found


@dataclass(frozen=True)
class LoadedAdapter:
    """One runtime-loaded adapter (vLLM's `LoRARequest`): its name, path and integer id."""

    name: str
    path: str
    lora_int_id: int


class ServedModels:
    """The base model's names and the loaded adapters; safe to use from several threads."""

    def __init__(
        self, names: tuple[str, ...], root: str, max_model_len: int, clock: Callable[[], float]
    ) -> None:
        if not names:
            raise ValueError("the base model needs at least one served name")
        self.names = names
        self.root = root
        self.max_model_len = max_model_len
        self._clock = clock
        self._adapters: dict[str, LoadedAdapter] = {}
        self._next_id = 1
        self._lock = threading.Lock()

    def adapter(self, name: str) -> LoadedAdapter | None:
        with self._lock:
            return self._adapters.get(name)

    def add(self, name: str, path: str) -> LoadedAdapter:
        """Record a loaded adapter (a reload in place keeps its id, as vLLM does)."""
        with self._lock:
            known = self._adapters.get(name)
            lora_int_id = known.lora_int_id if known else self._next_id
            if known is None:
                self._next_id += 1
            self._adapters[name] = LoadedAdapter(name, path, lora_int_id)
            return self._adapters[name]

    def remove(self, name: str) -> None:
        with self._lock:
            self._adapters.pop(name, None)

    def resolve(self, model: str | None) -> tuple[str, str | None]:
        """The name a response carries and the adapter to run (None: the base model).

        A request without `model` gets the base model. Raises vLLM's 404 for any other name.
        """
        if model is None or model in self.names:
            return self.names[0], None
        if self.adapter(model) is not None:
            return model, model
        raise model_not_found(model, list(self.names))

    def cards(self) -> dict[str, Any]:
        """The `/v1/models` list."""
        created = int(self._clock())
        data = [
            self._card(name, created, root=self.root, max_model_len=self.max_model_len)
            for name in self.names
        ]
        with self._lock:
            adapters = list(self._adapters.values())
        data += [
            self._card(lora.name, created, root=lora.path, parent=self.names[0])
            for lora in adapters
        ]
        return {"object": "list", "data": data}

    @staticmethod
    def _card(
        model_id: str,
        created: int,
        *,
        root: str,
        parent: str | None = None,
        max_model_len: int | None = None,
    ) -> dict[str, Any]:
        return {
            "id": model_id,
            "object": "model",
            "created": created,
            "owned_by": "vllm",
            "root": root,
            "parent": parent,
            "max_model_len": max_model_len,
            "permission": [
                {
                    "id": f"modelperm-{secrets.token_hex(8)}",
                    "object": "model_permission",
                    "created": created,
                    "allow_create_engine": False,
                    "allow_sampling": True,
                    "allow_logprobs": True,
                    "allow_search_indices": False,
                    "allow_view": True,
                    "allow_fine_tuning": False,
                    "organization": "*",
                    "group": None,
                    "is_blocking": False,
                }
            ],
        }
