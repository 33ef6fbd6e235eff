"""What every stage of the cycle works with, and the one way a cycle is closed."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import openai
from sqlalchemy import select
from sqlalchemy.orm import Session

from curation.db import Database
from curation.model_specs import ModelTable
from scheduler.cycle.config import CycleConfig
from scheduler.evaluation import Evaluator
from scheduler.records import CycleOutcome, CycleStage, RetrainCycle, TrainingRun
from scheduler.registry import Registry
from scheduler.training import Trainer


class Progress(enum.Enum):
    CONTINUE = "continue"  # the next stage can start now
    WAIT = "wait"  # something outside must happen first (a job to finish, a limit to lift)


@dataclass(frozen=True)
class CycleContext:
    db: Database
    client: openai.OpenAI
    trainer: Trainer
    evaluator: Evaluator
    registry: Registry
    models: ModelTable
    config: CycleConfig
    now: Callable[[], datetime]
    today: Callable[[], date]


def close_cycle(session: Session, cycle_id: int, outcome: CycleOutcome, note: str, now: datetime):
    """End a cycle inside the caller's transaction (with the record that decided it)."""
    cycle = session.get_one(RetrainCycle, cycle_id)
    cycle.is_open = False
    cycle.stage = CycleStage.DONE
    cycle.outcome = outcome
    cycle.note = note
    cycle.closed_at = now
    cycle.not_before = None


def set_note(ctx: CycleContext, cycle_id: int, note: str, **values: object) -> None:
    """Say why the cycle is waiting (shown by `tuneloop status`)."""
    with ctx.db.session() as session:
        cycle = session.get_one(RetrainCycle, cycle_id)
        cycle.note = note
        for name, value in values.items():
            setattr(cycle, name, value)


def training_run_of(session: Session, cycle_id: int) -> TrainingRun:
    return session.scalars(select(TrainingRun).where(TrainingRun.cycle_id == cycle_id)).one()
