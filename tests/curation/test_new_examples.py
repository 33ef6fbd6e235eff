"""The tally of examples new since a dataset version: always what counting from scratch says,
through additions, supersessions, retirements, golden items, new baselines and writes made
behind the store's back, and under concurrent approvals on PostgreSQL."""

from __future__ import annotations

import random
import threading

from sqlalchemy import func, insert, literal, select, union, update

from curation.db import Database
from curation.examples import NewExample, insert_example, retire_example
from curation.export import Method, exportable
from curation.models import DatasetItem, DatasetVersion, Example, ExampleSource, ExampleTally, Split
from curation.models.tally import TALLY_ID
from curation.new_examples import count_from_scratch, new_example_counts

SYSTEM = {"role": "system", "content": "You are the Fernhill help desk."}


def _new(question: int, target: str, *, rejected: str | None = None, **extra: object) -> NewExample:
    return NewExample(
        messages=[SYSTEM, {"role": "user", "content": f"Question {question}?"}],
        target=target,
        rejected=rejected,
        source=ExampleSource.CORRECTION if rejected else ExampleSource.UPVOTE,
        thread_key=f"T1:C1:{question}",
        **extra,  # type: ignore[arg-type]
    )


def _add(db: Database, new: NewExample) -> int:
    with db.session() as session:
        example, _ = insert_example(session, new, approved_by="UREV", eval_fraction=0.3)
        return example.id


def _cut_version(db: Database) -> int:
    """A dataset version holding every example exportable now (what an export records)."""
    with db.session() as session:
        version = DatasetVersion(
            method="sft", model="m", epochs=1, path="p", train_count=0, eval_count=0,
            train_tokens=0, estimated_training_tokens=0, estimated_cost_usd=0.0,
            train_sha256="", eval_sha256="", manifest_sha256="", fingerprint="f", summary={},
        )  # fmt: skip
        session.add(version)
        session.flush()
        chosen = union(
            exportable(Split.TRAIN, Method.SFT), exportable(Split.EVAL, Method.SFT)
        ).subquery()
        session.execute(
            insert(DatasetItem).from_select(
                ["dataset_version_id", "example_id", "split"],
                select(literal(version.id), Example.id, Example.split).where(
                    Example.id.in_(select(chosen.c.id))
                ),
            )
        )
        return version.id


def _kept(db: Database) -> ExampleTally:
    with db.read_session() as session:
        tally = session.get(ExampleTally, TALLY_ID)
        assert tally is not None
        return tally


def _from_scratch(db: Database, baseline: int | None) -> tuple[int, int]:
    with db.read_session() as session:
        return (
            count_from_scratch(session, baseline, "sft"),
            count_from_scratch(session, baseline, "dpo"),
        )


def test_the_kept_count_follows_every_change_without_counting_again(db: Database) -> None:
    rng = random.Random(7)
    baseline = None
    new_example_counts(db, baseline)  # the first reading counts; the writers keep it after
    live: list[int] = []
    for step in range(120):
        roll = rng.random()
        if roll < 0.6:  # a new example; few prompts, so newer ones supersede older ones
            question = rng.randrange(8)
            rejected = "The old reply." if rng.random() < 0.5 else None
            golden = rng.random() < 0.1
            new = _new(question, f"Reply {step}.", rejected=rejected, golden=golden)
            live.append(_add(db, new))
        elif roll < 0.8 and live:  # a retirement
            with db.session() as session:
                retire_example(session, live.pop(rng.randrange(len(live))), reason="bad")
        elif roll < 0.85:  # a training: the kept count moves to the new baseline
            baseline = _cut_version(db)
            new_example_counts(db, baseline)
        tally = _kept(db)
        assert tally.valid and tally.baseline_version_id == baseline
        assert (tally.sft, tally.dpo) == _from_scratch(db, baseline), f"step {step}"
    assert new_example_counts(db, baseline).of(Method.DPO) == _from_scratch(db, baseline)[1]


def test_examples_added_or_retired_behind_the_stores_back_are_counted_at_the_next_reading(
    db: Database,
) -> None:
    _add(db, _new(1, "First."))
    assert new_example_counts(db, None).sft == 1
    with db.session() as session:  # no insert_example: the tally is not told
        session.add(
            Example(
                messages=[SYSTEM, {"role": "user", "content": "Loaded?"}],
                target="Bulk.", source=ExampleSource.IMPORT, split=Split.TRAIN, golden=False,
                thread_key="T1:C1:bulk", content_hash="b" * 64, prompt_hash="c" * 64,
                approved_by="UREV",
            )
        )  # fmt: skip
    assert new_example_counts(db, None).sft == 2 == _from_scratch(db, None)[0]
    with db.engine.begin() as conn:  # a retirement behind its back too
        conn.execute(update(Example).values(retired_at=func.now()).where(Example.target == "Bulk."))
    assert new_example_counts(db, None).sft == 1 == _from_scratch(db, None)[0]


def test_a_new_baseline_counts_only_what_it_lacks(db: Database) -> None:
    for question in range(3):
        _add(db, _new(question, "Trained on."))
    version = _cut_version(db)
    assert new_example_counts(db, version).sft == 0
    _add(db, _new(0, "A later correction of question 0."))  # supersedes a trained example
    _add(db, _new(9, "Something new."))
    assert new_example_counts(db, version).sft == 2
    assert new_example_counts(db, None).sft == 4  # against no version: every exportable one


def test_concurrent_approvals_of_one_prompt_keep_the_count_exact(db: Database) -> None:
    """On PostgreSQL the writers take turns on the tally row; on SQLite on the write lock."""
    new_example_counts(db, None)
    errors: list[BaseException] = []
    workers = 4
    together = threading.Barrier(workers, timeout=30)

    def approve(worker: int) -> None:
        try:
            for n in range(6):
                together.wait()  # every round, all writers at once
                # Even rounds: one prompt for all (each supersedes another's); odd: one each.
                question = n if n % 2 == 0 else 100 * (worker + 1) + n
                _add(db, _new(question, f"Worker {worker}, reply {n}.", rejected="Old."))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=approve, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    tally = _kept(db)
    assert tally.valid
    assert (tally.sft, tally.dpo) == _from_scratch(db, None)
