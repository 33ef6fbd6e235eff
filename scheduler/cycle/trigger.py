"""When a new cycle is due: enough approved examples that no cycle has trained on yet.

"New" means exportable now and absent from the dataset version of the latest cycle that got
that far. Counting by membership rather than by time or id means an example is never lost
(a late commit with a lower id still counts) and never counted twice (once trained on, it is
in that version's items). The count is curation's tally against that version: one row read,
and one full count when a cycle cuts a new version (curation.new_examples).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from curation.db import Database
from curation.export import Method
from curation.new_examples import new_example_counts
from scheduler.records import RetrainCycle


def last_trained_version(session: Session) -> int | None:
    return session.scalar(
        select(RetrainCycle.dataset_version_id)
        .where(RetrainCycle.dataset_version_id.is_not(None))
        .order_by(RetrainCycle.id.desc())
        .limit(1)
    )


def new_example_count(db: Database, method: Method = Method.SFT) -> int:
    """Approved examples that `method`'s next export would take and the last trained
    version lacks."""
    with db.read_session() as session:
        baseline = last_trained_version(session)
    return new_example_counts(db, baseline).of(method)
