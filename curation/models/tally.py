"""Counts the store keeps as it is written, so that reading them costs the same at any size:
ExampleTally ("approved since the last training") and ExchangeCount (exchanges by status)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Integer
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, StrEnumType
from curation.models.exchange import ExchangeStatus

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


class ExchangeCount(Base):
    """How many exchanges are in each status, kept by triggers on `exchanges` (migration
    0004), so `tuneloop stats` reads three rows instead of counting a million. Every write to
    `exchanges`, through the store or not, moves the counts in the same statement."""

    __tablename__ = "exchange_counts"

    status: Mapped[ExchangeStatus] = mapped_column(StrEnumType(ExchangeStatus), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
