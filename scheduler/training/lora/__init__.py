"""The self-hosted LoRA backend: a `Trainer` that trains PEFT LoRA adapters with TRL in a
detached worker process, and the store the adapters are published to.

Importing this package never imports torch: only the worker process does (`worker`,
`training`).
"""

from scheduler.training.lora.adapters import (
    AdapterConflict,
    AdapterError,
    AdapterInfo,
    AdapterStore,
    adapter_name,
)
from scheduler.training.lora.config import BaseModelResolver, LoraTrainerConfig
from scheduler.training.lora.spec import FORMAT_VERSION, JobSpec, SpecError
from scheduler.training.lora.trainer import LoraTrainer

__all__ = [
    "FORMAT_VERSION",
    "AdapterConflict",
    "AdapterError",
    "AdapterInfo",
    "AdapterStore",
    "BaseModelResolver",
    "JobSpec",
    "LoraTrainer",
    "LoraTrainerConfig",
    "SpecError",
    "adapter_name",
]
