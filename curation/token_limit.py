"""The target model's per-example token limit, checked at every door into the store.

An example longer than the model takes is refused where it enters (import, review approval),
with its count and the limit, instead of being stored and then blocking exports. The count is
the export's (`curation.tokens.line_tokens`, OpenAI's cookbook accounting) of the line export
would write, the longer of its supervised and preference lines. An example that a later change
of model makes too long is left out of the export, with a count in its manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

from curation.chat_format import Problem
from curation.model_specs import ModelTable
from curation.tokens import counter, line_tokens
from curation.training_line import TrainingLine


@dataclass(frozen=True, slots=True)
class TokenLimit:
    """`max_tokens` per example for `model` (OpenAI's published limit, from the model table)."""

    model: str
    max_tokens: int
    encoding: str

    @classmethod
    def for_model(cls, models: ModelTable, model: str) -> TokenLimit:
        """Raises UnknownModelError for a model the table does not list."""
        spec = models.spec(model)
        return cls(model, spec.max_example_tokens, spec.encoding)

    def tokens(self, line: TrainingLine) -> int:
        """What export counts for this example (the longer of its SFT and DPO lines)."""
        count = counter(self.encoding)
        tools = [*line.fields.get("tools", ()), *line.fields.get("functions", ())]
        sft = line.sft_line()["messages"]
        totals = [line_tokens(sft, count, tools=tools, encoding_name=self.encoding)]
        if line.rejected is not None:
            dpo = [*line.prompt, line.target, line.rejected]
            totals.append(line_tokens(dpo, count, tools=tools, encoding_name=self.encoding))
        return max(totals)

    def problem(self, line: TrainingLine) -> Problem | None:
        tokens = self.tokens(line)
        if tokens <= self.max_tokens:
            return None
        return Problem(
            "too_many_tokens",
            "line",
            f"{tokens:,} tokens, over the limit of {self.max_tokens:,} per example for "
            f"{self.model}",
        )
