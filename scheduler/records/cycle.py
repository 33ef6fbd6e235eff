"""RetrainCycle: the spine of one retraining run, and the stage it resumes from."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, PartialIndex, StrEnumType, UTCDateTime, utcnow


class CycleStage(enum.StrEnum):
    """What the cycle does next. Each stage starts only once the previous record is stored."""

    EXPORT = "export"  # no dataset version yet
    TRAIN = "train"  # dataset version recorded; the training run is being started or polled
    EVALUATE = "evaluate"  # the candidate exists and answers; the eval run is being filled
    DECIDE = "decide"  # every item is answered and graded; the gate has not spoken
    PROMOTE = "promote"  # the gate said promote; the registry has not been changed yet
    DONE = "done"


class CycleOutcome(enum.StrEnum):
    PROMOTED = "promoted"
    REJECTED = "rejected"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    STALE = "stale"  # the served model changed while the candidate was evaluated
    TRAINING_FAILED = "training_failed"
    UNAVAILABLE = "unavailable"  # the provider refuses to create fine-tuning jobs (403)
    OVER_BUDGET = "over_budget"
    NOTHING_TO_TRAIN = "nothing_to_train"  # the export refused (too few or invalid examples)
    EXPORT_FAILED = "export_failed"  # the export could not run (no tokenizer, a full disk)
    CANCELLED = "cancelled"


OPEN_CYCLE_SQL = "is_open"


class RetrainCycle(Base):
    """One pass of export -> train -> evaluate -> decide -> promote.

    At most one cycle is open at a time, across processes: a partial unique index on `is_open`
    makes the database refuse a second one, so `retrain --now` racing the scheduler cannot
    start two fine-tuning jobs.
    """

    __tablename__ = "retrain_cycles"
    __table_args__ = (
        PartialIndex(
            "uq_retrain_cycles_open",
            "is_open",
            unique=True,
            where=OPEN_CYCLE_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    new_examples: Mapped[int] = mapped_column(Integer)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    stage: Mapped[CycleStage] = mapped_column(StrEnumType(CycleStage), default=CycleStage.EXPORT)
    outcome: Mapped[CycleOutcome | None] = mapped_column(StrEnumType(CycleOutcome))
    #: Why the cycle is waiting or how it ended, in words.
    note: Mapped[str | None] = mapped_column(Text)
    #: Set after a rate limit: nothing is tried again before this moment.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="RESTRICT"), index=True
    )
