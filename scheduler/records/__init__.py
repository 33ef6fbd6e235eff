"""The scheduler's tables, declared on curation's `Base` so they live in the one database and
the one migration chain. Importing this package registers every table."""

from scheduler.records.cycle import CycleOutcome, CycleStage, RetrainCycle
from scheduler.records.decision import Decision, Verdict
from scheduler.records.evaluation import EvalItem, EvalRun, EvalStatus, ItemOutcome
from scheduler.records.lease import SchedulerLease
from scheduler.records.registry import ModelState, ModelVersion, Promotion, PromotionAction
from scheduler.records.training import TrainingRun, TrainingStatus

__all__ = [
    "CycleOutcome",
    "CycleStage",
    "Decision",
    "EvalItem",
    "EvalRun",
    "EvalStatus",
    "ItemOutcome",
    "ModelState",
    "ModelVersion",
    "Promotion",
    "PromotionAction",
    "RetrainCycle",
    "SchedulerLease",
    "TrainingRun",
    "TrainingStatus",
    "Verdict",
]
