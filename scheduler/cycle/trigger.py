"""When a new cycle is due: enough approved examples that no cycle has trained on yet.

"New" means exportable now and absent from the dataset version of the latest cycle that
trained on one (or is training on it now). Counting by membership rather than by time or id
means an example is never lost (a late commit with a lower id still counts) and never counted
twice (once trained on, it is in that version's items). A cycle whose job failed, was cancelled
or was never created (over budget, fine-tuning unavailable) trained on nothing: its examples
count as new for the next run.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session

from curation.export import Method, exportable
from curation.models import DatasetItem, Split
from scheduler.records import CycleOutcome, RetrainCycle

#: How a cycle ends when no model was trained on its dataset version.
UNTRAINED_OUTCOMES = (
    CycleOutcome.TRAINING_FAILED,
    CycleOutcome.CANCELLED,
    CycleOutcome.OVER_BUDGET,
    CycleOutcome.UNAVAILABLE,
    CycleOutcome.NOTHING_TO_TRAIN,
)


def last_trained_version(session: Session) -> int | None:
    """The dataset version of the latest cycle that trained a model on it (or is open)."""
    return session.scalar(
        select(RetrainCycle.dataset_version_id)
        .where(
            RetrainCycle.dataset_version_id.is_not(None),
            or_(RetrainCycle.outcome.is_(None), RetrainCycle.outcome.not_in(UNTRAINED_OUTCOMES)),
        )
        .order_by(RetrainCycle.id.desc())
        .limit(1)
    )


def new_example_count(session: Session, method: Method = Method.SFT) -> int:
    current = union(exportable(Split.TRAIN, method), exportable(Split.EVAL, method)).subquery()
    query = select(func.count()).select_from(current)
    previous = last_trained_version(session)
    if previous is not None:
        seen = select(DatasetItem.example_id).where(DatasetItem.dataset_version_id == previous)
        query = query.where(current.c.id.not_in(seen))
    return session.scalar(query) or 0
