"""Opening review items from people's signals: one open item per exchange, strongest kind wins."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from curation.models import ReviewEvent, ReviewItem, ReviewKind, ReviewState
from curation.models.review import OPEN_ITEM_SQL

OPEN_STATES = (ReviewState.PENDING, ReviewState.NEEDS_EDIT)
_OPEN_ITEM = text(OPEN_ITEM_SQL)


def open_item_for(session: Session, exchange_id: int) -> ReviewItem | None:
    """The exchange's open item, found through the partial unique index on both databases."""
    return session.scalar(
        select(ReviewItem).where(ReviewItem.exchange_id == exchange_id, _OPEN_ITEM)
    )


def _last_decided_kind(session: Session, exchange_id: int) -> ReviewKind | None:
    kinds = session.scalars(
        select(ReviewItem.kind).where(
            ReviewItem.exchange_id == exchange_id, ReviewItem.state.not_in(OPEN_STATES)
        )
    ).all()
    return max(kinds, key=lambda k: k.rank, default=None)


def _attach(
    session: Session, item: ReviewItem, kind: ReviewKind, actor: str, correction_id: int | None
) -> ReviewItem:
    before = item.state
    if kind.rank > item.kind.rank:
        item.kind = kind
    if correction_id is not None:
        item.correction_id = correction_id
        if item.state is ReviewState.NEEDS_EDIT:
            # A new text answers the reviewer's request: back into the queue.
            item.state = ReviewState.PENDING
    session.add(
        ReviewEvent(
            item_id=item.id,
            actor=actor,
            action=f"signal_{kind.value}",
            from_state=before.value,
            to_state=item.state.value,
        )
    )
    return item


def queue_signal(
    session: Session,
    exchange_id: int,
    kind: ReviewKind,
    actor: str,
    correction_id: int | None = None,
) -> ReviewItem | None:
    """Put `exchange_id` in front of reviewers for `kind`, or add the signal to its open item.

    An exchange already decided for an equal or stronger signal is not queued again, except
    for a new correction, which is always new content to review. Returns the open item, or
    None when nothing needed deciding.
    """
    item = open_item_for(session, exchange_id)
    if item is not None:
        return _attach(session, item, kind, actor, correction_id)
    decided = _last_decided_kind(session, exchange_id)
    if kind is not ReviewKind.CORRECTION and decided is not None and decided.rank >= kind.rank:
        return None
    item = ReviewItem(
        exchange_id=exchange_id, kind=kind, correction_id=correction_id, opened_by=actor
    )
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
            session.add(
                ReviewEvent(
                    item_id=item.id,
                    actor=actor,
                    action=f"opened_{kind.value}",
                    from_state=None,
                    to_state=ReviewState.PENDING.value,
                )
            )
    except IntegrityError:
        # Another process opened the item between our read and write: join it instead.
        item = open_item_for(session, exchange_id)
        if item is None:
            raise
        return _attach(session, item, kind, actor, correction_id)
    return item
