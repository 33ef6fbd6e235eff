"""The retraining cycle: DatasetVersion -> TrainingRun -> EvalRun -> Decision -> Promotion,
each stored before the next begins, so a restarted process resumes from the last record."""

from scheduler.cycle.config import CycleConfig
from scheduler.cycle.runner import CycleReport, CycleRunner

__all__ = ["CycleConfig", "CycleReport", "CycleRunner"]
