"""Thread turns -> the chat messages sent to the model, within the prompt budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.replies.budget import fit_messages
from bot.replies.turns import Turn
from curation.tokens import count_text, get_encoding

DEFAULT_ENCODING = "o200k_base"


class PromptBuilder:
    """Holds the system prompt, the budget and how to pick a model's tokenizer."""

    def __init__(
        self,
        system_prompt: str | None,
        *,
        budget_tokens: int,
        encoding_for: Callable[[str], str] | None = None,
    ) -> None:
        self._system_prompt = system_prompt
        self._budget_tokens = budget_tokens
        self._encoding_for = encoding_for or (lambda _model: DEFAULT_ENCODING)
        self._system_counts: dict[str, int] = {}

    def build(self, turns: Sequence[Turn], model: str) -> list[dict[str, str]]:
        encoding = get_encoding(self._encoding_for(model))
        return fit_messages(
            self._system_prompt,
            turns,
            self._budget_tokens,
            encoding,
            system_tokens=self._system_tokens(encoding.name),
        )

    def _system_tokens(self, encoding_name: str) -> int | None:
        """The system prompt's token count, counted once per encoding (it never changes)."""
        if not self._system_prompt:
            return None
        count = self._system_counts.get(encoding_name)
        if count is None:
            count = count_text(self._system_prompt, get_encoding(encoding_name))
            self._system_counts[encoding_name] = count
        return count
