"""Training backends behind one small protocol: OpenAI fine-tuning, self-hosted LoRA, and
Together AI (`scheduler.training.together`, imported where it is used)."""

from scheduler.training.errors import (
    TrainingRateLimited,
    TrainingTransientError,
    TrainingUnavailable,
)
from scheduler.training.lora import AdapterInfo, AdapterStore, LoraTrainer, LoraTrainerConfig
from scheduler.training.openai_trainer import OpenAITrainer
from scheduler.training.protocol import JobReport, JobStatus, Trainer, TrainingRequest

__all__ = [
    "AdapterInfo",
    "AdapterStore",
    "JobReport",
    "JobStatus",
    "LoraTrainer",
    "LoraTrainerConfig",
    "OpenAITrainer",
    "Trainer",
    "TrainingRateLimited",
    "TrainingRequest",
    "TrainingTransientError",
    "TrainingUnavailable",
]
