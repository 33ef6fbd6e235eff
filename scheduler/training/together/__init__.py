"""The Together AI backend: hosted LoRA fine-tuning, served by Together or by the team's vLLM."""

from scheduler.training.together.client import (
    DEFAULT_BASE_URL,
    TogetherClient,
    TogetherError,
    TogetherRateLimited,
    TogetherUnavailable,
)
from scheduler.training.together.trainer import TogetherTrainer, TogetherTrainerConfig

__all__ = [
    "DEFAULT_BASE_URL",
    "TogetherClient",
    "TogetherError",
    "TogetherRateLimited",
    "TogetherTrainer",
    "TogetherTrainerConfig",
    "TogetherUnavailable",
]
