"""What every stage of the cycle works with, and the one way a cycle is closed."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import openai
from sqlalchemy import select
from sqlalchemy.orm import Session

from curation.db import Database
from curation.model_specs import ModelTable
from scheduler.cycle.config import CycleConfig
from scheduler.errors import ServingError
from scheduler.evaluation import Evaluator
from scheduler.records import CycleOutcome, CycleStage, RetrainCycle, TrainingRun
from scheduler.registry import Registry
from scheduler.training import Trainer

log = logging.getLogger(__name__)


class Progress(enum.Enum):
    CONTINUE = "continue"  # the next stage can start now
    WAIT = "wait"  # something outside must happen first (a job to finish, a limit to lift)


class ModelServing(Protocol):
    """The serving side of a backend whose models must be loaded before they answer, such as
    vLLM with runtime LoRA adapters (`scheduler.serving`). Backends whose provider serves its
    own fine-tunes (OpenAI) have none. Both methods raise `ServingError`."""

    def ensure(self, name: str) -> bool:
        """Load `name` if it is one of ours and not loaded; True if it is now served."""
        ...

    def keep(self, names: Iterable[str]) -> None:
        """Make exactly these models loaded (the base model is never touched)."""
        ...


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
    serving: ModelServing | None = None


def keep_served(serving: ModelServing, registry: Registry) -> None:
    """Keep the served model and its rollback target loaded, and nothing else. Called after a
    change is committed, so a failure is logged, not raised: the change stands, and the next
    call (or a reply's reload) repairs what is loaded."""
    try:
        serving.keep(registry.served_models())
    except ServingError as exc:
        log.warning("could not update the models loaded on the serving side: %s", exc)


def ensure_served(ctx: CycleContext, cycle_id: int, models: Iterable[str]) -> bool:
    """Have the serving side load `models` (a no-op without one). On a serving error the
    cycle's note says so and False is returned: the stage waits and asks again next poll."""
    if ctx.serving is None:
        return True
    for model in models:
        try:
            ctx.serving.ensure(model)
        except ServingError as exc:
            set_note(ctx, cycle_id, f"could not load {model} on the serving side: {exc}")
            return False
    return True


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
