"""Exchange: one question put to the bot and the reply it gave (or the error it met)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, JSONType, PartialIndex, StrEnumType, UTCDateTime, utcnow

#: The rows a sweep for abandoned claims reads: few at any time, in a partial index.
PENDING_SQL = "status = 'pending'"
#: The rows a sweep for undelivered replies reads: as few, in a partial index of their own.
UNSENT_SQL = "status = 'unsent'"


class ExchangeStatus(enum.StrEnum):
    PENDING = "pending"  # claimed: the model is being asked
    ANSWERED = "answered"
    FAILED = "failed"  # the model failed, or Slack never took the reply; all is still kept
    UNSENT = "unsent"  # answered, but Slack would not take the reply yet: deliver it later
    DELETED = "deleted"  # the question was deleted in Slack: a tombstone, its text is gone


class Exchange(Base):
    """A bot reply with everything needed to turn it into a training example later.

    Unique on the Slack event id and on (channel, question ts): Slack retries an event and may
    deliver `app_mention` and `message` for one message, and neither may make a second row.
    """

    __tablename__ = "exchanges"
    __table_args__ = (
        UniqueConstraint("event_id"),
        UniqueConstraint("channel_id", "message_ts"),
        Index("ix_exchanges_channel_reply", "channel_id", "reply_ts"),
        Index("ix_exchanges_thread", "thread_key"),
        PartialIndex(
            "ix_exchanges_pending_claims",
            "claimed_by",
            where=PENDING_SQL,
        ),
        PartialIndex(
            "ix_exchanges_unsent_claims",
            "claimed_by",
            where=UNSENT_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(64))
    team_id: Mapped[str] = mapped_column(String(32), default="")
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    #: The message that carries the reply's controls (its last), where reactions land.
    reply_ts: Mapped[str | None] = mapped_column(String(32))
    #: Every message of a reply Slack shows in more than one, oldest first; None when the
    #: reply is the one message `reply_ts` (most are: no write for them).
    reply_message_ts: Mapped[list[str] | None] = mapped_column(JSONType)
    #: The short "I'll post it here" notice left in the thread while the reply is unsent.
    notice_ts: Mapped[str | None] = mapped_column(String(32))
    #: Later deliveries tried for an unsent reply (bounded; counted here, across restarts).
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    user_id: Mapped[str] = mapped_column(String(32))
    thread_key: Mapped[str] = mapped_column(String(128))

    prompt_messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    reply: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[ExchangeStatus] = mapped_column(
        StrEnumType(ExchangeStatus),
        default=ExchangeStatus.PENDING,
    )
    error: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)

    #: Who is answering a pending exchange: a bot replica's id (`curation.claims`), and when
    #: it took the claim. A claim whose replica stopped heartbeating is taken over.
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def shown_ts(self) -> list[str]:
        """Every message of the bot's in Slack for this exchange, oldest first: the reply's
        messages and, while it is unsent, the notice left in their place."""
        shown = list(self.reply_message_ts or ([self.reply_ts] if self.reply_ts else []))
        if self.reply_ts and self.reply_ts not in shown:
            shown.append(self.reply_ts)
        if self.notice_ts:
            shown.append(self.notice_ts)
        return shown

    @property
    def has_reply(self) -> bool:
        """A reply is stored for people to give feedback on or correct: shown (answered),
        kept for a later delivery (unsent), or being shown now (still pending, its reply
        stored: see `Capture.complete_exchange`)."""
        if self.status is ExchangeStatus.PENDING:
            return self.reply is not None
        return self.status in (ExchangeStatus.ANSWERED, ExchangeStatus.UNSENT)

    @property
    def question(self) -> str:
        """The user's turn that this exchange answered (the last user message)."""
        for message in reversed(self.prompt_messages):
            if message.get("role") == "user":
                return str(message.get("content", ""))
        return ""
