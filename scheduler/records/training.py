"""TrainingRun: one fine-tuning job for one dataset version, with what the provider said."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, JSONType, StrEnumType, UTCDateTime, utcnow


class TrainingStatus(enum.StrEnum):
    """OpenAI's job statuses, plus the moments before a job exists and after it succeeded."""

    PREPARING = "preparing"  # files being uploaded or processed; no job yet
    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    LOADING = "loading"  # succeeded, but the model still answers model_not_found
    READY = "ready"  # succeeded and answering
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (TrainingStatus.READY, TrainingStatus.FAILED, TrainingStatus.CANCELLED)


class TrainingRun(Base):
    """Unique per dataset version and per job id: the database itself refuses a second job
    record for the same data, and resuming looks the job up instead of creating one."""

    __tablename__ = "training_runs"
    __table_args__ = (
        UniqueConstraint("dataset_version_id"),
        UniqueConstraint("job_id"),
        UniqueConstraint("cycle_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int | None] = mapped_column(
        ForeignKey("retrain_cycles.id", ondelete="SET NULL")
    )
    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="RESTRICT")
    )
    trainer: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))  # what training starts from (base or ft:)
    base_model: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(16))
    suffix: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int | None] = mapped_column(Integer)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: The file trained on (the export's train.jsonl, or the incremental subset) and its hash.
    train_file: Mapped[str] = mapped_column(Text)
    train_sha256: Mapped[str] = mapped_column(String(64))
    training_examples: Mapped[int] = mapped_column(Integer)
    training_tokens: Mapped[int] = mapped_column(Integer)
    estimated_cost_usd: Mapped[float] = mapped_column(Float)
    train_file_id: Mapped[str | None] = mapped_column(String(128))
    eval_file_id: Mapped[str | None] = mapped_column(String(128))
    job_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[TrainingStatus] = mapped_column(
        StrEnumType(TrainingStatus), default=TrainingStatus.PREPARING
    )
    fine_tuned_model: Mapped[str | None] = mapped_column(String(200))
    trained_tokens: Mapped[int | None] = mapped_column(Integer)
    #: sha256 of the trained artifact where the trainer reports one (a LoRA adapter's files).
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
