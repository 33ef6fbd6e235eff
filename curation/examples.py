"""Adding curated examples: validated, scrubbed, de-duplicated and split, by one function."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from curation.chat_format import check_dpo_line, check_sft_line
from curation.errors import NotFoundError, ValidationError
from curation.fingerprints import content_hash, prompt_hash, split_for
from curation.models import Example, ExampleSource, Split
from curation.models.base import utcnow
from curation.new_examples import example_added, example_retiring
from curation.scrub import clean_for_storage, scrub_value
from curation.token_limit import TokenLimit
from curation.training_line import TrainingLine


@dataclass(frozen=True, slots=True)
class NewExample:
    """An example before it is stored. `split` pins the side (seeds do); otherwise the thread's
    hash decides."""

    messages: list[dict[str, Any]]
    target: str
    source: ExampleSource
    thread_key: str
    rejected: str | None = None
    golden: bool = False
    split: Split | None = None
    exchange_id: int | None = None
    #: What else the line carried (see `curation.training_line`); None for prompt and reply.
    line_fields: dict[str, Any] | None = None

    @classmethod
    def from_line(cls, line: TrainingLine, **values: Any) -> NewExample:
        """The example for a training line taken apart (`source`, `thread_key`... in `values`)."""
        return cls(
            messages=line.prompt,
            target=line.target_text,
            rejected=line.rejected_text,
            line_fields=line.line_fields(),
            **values,
        )

    def training_line(self) -> TrainingLine:
        return TrainingLine.from_stored(self.messages, self.target, self.rejected, self.line_fields)


def validate_new_example(
    new: NewExample, where: str = "example", *, limit: TokenLimit | None = None
) -> list[str]:
    """Every broken rule of a would-be example, each naming where it is: the lines export would
    write for it, checked by the same rules as every other door (`curation.chat_format`), and
    against the target model's per-example token `limit` when one is given."""
    if (
        not isinstance(new.messages, list)
        or not isinstance(new.target, str)
        or not isinstance(new.rejected, str | None)
    ):
        return [f"{where}: data_type: messages must be a list, the target and rejected text"]
    if not new.target.strip() and new.line_fields is None:
        return [f"{where}: missing_content at target: the reply is empty"]
    line = new.training_line()
    problems = [f"{where}: {p}" for p in check_sft_line(line.sft_line())]
    if new.rejected is not None and not problems:
        problems.extend(f"{where}: {p}" for p in check_dpo_line(line.dpo_line()))
    if new.golden and new.split not in (None, Split.EVAL):
        problems.append(f"{where}: golden_is_eval: golden items are evaluation-only")
    if limit is not None and not problems:
        too_long = limit.problem(line)
        if too_long is not None:
            problems.append(f"{where}: {too_long}")
    return problems


def _as_stored(new: NewExample) -> NewExample:
    """`new` as it would be stored: secrets scrubbed, text cleaned."""
    return replace(
        new,
        messages=scrub_value(new.messages),
        target=clean_for_storage(new.target) if isinstance(new.target, str) else new.target,
        rejected=clean_for_storage(new.rejected) if isinstance(new.rejected, str) else new.rejected,
        line_fields=scrub_value(new.line_fields),
    )


def stored_content_hash(new: NewExample) -> str:
    """The content hash `new` would be stored under (`Example.content_hash`): equal for two
    examples that `insert_example` takes for one."""
    stored = _as_stored(new)
    return content_hash(stored.messages, stored.target, stored.line_fields)


def insert_example(
    session: Session,
    new: NewExample,
    *,
    approved_by: str,
    eval_fraction: float,
    limit: TokenLimit | None = None,
) -> tuple[Example, bool]:
    """Store `new` unless an identical example exists. Returns (example, created); raises
    ValidationError for a broken rule (see `validate_new_example`).

    Safe under concurrency: the unique content hash decides, inside a savepoint, so two
    processes adding the same example end with one row and neither fails.
    """
    # Clean first, then validate what will actually be stored.
    new = _as_stored(new)
    problems = validate_new_example(new, limit=limit)
    if problems:
        raise ValidationError("example refused", problems)
    messages, target, rejected = new.messages, new.target, new.rejected
    digest = content_hash(messages, target, new.line_fields)
    existing = session.scalar(select(Example).where(Example.content_hash == digest))
    if existing is not None:
        return existing, False
    split = Split.EVAL if new.golden else (new.split or split_for(new.thread_key, eval_fraction))
    example = Example(
        messages=messages,
        target=target,
        rejected=rejected,
        line_fields=new.line_fields,
        source=new.source,
        split=split,
        golden=new.golden,
        thread_key=new.thread_key,
        content_hash=digest,
        prompt_hash=prompt_hash(messages),
        exchange_id=new.exchange_id,
        approved_by=approved_by,
    )
    try:
        with session.begin_nested():
            session.add(example)
    except IntegrityError:
        existing = session.scalar(select(Example).where(Example.content_hash == digest))
        if existing is None:
            raise
        return existing, False
    example_added(session, example)
    return example, True


def retire_example(
    session: Session, example_id: int, *, reason: str, at: datetime | None = None
) -> None:
    """Take an example out of future exports (kept for the audit trail, never deleted)."""
    example_retiring(session, example_id)
    result = session.execute(
        update(Example)
        .where(Example.id == example_id, Example.retired_at.is_(None))
        .values(retired_at=at or utcnow(), retired_reason=clean_for_storage(reason))
    )
    if result.rowcount == 0 and session.get(Example, example_id) is None:
        raise NotFoundError(f"example {example_id} does not exist")


#: Most examples one listing returns: a page to read, not an export.
MAX_LISTED = 1000


def list_examples(
    session: Session,
    *,
    split: Split | None = None,
    source: ExampleSource | None = None,
    retired: bool = False,
    limit: int = 20,
) -> list[Example]:
    """Examples newest first (by id, the primary key: the walk stops after `limit` matches),
    narrowed by `split` and `source`; `retired`: the retired ones instead of those in use.
    Raises ValidationError for a `limit` outside 1..MAX_LISTED."""
    if not 1 <= limit <= MAX_LISTED:
        raise ValidationError(f"--limit {limit}: give 1 to {MAX_LISTED}")
    query = select(Example).where(
        Example.retired_at.is_not(None) if retired else Example.retired_at.is_(None)
    )
    if split is not None:
        query = query.where(Example.split == split)
    if source is not None:
        query = query.where(Example.source == source)
    return list(session.scalars(query.order_by(Example.id.desc()).limit(limit)))
