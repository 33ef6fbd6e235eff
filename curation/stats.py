"""Counts across the store, for `tuneloop stats`, the review queue and dashboards.

Rows per table and group come from the counts the database keeps (kept_counts, moved by
triggers in the statement that writes the rows; see migration 0004): a few rows read,
whatever the size of the store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from curation.db import Database
from curation.models import DatasetVersion, KeptCount, ReviewState


def kept_counts(session: Session) -> dict[str, dict[str, int]]:
    """{table: {bucket: rows}} (curation.models.tally.BUCKETS); empty buckets left out."""
    counts: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(KeptCount.counted, KeptCount.bucket, func.sum(KeptCount.n)).group_by(
            KeptCount.counted, KeptCount.bucket
        )
    )
    for counted, bucket, n in rows:
        if n:
            counts.setdefault(counted, {})[bucket] = int(n)
    return counts


def retired_examples(session: Session) -> int:
    """How many examples are retired (the kept counts' "/retired" buckets)."""
    query = select(func.coalesce(func.sum(KeptCount.n), 0)).where(
        KeptCount.counted == "examples", KeptCount.bucket.like("%/retired")
    )
    return int(session.scalar(query) or 0)


def review_counts(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """Review items by state, every state present."""
    review = {state.value: 0 for state in ReviewState}
    review.update(counts.get("review_items", {}))
    return review


def store_stats(db: Database) -> dict[str, Any]:
    """A stable, JSON-ready summary of what the store holds."""
    with db.read_session() as s:
        counts = kept_counts(s)
        latest = s.scalars(
            select(DatasetVersion).order_by(DatasetVersion.id.desc()).limit(1)
        ).first()
        versions = s.scalar(select(func.count()).select_from(DatasetVersion)) or 0
    by_status = counts.get("exchanges", {})
    return {
        "exchanges": {"total": sum(by_status.values()), "by_status": by_status},
        "feedback": counts.get("feedback", {}),
        "corrections": counts.get("corrections", {}).get("", 0),
        "review": review_counts(counts),
        "examples": _example_counts(counts.get("examples", {})),
        "dataset_versions": versions,
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


def _example_counts(buckets: dict[str, int]) -> dict[str, Any]:
    """Totals of active examples by source and by split (golden ones apart), golden and
    retired counts, from buckets "source/split[/golden][/retired]"."""
    by_source: dict[str, int] = {}
    by_split: dict[str, int] = {}
    total = golden = retired = 0
    for bucket, n in buckets.items():
        source, split, *marks = bucket.split("/")
        if "retired" in marks:
            retired += n
            continue
        total += n
        by_source[source] = by_source.get(source, 0) + n
        if "golden" in marks:
            golden += n
        else:
            by_split[split] = by_split.get(split, 0) + n
    return {
        "total": total,
        "by_source": by_source,
        "by_split": by_split,
        "golden": golden,
        "retired": retired,
    }
