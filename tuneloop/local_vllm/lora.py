"""`POST /v1/load_lora_adapter` and `POST /v1/unload_lora_adapter`, as vLLM answers them.

vLLM (vllm/entrypoints/openai/serving_models.py, `OpenAIServingModels`): both fields are
required and non-empty (400 `InvalidUserInput`); a name already loaded is refused unless
`load_inplace` (400); a path without an adapter is 404 "Loading lora <name> failed: No adapter
found for <path>"; an adapter the engine cannot take (rank over `--max-lora-rank`, modules
the model lacks, weights that do not fit) is 500 "Call to add_lora method failed: Worker
failed with error '...'"; success is 200 with a plain-text "Success: ..." body. Unloading an
adapter that is not loaded is 404 "The lora adapter '<name>' cannot be found.".
"""

from __future__ import annotations

import threading
from pathlib import Path

from tuneloop.local_vllm.engine import AdapterNotFound, AdapterRefused, Engine
from tuneloop.local_vllm.errors import (
    error_response,
    invalid_user_input,
    validation_error,
    worker_failed,
)
from tuneloop.local_vllm.models import ServedModels


class LoRAService:
    """Loads adapters into the engine and records them in the served models, one at a time."""

    def __init__(self, engine: Engine, models: ServedModels) -> None:
        self._engine = engine
        self._models = models
        self._lock = threading.Lock()

    def load(self, body: object) -> str:
        """Load the adapter the body names; the success text, or raises VLLMError."""
        name = _field(body, "lora_name")
        path = _field(body, "lora_path")
        load_inplace = isinstance(body, dict) and body.get("load_inplace") is True
        if not name or not path:
            raise invalid_user_input("Both 'lora_name' and 'lora_path' must be provided.")
        with self._lock:
            if not load_inplace and self._models.adapter(name) is not None:
                raise invalid_user_input(
                    f"The lora adapter '{name}' has already been loaded. If you want to load "
                    "the adapter in place, set 'load_inplace' to True."
                )
            try:
                self._engine.add_adapter(name, Path(path))
            except AdapterNotFound as error:
                raise error_response(
                    404, f"Loading lora {name} failed: No adapter found for {path}", "NotFoundError"
                ) from error
            except AdapterRefused as error:
                raise worker_failed("add_lora", str(error)) from error
            self._models.add(name, path)
        return f"Success: LoRA adapter '{name}' added successfully."

    def unload(self, body: object) -> str:
        """Unload the adapter the body names; the success text, or raises VLLMError."""
        name = _field(body, "lora_name")
        if not name:
            raise invalid_user_input("'lora_name' needs to be provided to unload a LoRA adapter.")
        with self._lock:
            if self._models.adapter(name) is None:
                raise error_response(
                    404, f"The lora adapter '{name}' cannot be found.", "NotFoundError"
                )
            self._engine.remove_adapter(name)
            self._models.remove(name)
        return f"Success: LoRA adapter '{name}' removed successfully."


def _field(body: object, name: str) -> str:
    """A required string field, checked as the route's pydantic model checks it."""
    if not isinstance(body, dict):
        raise validation_error("body", "dict_type", "Input should be a valid dictionary", body)
    if name not in body:
        raise validation_error(f"body.{name}", "missing", "Field required", body)
    value = body[name]
    if not isinstance(value, str):
        raise validation_error(
            f"body.{name}", "string_type", "Input should be a valid string", value
        )
    return value
