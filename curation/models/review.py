"""Review items: the queue of candidate examples that reviewers decide on, with an audit trail."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from curation.models.base import Base, PartialIndex, StrEnumType, UTCDateTime, utcnow
from curation.models.exchange import Exchange


class ReviewKind(enum.StrEnum):
    """Why an exchange is in the queue. Ranked: a stronger signal takes over an open item."""

    UPVOTE = "upvote"  # thumbs-up: a candidate positive example
    FLAG = "flag"  # thumbs-down, flag or :x: reaction: the reply is bad, no better text yet
    CORRECTION = "correction"  # someone proposed a better reply

    @property
    def rank(self) -> int:
        return _KIND_RANK[self]


_KIND_RANK = {ReviewKind.UPVOTE: 1, ReviewKind.FLAG: 2, ReviewKind.CORRECTION: 3}


class ReviewState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    NEEDS_EDIT = "needs_edit"

    @property
    def is_open(self) -> bool:
        return self in (ReviewState.PENDING, ReviewState.NEEDS_EDIT)


OPEN_STATES_SQL = "state IN ('pending', 'needs_edit')"
#: The same condition for queries: SQLite uses a partial index only when the query's WHERE
#: contains the index's own condition with the same literal values (bound parameters do not
#: qualify; https://www.sqlite.org/partialindex.html, "Queries Using Partial Indexes").
OPEN_ITEM_SQL = f"review_items.{OPEN_STATES_SQL}"


class ReviewItem(Base):
    """At most one open item per exchange (a partial unique index enforces it), so several
    people flagging the same reply make one item, not a pile of duplicates."""

    __tablename__ = "review_items"
    __table_args__ = (
        PartialIndex(
            "uq_review_items_open_exchange",
            "exchange_id",
            unique=True,
            where=OPEN_STATES_SQL,
        ),
        # Every signal looks up the items of its exchange (open or decided).
        Index("ix_review_items_exchange", "exchange_id"),
        # The queue is read in id order within a state: (state, id) serves
        # `WHERE state = ? ORDER BY id LIMIT n` from the index on PostgreSQL too (SQLite's
        # index on state alone already ends in the rowid).
        Index("ix_review_items_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    kind: Mapped[ReviewKind] = mapped_column(StrEnumType(ReviewKind))
    state: Mapped[ReviewState] = mapped_column(
        StrEnumType(ReviewState),
        default=ReviewState.PENDING,
    )
    correction_id: Mapped[int | None] = mapped_column(
        ForeignKey("corrections.id", ondelete="SET NULL")
    )
    opened_by: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    example_id: Mapped[int | None] = mapped_column(ForeignKey("examples.id", ondelete="SET NULL"))

    exchange: Mapped[Exchange] = relationship(lazy="joined")


class ReviewEvent(Base):
    """Append-only audit of every change to a review item: who, when, what, why."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
