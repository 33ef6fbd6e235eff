"""Per-model training limits and prices, used to validate and cost an export.

The table is data that changes with OpenAI's price list, so it lives in settings
(`TUNELOOP_MODEL_SPECS`); these are the defaults. A fine-tuned model id (`ft:BASE:org:...`) is
looked up under its base model, since continued training has the base model's limits.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from curation.errors import CurationError


class ModelSpec(BaseModel):
    """What export needs to know about one fine-tunable model."""

    max_example_tokens: int = Field(gt=0, description="Largest training example, in tokens.")
    training_price_per_million: float = Field(
        ge=0, description="Training price in USD per million trained tokens."
    )
    encoding: str = Field(default="o200k_base", description="tiktoken encoding name.")


DEFAULT_MODEL_SPECS: dict[str, ModelSpec] = {
    # OpenAI's published fine-tuning limits (65,536 tokens per example for gpt-4o/4.1) and
    # training prices (USD per 1M tokens), as of 2026.
    "gpt-4.1-2025-04-14": ModelSpec(max_example_tokens=65_536, training_price_per_million=25.0),
    "gpt-4.1-mini-2025-04-14": ModelSpec(max_example_tokens=65_536, training_price_per_million=5.0),
    "gpt-4.1-nano-2025-04-14": ModelSpec(max_example_tokens=65_536, training_price_per_million=1.5),
    "gpt-4o-2024-08-06": ModelSpec(max_example_tokens=65_536, training_price_per_million=25.0),
    "gpt-4o-mini-2024-07-18": ModelSpec(max_example_tokens=65_536, training_price_per_million=3.0),
    "gpt-3.5-turbo-0125": ModelSpec(
        max_example_tokens=16_385, training_price_per_million=8.0, encoding="cl100k_base"
    ),
    # Self-hosted (TUNELOOP_TRAINER=lora): no provider bills per token, so the budget sees 0.
    # Limits are the models' context lengths; token counts use tiktoken's o200k_base, close to
    # but not exactly their own tokenizers (the trainer cuts at TUNELOOP_LORA_MAX_SEQ_LENGTH).
    "smollm2-135m-instruct": ModelSpec(max_example_tokens=8_192, training_price_per_million=0.0),
    "tiny-llama": ModelSpec(max_example_tokens=2_048, training_price_per_million=0.0),
    # Together AI (TUNELOOP_TRAINER=together): LoRA SFT rates per model size bracket (up to
    # 16B, 70-100B). Together's own estimate (POST /fine-tunes/estimate-price) replaces this
    # one before a job is created; token counts are tiktoken's approximation.
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference": ModelSpec(
        max_example_tokens=8_192, training_price_per_million=0.48
    ),
    "Qwen/Qwen2.5-7B-Instruct": ModelSpec(
        max_example_tokens=8_192, training_price_per_million=0.48
    ),
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference": ModelSpec(
        max_example_tokens=8_192, training_price_per_million=2.90
    ),
}


class UnknownModelError(CurationError):
    """A model that the spec table does not list: its limits and price are unknown."""


def base_model_of(model: str) -> str:
    """`ft:gpt-4.1-mini-2025-04-14:org:suffix:id` -> `gpt-4.1-mini-2025-04-14`."""
    if model.startswith("ft:"):
        parts = model.split(":")
        if len(parts) >= 2 and parts[1]:
            return parts[1]
    return model


class ModelTable:
    """Looks up a model's spec, resolving fine-tuned ids to their base model."""

    def __init__(self, specs: Mapping[str, ModelSpec]) -> None:
        self._specs = dict(specs)

    def __contains__(self, model: str) -> bool:
        return base_model_of(model) in self._specs

    def spec(self, model: str) -> ModelSpec:
        base = base_model_of(model)
        try:
            return self._specs[base]
        except KeyError:
            known = ", ".join(sorted(self._specs))
            raise UnknownModelError(
                f"model {model!r} is not in the model table (known: {known}); "
                "add it with TUNELOOP_MODEL_SPECS"
            ) from None
