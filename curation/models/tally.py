"""ExampleTally: how many exportable examples a dataset version lacks, kept up to date as
examples are added and retired, so "approved since the last training" is one row read."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base

#: The one row of `example_tallies`.
TALLY_ID = 1


class ExampleTally(Base):
    """One row (id 1). `sft` and `dpo` count the examples an export would take now (for
    supervised and preference training) that are not items of dataset version
    `baseline_version_id` (of no version: None). Valid only while `valid` is true and
    `max_example_id` is still the largest example id: an example written behind the store's
    back (bulk SQL) changes that, and the next read counts afresh (see curation.new_examples).
    """

    __tablename__ = "example_tallies"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    valid: Mapped[bool] = mapped_column(Boolean, default=False)
    baseline_version_id: Mapped[int | None] = mapped_column(Integer)
    max_example_id: Mapped[int] = mapped_column(Integer, default=0)
    sft: Mapped[int] = mapped_column(Integer, default=0)
    dpo: Mapped[int] = mapped_column(Integer, default=0)
