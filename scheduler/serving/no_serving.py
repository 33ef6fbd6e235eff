"""No adapter management: for backends whose provider serves each fine-tuned model itself."""

from __future__ import annotations

from collections.abc import Iterable


class NoAdapterServing:
    """`AdapterServing` for OpenAI and other providers that serve what they trained.

    Nothing is loaded or unloaded; `ensure` answers False because there is nothing this side
    can do about a model the provider says it does not have.
    """

    def load(self, name: str) -> None:
        """Nothing to do: the provider serves its models."""

    def unload(self, name: str) -> None:
        """Nothing to do: the provider serves its models."""

    def loaded(self) -> set[str]:
        """Always empty: no adapters are managed here."""
        return set()

    def keep(self, names: Iterable[str]) -> None:
        """Nothing to do: the provider serves its models."""

    def ensure(self, name: str) -> bool:
        """Always False: a missing model cannot be loaded from here."""
        return False
