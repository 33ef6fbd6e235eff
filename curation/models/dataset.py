"""DatasetVersion: one export, recorded so training and evaluation can name what they used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, JSONType, UTCDateTime, utcnow


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    method: Mapped[str] = mapped_column(String(8))
    model: Mapped[str] = mapped_column(String(200))
    epochs: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    train_count: Mapped[int] = mapped_column(Integer)
    eval_count: Mapped[int] = mapped_column(Integer)
    train_tokens: Mapped[int] = mapped_column(Integer)
    estimated_training_tokens: Mapped[int] = mapped_column(Integer)
    estimated_cost_usd: Mapped[float] = mapped_column(Float)
    train_sha256: Mapped[str] = mapped_column(String(64))
    eval_sha256: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    #: sha256 over the ordered content hashes: equal fingerprints mean equal training data.
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType)


class DatasetItem(Base):
    """Which example went into which dataset version, and on which side."""

    __tablename__ = "dataset_items"

    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
    )
    example_id: Mapped[int] = mapped_column(
        ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    split: Mapped[str] = mapped_column(String(8))
