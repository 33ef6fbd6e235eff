"""Examples an export would take now that a dataset version lacks ("approved since the last
training"), kept as a count in one row, so that reading it costs the same at any size.

An example counts while it is exportable (export's rule, `curation.export.exportable`: not
retired, not golden, the newest non-golden, non-retired example of its prompt on its side, and
for preference training a rejected reply) and is not an item of the baseline dataset version.

The writers keep the count: `example_added` and `example_retiring` run in the transaction that
adds or retires an example. Each first locks the tally row, so on PostgreSQL they take turns,
and each looks at the examples after taking the lock (READ COMMITTED: a statement sees what
committed before it began), so the change it applies accounts for every write that took its
turn before. A reading with another baseline, or after examples were added or retired behind
the store's back (the largest example id, or the number of retired examples the database
counts, moved), counts once over all examples and keeps the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Exists, exists, func, select
from sqlalchemy.orm import Session

from curation.db import Database
from curation.models import DatasetItem, Example, ExampleTally, Split
from curation.models.tally import TALLY_ID
from curation.stats import retired_examples

#: Training methods with a count of their own (curation.export.Method's values).
METHODS = ("sft", "dpo")


@dataclass(frozen=True, slots=True)
class NewExampleCounts:
    """Exportable examples absent from the baseline version: for supervised (`sft`) and for
    preference (`dpo`) training."""

    sft: int
    dpo: int

    def of(self, method: str) -> int:
        """The count for `method` ("sft" or "dpo"; a `curation.export.Method` will do)."""
        if method not in METHODS:
            raise ValueError(f"unknown training method {method!r}: use one of {METHODS}")
        return self.sft if method == "sft" else self.dpo


def new_example_counts(db: Database, baseline_version_id: int | None) -> NewExampleCounts:
    """The counts against dataset version `baseline_version_id` (None: against no version,
    every exportable example counts). One row read, plus a full count when the kept one was
    made against another baseline or examples were written behind the store's back."""
    with db.read_session() as session:
        tally = session.get(ExampleTally, TALLY_ID)
        if tally is not None and _current(session, tally, baseline_version_id):
            return NewExampleCounts(tally.sft, tally.dpo)
    with db.session() as session:
        tally = _locked(session)
        if tally is None:
            tally = ExampleTally(id=TALLY_ID)
            session.add(tally)
        elif _current(session, tally, baseline_version_id):
            return NewExampleCounts(tally.sft, tally.dpo)  # another reader just counted
        tally.baseline_version_id = baseline_version_id
        tally.max_example_id = _max_example_id(session)
        tally.retired = retired_examples(session)
        tally.sft = count_from_scratch(session, baseline_version_id, "sft")
        tally.dpo = count_from_scratch(session, baseline_version_id, "dpo")
        tally.valid = True
        return NewExampleCounts(tally.sft, tally.dpo)


def count_from_scratch(session: Session, baseline_version_id: int | None, method: str) -> int:
    """The count by definition, over every example: what the tally must always equal."""
    from curation.export import Method, exportable  # loads tiktoken: only when counting

    kind = Method(method)
    current = exportable(Split.TRAIN, kind).union(exportable(Split.EVAL, kind)).subquery()
    query = select(func.count()).select_from(current)
    if baseline_version_id is not None:
        query = query.where(~_in_version(baseline_version_id, current.c.id))
    return session.scalar(query) or 0


def example_added(session: Session, example: Example) -> None:
    """Account for `example`, just inserted (flushed) in `session`'s transaction."""
    tally = _locked(session)
    if tally is None:
        return
    tally.max_example_id = max(tally.max_example_id, example.id)
    if not tally.valid or example.golden:
        return
    newest = _newest(session, example)
    if newest is None or newest.id != example.id:
        return  # a newer example of this prompt holds the place (a late commit): no change
    before = _newest(session, example, below=example.id)
    _apply(session, tally, gained=example, lost=before)


def example_retiring(session: Session, example_id: int) -> None:
    """Account for the retirement of example `example_id`, about to be written in
    `session`'s transaction (call it before the UPDATE)."""
    tally = _locked(session)
    if tally is None:
        return
    example = session.get(Example, example_id)
    if example is None or example.retired_at is not None:
        return  # nothing will change
    tally.retired += 1
    if not tally.valid or example.golden:
        return
    newest = _newest(session, example)
    if newest is None or newest.id != example.id:
        return  # not exported now, and its retirement exposes nothing
    successor = _newest(session, example, below=example.id)
    _apply(session, tally, gained=successor, lost=example)


def _current(session: Session, tally: ExampleTally, baseline_version_id: int | None) -> bool:
    return (
        tally.valid
        and tally.baseline_version_id == baseline_version_id
        and tally.max_example_id == _max_example_id(session)
        and tally.retired == retired_examples(session)
    )


def _locked(session: Session) -> ExampleTally | None:
    """The tally row, locked until the transaction ends (FOR UPDATE on PostgreSQL; SQLite's
    write transactions already take turns), and read afresh."""
    return session.scalar(
        select(ExampleTally)
        .where(ExampleTally.id == TALLY_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _max_example_id(session: Session) -> int:
    return session.scalar(select(func.max(Example.id))) or 0


def _newest(session: Session, example: Example, *, below: int | None = None) -> Example | None:
    """The newest non-golden, non-retired example of `example`'s prompt and side (the one an
    export takes), or with `below` the newest older than that id. An index search on
    ix_examples_prompt_split."""
    query = select(Example).where(
        Example.prompt_hash == example.prompt_hash,
        Example.split == example.split,
        Example.golden.is_(False),
        Example.retired_at.is_(None),
    )
    if below is not None:
        query = query.where(Example.id < below)
    return session.scalar(query.order_by(Example.id.desc()).limit(1))


def _in_version(version_id: int, example_id: ColumnElement[int] | int) -> Exists:
    return exists().where(
        DatasetItem.dataset_version_id == version_id, DatasetItem.example_id == example_id
    )


def _apply(
    session: Session, tally: ExampleTally, *, gained: Example | None, lost: Example | None
) -> None:
    """`gained` became exportable and `lost` stopped being (either may be None)."""
    for example, sign in ((gained, 1), (lost, -1)):
        if example is None or _is_in_baseline(session, tally, example.id):
            continue
        tally.sft += sign
        if example.rejected is not None:
            tally.dpo += sign


def _is_in_baseline(session: Session, tally: ExampleTally, example_id: int) -> bool:
    if tally.baseline_version_id is None:
        return False
    return bool(session.scalar(select(_in_version(tally.baseline_version_id, example_id))))
