"""Training backends behind one small protocol, and the OpenAI fine-tuning implementation."""

from scheduler.training.errors import (
    TrainingRateLimited,
    TrainingTransientError,
    TrainingUnavailable,
)
from scheduler.training.openai_trainer import OpenAITrainer
from scheduler.training.protocol import JobReport, JobStatus, Trainer, TrainingRequest

__all__ = [
    "JobReport",
    "JobStatus",
    "OpenAITrainer",
    "Trainer",
    "TrainingRateLimited",
    "TrainingRequest",
    "TrainingTransientError",
    "TrainingUnavailable",
]
