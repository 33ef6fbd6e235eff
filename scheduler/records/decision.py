"""Decision: what the gate concluded about one eval run, with every number and the reason."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, JSONType, StrEnumType, UTCDateTime, utcnow


class Verdict(enum.StrEnum):
    PROMOTE = "promote"
    REJECT = "reject"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("eval_run_id"), UniqueConstraint("cycle_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int | None] = mapped_column(
        ForeignKey("retrain_cycles.id", ondelete="SET NULL")
    )
    eval_run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"))
    candidate: Mapped[str] = mapped_column(String(200))
    incumbent: Mapped[str] = mapped_column(String(200))
    verdict: Mapped[Verdict] = mapped_column(StrEnumType(Verdict))
    #: Every failed check, in words; the first line is the headline.
    reason: Mapped[str] = mapped_column(Text)
    #: Every figure the gate computed (win rate, bound, golden means, counts, dates).
    numbers: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: The thresholds it applied (margin, tolerance, floor, minimum items, shutdown days).
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONType)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
