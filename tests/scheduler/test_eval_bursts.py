"""A 429 or 5xx burst during evaluation waits (honouring retry-after) and resumes; a burst that
outlasts TUNELOOP_EVAL_RETRY_WAIT_SECONDS leaves the run undecided and resumable, never
"insufficient evidence" on a candidate already trained. Through the real openai SDK into the
stand-in's fault injection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import openai
import pytest
from sqlalchemy import select

from curation.db import Database
from scheduler.cycle import runner as cycle_runner
from scheduler.evaluation import (
    Asker,
    EvalOptions,
    EvaluationPaused,
    Evaluator,
    RetryPolicy,
    SimilarityGrader,
)
from scheduler.records import CycleStage, Decision, EvalItem, EvalRun, EvalStatus, ItemOutcome
from tests.scheduler.conftest import BASE_MODEL, FAQ, Harness
from tests.scheduler.helpers import add_examples, train_model
from tests.scheduler.test_cycle import count, seed
from tests.scheduler.test_resume import assert_one_clean_cycle
from tuneloop.local_openai import LocalOpenAI

T0 = datetime(2026, 11, 21, 3, tzinfo=UTC)
CHAT = ("/chat/completions",)


def _evaluator(
    db: Database,
    client: openai.OpenAI,
    *,
    attempts: int,
    retry_wait_s: float,
    waits: list[float] | None = None,
    round_waits: list[float] | None = None,
) -> Evaluator:
    """Question retries and rounds record their waits (none sleeps); time passes only by them."""
    waits = [] if waits is None else waits
    round_waits = waits if round_waits is None else round_waits
    return Evaluator(
        db,
        Asker(client, retry=RetryPolicy(attempts=attempts), sleep=waits.append),
        SimilarityGrader(),
        EvalOptions(concurrency=1, retry_wait_s=retry_wait_s),
        sleep=round_waits.append,
        clock=lambda: sum(waits) + (sum(round_waits) if round_waits is not waits else 0),
    )


def _burst(stand_in: LocalOpenAI, kind: str, calls: int) -> None:
    stand_in.faults.only_paths = CHAT
    if kind == "429":
        stand_in.faults.rate_limit(calls, retry_after_s=2)
    else:
        stand_in.faults.fail_requests(calls, status=503)


def test_a_burst_longer_than_each_questions_tries_is_waited_out(
    db: Database, client: openai.OpenAI, stand_in: LocalOpenAI
) -> None:
    candidate = train_model(client, FAQ)
    add_examples(db, FAQ[:6], golden=True)
    asker_waits: list[float] = []
    round_waits: list[float] = []
    evaluator = _evaluator(
        db, client, attempts=4, retry_wait_s=60, waits=asker_waits, round_waits=round_waits
    )
    with db.session() as session:
        run_id = evaluator.create_run(session, candidate=candidate, incumbent=BASE_MODEL).id
    _burst(stand_in, "429", 30)  # every question's 4 tries, then 6 more: two rounds of waiting
    run = evaluator.run(run_id)
    assert run.status is EvalStatus.COMPLETE
    assert run.summary["outcomes"]["error"] == 0 and run.summary["outcomes"]["win"] == 6
    assert round_waits == [2.0, 2.0]  # the provider's retry-after, between rounds
    assert set(asker_waits) == {2.0}
    assert stand_in.faults.rate_limited_calls == 0


@pytest.mark.parametrize("kind", ["429", "5xx"])
def test_a_burst_that_outlasts_the_bound_leaves_the_run_undecided_and_resumable(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    seed(harness.db)
    clock = [T0]
    harness.now = lambda: clock[0]
    harness.eval_options = EvalOptions(concurrency=4, retry_wait_s=10, round_delay_s=1)
    evaluate = cycle_runner.STAGES[CycleStage.EVALUATE]

    def burst_then_evaluate(ctx, cycle):
        _burst(harness.stand_in, kind, 100_000)  # the burst starts as evaluation does
        monkeypatch.setitem(cycle_runner.STAGES, CycleStage.EVALUATE, evaluate)
        return evaluate(ctx, cycle)

    monkeypatch.setitem(cycle_runner.STAGES, CycleStage.EVALUATE, burst_then_evaluate)
    report = harness.runner().tick(force=True)

    assert not report.decided and report.stage == "evaluate"
    assert "paused" in report.note and "TUNELOOP_EVAL_RETRY_WAIT_SECONDS" in report.note
    with harness.db.read_session() as s:
        run = s.scalars(select(EvalRun)).one()
        assert run.status is not EvalStatus.COMPLETE
        assert s.scalar(select(Decision)) is None
    assert count(harness.db, EvalItem) == 0  # nothing scored as an error

    # A poll before the provider's hint waits; the provider recovers; the next poll resumes.
    assert harness.runner().poll().waiting_until is not None
    harness.stand_in.faults.clear()
    clock[0] += timedelta(minutes=2)
    report = harness.runner().poll()
    assert report is not None and report.outcome == "promoted"
    with harness.db.read_session() as s:
        outcomes = set(s.scalars(select(EvalItem.outcome)))
    assert ItemOutcome.ERROR not in outcomes
    assert_one_clean_cycle(harness)


def test_no_wait_starts_past_the_bound(
    db: Database, client: openai.OpenAI, stand_in: LocalOpenAI
) -> None:
    add_examples(db, FAQ[:3], golden=True)
    waits: list[float] = []
    evaluator = _evaluator(db, client, attempts=2, retry_wait_s=10, waits=waits)
    with db.session() as session:
        run_id = evaluator.create_run(session, candidate="m1", incumbent="m2").id
    _burst(stand_in, "429", 100_000)
    with pytest.raises(EvaluationPaused) as paused:
        evaluator.run(run_id)
    # Each round: three questions, each waiting 2 s once between its two tries (6 s). The
    # burst is met after round 1; rounds 2 and 3 start 2 s after the one before (retry-after);
    # a fourth would start 18 s into the burst, past the bound of 10.
    assert waits == [2.0] * 3 + [2.0] + [2.0] * 3 + [2.0] + [2.0] * 3
    assert paused.value.waited_s == 16 and paused.value.missing == 3
    assert "paused" in str(paused.value) and count(db, EvalItem) == 0


def test_a_deferred_run_keeps_what_it_answered_and_asks_only_the_rest(
    db: Database, client: openai.OpenAI, stand_in: LocalOpenAI
) -> None:
    candidate = train_model(client, FAQ)
    add_examples(db, FAQ[:6], golden=True)
    evaluator = _evaluator(db, client, attempts=1, retry_wait_s=0)
    with db.session() as session:
        run_id = evaluator.create_run(session, candidate=candidate, incumbent=BASE_MODEL).id
    stand_in.faults.only_paths = CHAT
    asked: list[str] = []
    ask = evaluator._asker.ask

    def counted(model, messages, **kw):
        asked.append(model)
        if len(asked) == 5 and not paused_once:  # two items answered, then 429s
            stand_in.faults.rate_limit(100, retry_after_s=30)
        return ask(model, messages, **kw)

    paused_once = False

    evaluator._asker.ask = counted  # type: ignore[method-assign]
    with pytest.raises(EvaluationPaused) as paused:
        evaluator.run(run_id)
    assert paused.value.missing == 4 and paused.value.retry_after_s == 30
    assert count(db, EvalItem) == 2
    paused_once = True
    stand_in.faults.clear()
    asked.clear()
    run = evaluator.run(run_id)
    assert run.status is EvalStatus.COMPLETE and run.summary["items"] == 6
    assert len(asked) == 2 * 4  # only the four missing items, each by both models
