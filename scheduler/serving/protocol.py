"""What serving needs from the adapter store, and what callers need from serving."""

from __future__ import annotations

from collections.abc import Iterable
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


class AdapterServing(Protocol):
    """Makes the serving side hold the adapters the scheduler wants served.

    Every method raises `ServingError` when the server refuses or cannot be reached.
    """

    def load(self, name: str) -> None:
        """Serve the registered adapter `name`; loading a loaded adapter is a no-op."""
        ...

    def unload(self, name: str) -> None:
        """Stop serving adapter `name`; unloading an adapter not loaded is a no-op."""
        ...

    def loaded(self) -> set[str]:
        """The names of the adapters served now (never the base model)."""
        ...

    def keep(self, names: Iterable[str]) -> None:
        """Serve exactly these adapters: load the missing ones first, then unload the rest."""
        ...

    def ensure(self, name: str) -> bool:
        """Load `name` if it is registered and not served; whether it is served afterwards."""
        ...
