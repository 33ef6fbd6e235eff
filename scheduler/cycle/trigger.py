"""When a new cycle is due: enough approved examples that no cycle has trained on yet.

"New" means exportable now and absent from the dataset version of the latest cycle that
trained on one (or is training on it now). Counting by membership rather than by time or id
means an example is never lost (a late commit with a lower id still counts) and never counted
twice (once trained on, it is in that version's items). A cycle whose job failed, was cancelled
or was never created (over budget, fine-tuning unavailable) trained on nothing: its examples
count as new for the next run. The count is curation's tally against that version: one row
read, and one full count when the baseline version changes (curation.new_examples).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from curation.db import Database
from curation.export import Method
from curation.new_examples import new_example_counts
from scheduler.records import CycleOutcome, RetrainCycle

#: How a cycle ends when no model was trained on its dataset version.
UNTRAINED_OUTCOMES = (
    CycleOutcome.TRAINING_FAILED,
    CycleOutcome.CANCELLED,
    CycleOutcome.OVER_BUDGET,
    CycleOutcome.UNAVAILABLE,
    CycleOutcome.NOTHING_TO_TRAIN,
    CycleOutcome.EXPORT_FAILED,
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


def new_example_count(db: Database, method: Method = Method.SFT) -> int:
    """Approved examples that `method`'s next export would take and the last trained
    version lacks."""
    with db.read_session() as session:
        baseline = last_trained_version(session)
    return new_example_counts(db, baseline).of(method)
