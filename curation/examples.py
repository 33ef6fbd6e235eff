"""Adding curated examples: validated, scrubbed, de-duplicated and split, by one function."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from curation.chat_format import check_prompt
from curation.errors import NotFoundError, ValidationError
from curation.fingerprints import content_hash, prompt_hash, split_for
from curation.models import Example, ExampleSource, Split
from curation.models.base import utcnow
from curation.new_examples import example_added, example_retiring
from curation.scrub import clean_for_storage, scrub_messages


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


def validate_new_example(new: NewExample, where: str = "example") -> list[str]:
    """Every broken rule of a would-be example, each naming where it is."""
    problems = [f"{where}: {p}" for p in check_prompt(new.messages)]
    if not isinstance(new.target, str) or not new.target.strip():
        problems.append(f"{where}: missing_content at target: the reply is empty")
    if new.rejected is not None and new.rejected.strip() == new.target.strip():
        problems.append(f"{where}: identical_outputs: the rejected reply equals the target")
    if new.golden and new.split not in (None, Split.EVAL):
        problems.append(f"{where}: golden_is_eval: golden items are evaluation-only")
    return problems


def insert_example(
    session: Session, new: NewExample, *, approved_by: str, eval_fraction: float
) -> tuple[Example, bool]:
    """Store `new` unless an identical example exists. Returns (example, created).

    Safe under concurrency: the unique content hash decides, inside a savepoint, so two
    processes adding the same example end with one row and neither fails.
    """
    # Clean first, then validate what will actually be stored.
    if isinstance(new.messages, list) and all(isinstance(m, dict) for m in new.messages):
        new = replace(new, messages=scrub_messages(new.messages))
    if isinstance(new.target, str):
        new = replace(new, target=clean_for_storage(new.target))
    if isinstance(new.rejected, str):
        new = replace(new, rejected=clean_for_storage(new.rejected))
    problems = validate_new_example(new)
    if problems:
        raise ValidationError("example refused", problems)
    messages, target, rejected = new.messages, new.target, new.rejected
    digest = content_hash(messages, target)
    existing = session.scalar(select(Example).where(Example.content_hash == digest))
    if existing is not None:
        return existing, False
    split = Split.EVAL if new.golden else (new.split or split_for(new.thread_key, eval_fraction))
    example = Example(
        messages=messages,
        target=target,
        rejected=rejected,
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
        .values(retired_at=at or utcnow(), retired_reason=reason)
    )
    if result.rowcount == 0 and session.get(Example, example_id) is None:
        raise NotFoundError(f"example {example_id} does not exist")
