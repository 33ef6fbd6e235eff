"""What serving needs from the adapter store: an adapter's folder and base model by name."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class AdapterRecord(Protocol):
    """One stored adapter: where its PEFT files are and which base model it adapts.

    `scheduler.training.lora.adapters.AdapterInfo` is one.
    """

    @property
    def path(self) -> Path:
        """The folder with PEFT's `adapter_config.json` and `adapter_model.safetensors`."""
        ...

    @property
    def base_model(self) -> str:
        """The base model's serving name (vLLM's `--served-model-name`)."""
        ...


class AdapterLookup(Protocol):
    """Finds a registered adapter by its name (`scheduler.training.lora.adapters.AdapterStore`)."""

    def get(self, name: str) -> AdapterRecord | None:
        """The adapter registered under `name` (the model id a chat request names), or None."""
        ...
