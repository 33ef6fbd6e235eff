"""Example: the curated training unit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from curation.models.base import Base, JSONType, PartialIndex, StrEnumType, UTCDateTime, utcnow


class ExampleSource(enum.StrEnum):
    SEED = "seed"
    CORRECTION = "correction"
    UPVOTE = "upvote"
    IMPORT = "import"


class Split(enum.StrEnum):
    TRAIN = "train"
    EVAL = "eval"


#: The rows `tuneloop examples list --retired` reads: few, in a partial index.
RETIRED_SQL = "retired_at IS NOT NULL"


class Example(Base):
    """Prompt messages (system prompt, history, user turn), the target reply, and where it came
    from. `rejected` keeps the original bad reply of a corrected exchange, for preference (DPO)
    training. `line_fields` keeps whatever else a line of OpenAI's training format carried
    (tools, a reply with tool calls or text parts, messages after the reply; see
    `curation.training_line`), and is NULL for the usual prompt-and-reply example.
    `content_hash` refuses exact duplicates; `prompt_hash` lets export keep only the newest
    target for one prompt, so a correction supersedes an older answer.
    """

    __tablename__ = "examples"
    __table_args__ = (
        UniqueConstraint("content_hash"),
        # Export keeps the newest example per (prompt, split); with this index that lookup is a
        # point query (a plain index on split led SQLite into a quadratic range scan).
        Index("ix_examples_prompt_split", "prompt_hash", "split"),
        # `tuneloop examples list --source S` and `--retired`, newest first: each walks only
        # the rows it lists, however many others the store holds.
        Index("ix_examples_source_id", "source", "id"),
        PartialIndex("ix_examples_retired", "id", where=RETIRED_SQL),
        # The golden set is evaluation-only, forever: the database itself refuses otherwise.
        CheckConstraint("NOT golden OR split = 'eval'", name="golden_is_eval"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    target: Mapped[str] = mapped_column(Text)
    rejected: Mapped[str | None] = mapped_column(Text)
    line_fields: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    source: Mapped[ExampleSource] = mapped_column(StrEnumType(ExampleSource))
    split: Mapped[Split] = mapped_column(StrEnumType(Split))
    golden: Mapped[bool] = mapped_column(Boolean, default=False)
    thread_key: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchanges.id", ondelete="SET NULL"))
    approved_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_reason: Mapped[str | None] = mapped_column(Text)
