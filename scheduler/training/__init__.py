"""Training backends behind one small protocol: OpenAI fine-tuning, self-hosted LoRA, and
Together AI (`scheduler.training.together`, imported where it is used).

The backends are imported on first use (PEP 562): what only needs the protocol's types (the
cycle's configuration, `tuneloop status`) does not load the openai SDK.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from scheduler.training.errors import (
    TrainingRateLimited,
    TrainingTransientError,
    TrainingUnavailable,
)
from scheduler.training.protocol import JobReport, JobStatus, Trainer, TrainingRequest

if TYPE_CHECKING:
    from scheduler.training.lora import AdapterInfo, AdapterStore, LoraTrainer, LoraTrainerConfig
    from scheduler.training.openai_trainer import OpenAITrainer

#: Exported name -> the module that defines it, imported when the name is first asked for.
_LAZY = {
    "AdapterInfo": "scheduler.training.lora",
    "AdapterStore": "scheduler.training.lora",
    "LoraTrainer": "scheduler.training.lora",
    "LoraTrainerConfig": "scheduler.training.lora",
    "OpenAITrainer": "scheduler.training.openai_trainer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
