"""The retraining cycle: DatasetVersion -> TrainingRun -> EvalRun -> Decision -> Promotion,
each stored before the next begins, so a restarted process resumes from the last record.

The runner is imported on first use (PEP 562): reading the cycle's state (`tuneloop status`)
needs its configuration and records, not the model provider's SDK.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from scheduler.cycle.config import CycleConfig

if TYPE_CHECKING:
    from scheduler.cycle.runner import CycleReport, CycleRunner

_LAZY = {"CycleReport": "scheduler.cycle.runner", "CycleRunner": "scheduler.cycle.runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CycleConfig", "CycleReport", "CycleRunner"]
