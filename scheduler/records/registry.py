"""ModelVersion and Promotion: the models tuneloop knows, which one is served, and the audit
of every change to that."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, PartialIndex, StrEnumType, UTCDateTime, utcnow


class ModelState(enum.StrEnum):
    CANDIDATE = "candidate"  # trained, not (yet) served
    ACTIVE = "active"
    RETIRED = "retired"  # was served, replaced by a newer promotion
    REJECTED = "rejected"  # the gate said no
    ROLLED_BACK = "rolled_back"


class PromotionAction(enum.StrEnum):
    BOOTSTRAP = "bootstrap"  # the first served model of an installation
    PROMOTE = "promote"
    ROLLBACK = "rollback"


ACTIVE_SQL = "is_active"


class ModelVersion(Base):
    """A model id tuneloop has trained or been told to serve. Exactly one is active: a partial
    unique index on `is_active` makes a second active row impossible, on both databases."""

    __tablename__ = "model_versions"
    __table_args__ = (
        PartialIndex(
            "uq_model_versions_active",
            "is_active",
            unique=True,
            where=ACTIVE_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(200), unique=True)
    base_model: Mapped[str | None] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(16))  # base, fine_tune, manual
    training_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_runs.id", ondelete="SET NULL")
    )
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
    state: Mapped[ModelState] = mapped_column(StrEnumType(ModelState))
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    shutdown_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Promotion(Base):
    """Append-only audit of every change of the served model: who, when, why, from what to
    what, and on which evidence (decision, eval run, dataset version)."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[PromotionAction] = mapped_column(StrEnumType(PromotionAction))
    from_model: Mapped[str | None] = mapped_column(String(200))
    to_model: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(Text)
    decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("decisions.id", ondelete="SET NULL"), unique=True
    )
    eval_run_id: Mapped[int | None] = mapped_column(ForeignKey("eval_runs.id", ondelete="SET NULL"))
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
