"""Counts the store keeps as it is written, so that reading them costs the same at any size:
ExampleTally ("approved since the last training") and KeptCount (rows per table and group)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base

#: The one row of `example_tallies`.
TALLY_ID = 1


class ExampleTally(Base):
    """One row (id 1). `sft` and `dpo` count the examples an export would take now (for
    supervised and preference training) that are not items of dataset version
    `baseline_version_id` (of no version: None). Valid only while `valid` is true,
    `max_example_id` is still the largest example id and `retired` still the number of retired
    examples (kept_counts): an example added or retired behind the store's back (bulk SQL)
    changes one of them, and the next read counts afresh (see curation.new_examples).
    """

    __tablename__ = "example_tallies"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    valid: Mapped[bool] = mapped_column(Boolean, default=False)
    baseline_version_id: Mapped[int | None] = mapped_column(Integer)
    max_example_id: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[int] = mapped_column(Integer, default=0)
    sft: Mapped[int] = mapped_column(Integer, default=0)
    dpo: Mapped[int] = mapped_column(Integer, default=0)


class KeptCount(Base):
    """How many rows of a table fall in each bucket, kept by triggers on the table (migration
    0004) in the statement that writes the rows, so `tuneloop stats` and the review counts
    read a few rows instead of counting a million; writes made behind the store's back are
    counted too. `counted` names the table, `bucket` the group (see BUCKETS); a count is the
    sum of its shards."""

    __tablename__ = "kept_counts"

    counted: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: One count is spread over several rows on PostgreSQL (see migration 0004): add them up.
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=0)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


#: What each counted table's buckets are: a column's value, or for examples
#: "source/split", then "/golden" for golden ones and "/retired" for retired ones
#: (`upvote/train`, `seed/eval/golden`, `import/train/retired`); corrections have one bucket, "".
BUCKETS = {
    "exchanges": "status",
    "feedback": "kind",
    "corrections": "",
    "review_items": "state",
    "examples": "source/split[/golden][/retired]",
}
