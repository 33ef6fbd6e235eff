"""The base models the Together stand-in fine-tunes and serves, with their limits and prices.

Model names, limits and the shape of the price table follow Together's documentation (model
size bracket x SFT or DPO x LoRA or full). The per-token rates are illustrative figures in the
shape of Together's price list, not a copy of it: the price list changes, and the stand-in
only needs estimates that behave like the real ones (bigger models and DPO cost more).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The account the stand-in's output models are named under (`{account}/{model}-{suffix}-…`).
ACCOUNT = "tuneloop-local"
CREATED = 1_721_001_600  # 2024-07-15, the Llama 3.1 release

#: USD per million tokens, by (size bracket, method, training type).
RATES: dict[tuple[str, str, str], float] = {
    ("up-to-16b", "sft", "lora"): 0.48,
    ("up-to-16b", "sft", "full"): 0.54,
    ("up-to-16b", "dpo", "lora"): 1.20,
    ("up-to-16b", "dpo", "full"): 1.35,
    ("16.1b-69b", "sft", "lora"): 1.50,
    ("16.1b-69b", "sft", "full"): 1.65,
    ("16.1b-69b", "dpo", "lora"): 3.75,
    ("16.1b-69b", "dpo", "full"): 4.12,
    ("70b-100b", "sft", "lora"): 2.90,
    ("70b-100b", "sft", "full"): 3.20,
    ("70b-100b", "dpo", "lora"): 7.25,
    ("70b-100b", "dpo", "full"): 8.00,
}


@dataclass(frozen=True)
class BaseModel:
    """A fine-tunable base model: its size bracket, hidden size (for the adapter's shapes),
    and `FineTuneModelLimits`."""

    name: str
    bracket: str
    hidden_size: int
    context_length: int
    max_rank: int = 64
    min_batch_size: int = 8
    max_batch_size: int = 32
    max_num_epochs: int = 20
    min_learning_rate: float = 1e-6
    max_learning_rate: float = 1e-2

    def rate(self, method: str, training_type: str) -> float:
        return RATES[(self.bracket, method, training_type)]

    def limits(self) -> dict[str, Any]:
        """`GET /fine-tunes/models/limits` for this model."""
        training = {
            "max_batch_size": self.max_batch_size,
            "max_batch_size_dpo": self.max_batch_size // 2,
            "min_batch_size": self.min_batch_size,
        }
        return {
            "model_name": self.name,
            "full_training": training,
            "lora_training": {
                **training,
                "max_rank": self.max_rank,
                "target_modules": [
                    "q_proj",
                    "k_proj",
                    "v_proj",
                    "o_proj",
                    "gate_proj",
                    "up_proj",
                    "down_proj",
                ],
            },
            "max_num_epochs": self.max_num_epochs,
            "max_num_evals": 100,
            "max_learning_rate": self.max_learning_rate,
            "min_learning_rate": self.min_learning_rate,
            "supports_vision": False,
            "supports_tools": True,
            "supports_reasoning": False,
            "merge_output_lora": False,
        }

    def model_object(self) -> dict[str, Any]:
        """An entry of `GET /models` (Together answers a bare JSON array of these)."""
        return {
            "id": self.name,
            "object": "model",
            "created": CREATED,
            "type": "chat",
            "display_name": self.name.rpartition("/")[2],
            "organization": self.name.partition("/")[0],
            "context_length": self.context_length,
        }


BASE_MODELS: dict[str, BaseModel] = {
    model.name: model
    for model in (
        BaseModel("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "up-to-16b", 4096, 131072),
        BaseModel("Qwen/Qwen2.5-7B-Instruct", "up-to-16b", 3584, 32768),
        BaseModel(
            "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference",
            "70b-100b",
            8192,
            131072,
            min_batch_size=16,
        ),
    )
}
