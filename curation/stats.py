"""Counts across the store, for `tuneloop stats` and for dashboards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from curation.db import Database
from curation.models import (
    Correction,
    DatasetVersion,
    Example,
    Exchange,
    Feedback,
    ReviewItem,
    ReviewState,
)


def store_stats(db: Database) -> dict[str, Any]:
    """A stable, JSON-ready summary of what the store holds."""
    with db.read_session() as s:

        def grouped(column: Any, *where: Any) -> dict[str, int]:
            query = select(column, func.count()).group_by(column)
            for condition in where:
                query = query.where(condition)
            return {str(getattr(k, "value", k)): n for k, n in s.execute(query).all()}

        active = Example.retired_at.is_(None)
        latest = s.scalars(
            select(DatasetVersion).order_by(DatasetVersion.id.desc()).limit(1)
        ).first()
        review = {state.value: 0 for state in ReviewState}
        review.update(grouped(ReviewItem.state))
        return {
            "exchanges": {
                "total": s.scalar(select(func.count(Exchange.id))) or 0,
                "by_status": grouped(Exchange.status),
            },
            "feedback": grouped(Feedback.kind),
            "corrections": s.scalar(select(func.count(Correction.id))) or 0,
            "review": review,
            "examples": {
                "total": s.scalar(select(func.count(Example.id)).where(active)) or 0,
                "by_source": grouped(Example.source, active),
                "by_split": grouped(Example.split, active, Example.golden.is_(False)),
                "golden": s.scalar(
                    select(func.count(Example.id)).where(active, Example.golden.is_(True))
                )
                or 0,
                "retired": s.scalar(
                    select(func.count(Example.id)).where(Example.retired_at.is_not(None))
                )
                or 0,
            },
            "dataset_versions": s.scalar(select(func.count(DatasetVersion.id))) or 0,
            "latest_dataset": None
            if latest is None
            else {
                "id": latest.id,
                "created_at": latest.created_at.isoformat(),
                "method": latest.method,
                "model": latest.model,
                "train": latest.train_count,
                "eval": latest.eval_count,
                "fingerprint": latest.fingerprint,
            },
        }
