"""How one stand-in server is configured: vLLM's own flags and environment variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: vLLM registers `/v1/load_lora_adapter` and `/v1/unload_lora_adapter` only when this is set
#: to `1` or `true` (vllm/envs.py), and logs that it is meant for development.
RUNTIME_LORA_UPDATING_ENV = "VLLM_ALLOW_RUNTIME_LORA_UPDATING"
#: vLLM's default `--max-num-seqs` for the OpenAI server on CPU (vllm/engine/arg_utils.py,
#: `get_batch_defaults`: 128 per CPU worker).
DEFAULT_MAX_NUM_SEQS = 128


def runtime_lora_updating(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment enables runtime LoRA updating, parsed as vLLM parses it."""
    value = (os.environ if environ is None else environ).get(RUNTIME_LORA_UPDATING_ENV, "0")
    return value.strip().lower() in ("1", "true")


@dataclass(frozen=True)
class ServerConfig:
    """The stand-in's settings, named after `vllm serve`'s flags.

    - `model`: a Hugging Face model folder (`--model`); loaded with transformers, float32 on CPU.
    - `served_model_names`: the names the base model answers to (`--served-model-name`; the
      first is the name responses carry); empty means the `model` argument itself.
    - `enable_lora`, `max_lora_rank` (vLLM's default 16), `max_loras` (distinct adapters in
      one batch, vLLM's default 1; a request for one more waits until the batch has room).
    - `max_num_seqs`: sequences decoded together at most (`--max-num-seqs`; vLLM's default for
      the OpenAI server on CPU, 128); 1 answers one request at a time.
    - `max_model_len`: prompt plus completion tokens; None takes the model config's
      `max_position_embeddings`.
    - `api_keys`: accepted bearer keys (`--api-key`); empty means no key is required.
    - `allow_runtime_lora_updating`: `VLLM_ALLOW_RUNTIME_LORA_UPDATING`.
    - `seed`: seeds the sampler for requests without a `seed` (`--seed`, vLLM's default 0).
    """

    model: Path
    served_model_names: tuple[str, ...] = ()
    enable_lora: bool = False
    max_lora_rank: int = 16
    max_loras: int = 1
    max_num_seqs: int = DEFAULT_MAX_NUM_SEQS
    max_model_len: int | None = None
    api_keys: tuple[str, ...] = ()
    allow_runtime_lora_updating: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_lora_rank < 1:
            raise ValueError(f"max_lora_rank must be at least 1, got {self.max_lora_rank}")
        if self.max_loras < 1:
            raise ValueError(f"max_loras must be at least 1, got {self.max_loras}")
        if self.max_num_seqs < 1:
            raise ValueError(f"max_num_seqs must be at least 1, got {self.max_num_seqs}")
        if self.max_model_len is not None and self.max_model_len < 2:
            raise ValueError(f"max_model_len must be at least 2, got {self.max_model_len}")

    @property
    def names(self) -> tuple[str, ...]:
        """The base model's served names (vLLM falls back to the `--model` argument)."""
        return self.served_model_names or (str(self.model),)
