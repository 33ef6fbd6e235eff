"""Counts across the store, for `tuneloop stats` and for dashboards."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select

from curation.db import Database
from curation.models import (
    Correction,
    DatasetVersion,
    Example,
    ExchangeCount,
    Feedback,
    ReviewItem,
    ReviewState,
)


def store_stats(db: Database) -> dict[str, Any]:
    """A stable, JSON-ready summary of what the store holds.

    Exchanges by status are read from the counts the database keeps (exchange_counts, a
    row per status); the other tables are counted in one grouped pass each over an index
    (ix_feedback_kind, ix_review_items_state_id, ix_examples_stats), not over their rows.
    """
    with db.read_session() as s:

        def grouped(column: Any) -> dict[str, int]:
            query = select(column, func.count()).group_by(column)
            return {str(getattr(k, "value", k)): n for k, n in s.execute(query).all()}

        by_status = {
            status.value: n
            for status, n in s.execute(select(ExchangeCount.status, ExchangeCount.n))
            if n
        }
        review = {state.value: 0 for state in ReviewState}
        review.update(grouped(ReviewItem.state))
        retired = Example.retired_at.is_not(None)
        example_groups = s.execute(
            select(Example.source, Example.split, Example.golden, retired, func.count()).group_by(
                Example.source, Example.split, Example.golden, retired
            )
        ).all()
        latest = s.scalars(
            select(DatasetVersion).order_by(DatasetVersion.id.desc()).limit(1)
        ).first()
        return {
            "exchanges": {"total": sum(by_status.values()), "by_status": by_status},
            "feedback": grouped(Feedback.kind),
            "corrections": s.scalar(select(func.count()).select_from(Correction)) or 0,
            "review": review,
            "examples": _example_counts(example_groups),
            "dataset_versions": s.scalar(select(func.count()).select_from(DatasetVersion)) or 0,
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


def _example_counts(groups: Sequence[Row[Any]]) -> dict[str, Any]:
    """Totals of active examples by source and by split (golden ones apart), golden and
    retired counts, from rows of (source, split, golden, retired, count)."""
    by_source: dict[str, int] = {}
    by_split: dict[str, int] = {}
    total = golden = retired = 0
    for source, split, is_golden, is_retired, n in groups:
        if is_retired:
            retired += n
            continue
        total += n
        by_source[source.value] = by_source.get(source.value, 0) + n
        if is_golden:
            golden += n
        else:
            by_split[split.value] = by_split.get(split.value, 0) + n
    return {
        "total": total,
        "by_source": by_source,
        "by_split": by_split,
        "golden": golden,
        "retired": retired,
    }
