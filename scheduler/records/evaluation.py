"""EvalRun and EvalItem: every answer both models gave, and every score, kept for audit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, JSONType, StrEnumType, UTCDateTime, utcnow


class EvalStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


class ItemOutcome(enum.StrEnum):
    """The candidate's result on one item against the incumbent."""

    WIN = "win"
    LOSS = "loss"
    TIE = "tie"
    ERROR = "error"  # a model gave no answer after every retry: left out of the gate

    @property
    def value_for_win_rate(self) -> float:
        return {ItemOutcome.WIN: 1.0, ItemOutcome.TIE: 0.5, ItemOutcome.LOSS: 0.0}[self]


class EvalRun(Base):
    """Candidate against incumbent on one eval set. A retraining cycle has at most one; a
    manual `tuneloop eval` makes one with no cycle."""

    __tablename__ = "eval_runs"
    __table_args__ = (UniqueConstraint("cycle_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int | None] = mapped_column(
        ForeignKey("retrain_cycles.id", ondelete="SET NULL")
    )
    training_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_runs.id", ondelete="SET NULL")
    )
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
    candidate: Mapped[str] = mapped_column(String(200))
    incumbent: Mapped[str] = mapped_column(String(200))
    grader: Mapped[str] = mapped_column(String(32))
    status: Mapped[EvalStatus] = mapped_column(StrEnumType(EvalStatus), default=EvalStatus.RUNNING)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Concurrency, timeout, retries and grader options the run used.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EvalItem(Base):
    """One eval question: the reference, both answers, both scores and the outcome.

    The question and reference are copied in, so the record still reads correctly after the
    example is edited or retired. Unique per (run, example): a resumed run only asks the items
    it has not stored yet.
    """

    __tablename__ = "eval_items"
    __table_args__ = (UniqueConstraint("eval_run_id", "example_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    eval_run_id: Mapped[int] = mapped_column(
        ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True
    )
    example_id: Mapped[int | None] = mapped_column(
        ForeignKey("examples.id", ondelete="SET NULL"), index=True
    )
    golden: Mapped[bool] = mapped_column(Boolean)
    thread_key: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(Text)
    candidate_answer: Mapped[str | None] = mapped_column(Text)
    incumbent_answer: Mapped[str | None] = mapped_column(Text)
    candidate_error: Mapped[str | None] = mapped_column(Text)
    incumbent_error: Mapped[str | None] = mapped_column(Text)
    candidate_latency_ms: Mapped[int | None] = mapped_column(Integer)
    incumbent_latency_ms: Mapped[int | None] = mapped_column(Integer)
    candidate_score: Mapped[float | None] = mapped_column(Float)
    incumbent_score: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[ItemOutcome] = mapped_column(StrEnumType(ItemOutcome))
    #: Grader specifics, such as the judge's verdict in each order.
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
