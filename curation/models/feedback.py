"""Feedback and corrections that people give on an exchange."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, StrEnumType, UTCDateTime, utcnow


class FeedbackKind(enum.StrEnum):
    THUMBS_UP = "thumbs_up"
    THUMBS_DOWN = "thumbs_down"
    FLAG = "flag"

    @property
    def is_negative(self) -> bool:
        return self is not FeedbackKind.THUMBS_UP


class Feedback(Base):
    """One person's signal on one reply. Slack sends an action on every click (there is no
    "unclick"), so a row is unique per (exchange, user, kind) and repeats change nothing."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("exchange_id", "user_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[FeedbackKind] = mapped_column(StrEnumType(FeedbackKind))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Correction(Base):
    """A proposed better reply. Append-only: the exchange's reply is never changed.

    `idempotency_key` (for example a Slack view id) makes a repeated submission a no-op.
    """

    __tablename__ = "corrections"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        # The correction rate limits count one person's, and one reply's, recent corrections.
        Index("ix_corrections_author_created", "author_id", "created_at"),
        Index("ix_corrections_exchange_created", "exchange_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
