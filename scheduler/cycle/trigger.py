"""When a new cycle is due: enough approved examples that no cycle has trained on yet.

"New" means exportable now and absent from the dataset version of the latest cycle that got
that far. Counting by membership rather than by time or id means an example is never lost
(a late commit with a lower id still counts) and never counted twice (once trained on, it is
in that version's items).
"""

from __future__ import annotations

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from curation.export import Method, exportable
from curation.models import DatasetItem, Split
from scheduler.records import RetrainCycle


def last_trained_version(session: Session) -> int | None:
    return session.scalar(
        select(RetrainCycle.dataset_version_id)
        .where(RetrainCycle.dataset_version_id.is_not(None))
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
