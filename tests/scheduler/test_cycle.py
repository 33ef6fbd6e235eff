"""The retraining cycle end to end against the stand-in: better candidates are promoted, worse
ones rejected with reasons, failures promote nothing, and every refusal says why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from curation.db import Database
from curation.models import Split
from scheduler.records import (
    CycleOutcome,
    Decision,
    EvalItem,
    EvalRun,
    ModelState,
    Promotion,
    PromotionAction,
    RetrainCycle,
    TrainingRun,
    TrainingStatus,
    Verdict,
)
from scheduler.registry import Registry
from tests.scheduler.conftest import BASE_MODEL, FAQ, Harness
from tests.scheduler.helpers import add_examples, golden_pairs, held_out_pairs
from tuneloop.local_openai import LocalOpenAI, ManualClock

POISON = "I cannot help with that, ask someone else."


def seed(db: Database) -> None:
    """Twelve training examples, eight golden items and four held-out items."""
    add_examples(db, FAQ, split=Split.TRAIN, thread_prefix="train")
    add_examples(db, golden_pairs(FAQ[:8]), golden=True, thread_prefix="golden")
    add_examples(db, held_out_pairs(FAQ[8:]), split=Split.EVAL, thread_prefix="held")


def count(db: Database, model: type) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count()).select_from(model))


def one(db: Database, model: type):
    with db.read_session() as s:
        return s.scalars(select(model).order_by(model.id.desc())).first()


def test_a_better_candidate_is_promoted_with_every_record(harness: Harness) -> None:
    seed(harness.db)
    report = harness.runner().tick()
    assert report.outcome == CycleOutcome.PROMOTED, report.note
    run = one(harness.db, TrainingRun)
    assert run.status is TrainingStatus.READY and run.job_id and run.fine_tuned_model
    assert Registry(harness.db).active().model == run.fine_tuned_model
    evaluation = one(harness.db, EvalRun)
    assert (evaluation.candidate, evaluation.incumbent) == (run.fine_tuned_model, BASE_MODEL)
    assert count(harness.db, EvalItem) == 12
    decision = one(harness.db, Decision)
    assert decision.verdict is Verdict.PROMOTE and decision.numbers["wins"] == 12
    assert decision.numbers["shutdown_date"] == "2027-01-14"
    promotion = one(harness.db, Promotion)
    assert (promotion.action, promotion.decision_id, promotion.eval_run_id) == (
        PromotionAction.PROMOTE,
        decision.id,
        evaluation.id,
    )
    assert promotion.dataset_version_id == run.dataset_version_id
    assert promotion.actor == "tuneloop:scheduler" and promotion.reason == decision.reason
    assert [e.outcome for e in harness.events] == ["promoted"]
    assert harness.events[0].numbers["wins"] == 12
    assert len(harness.jobs()) == 1
    job = harness.jobs()[0]
    assert job.metadata["tuneloop_dataset_version"] == str(run.dataset_version_id)
    assert job.method.supervised.hyperparameters.n_epochs == 3


def test_a_poisoned_candidate_is_rejected_with_reasons(harness: Harness) -> None:
    seed(harness.db)
    assert harness.runner().tick().outcome == CycleOutcome.PROMOTED
    good = Registry(harness.db).active().model
    add_examples(harness.db, [(q, POISON) for q, _ in FAQ], thread_prefix="poison")
    report = harness.runner().tick()
    assert report.outcome == CycleOutcome.REJECTED
    assert "not clearly better" in report.note and "regression on the golden set" in report.note
    assert Registry(harness.db).active().model == good
    decision = one(harness.db, Decision)
    assert decision.verdict is Verdict.REJECT
    assert decision.numbers["golden_mean_candidate"] < decision.numbers["golden_mean_incumbent"]
    states = {v.model: v.state for v in Registry(harness.db).versions()}
    assert states[decision.candidate] is ModelState.REJECTED
    assert [e.outcome for e in harness.events] == ["promoted", "rejected"]


def test_a_failed_job_promotes_nothing_and_keeps_openais_error(
    harness: Harness, stand_in: LocalOpenAI
) -> None:
    seed(harness.db)
    stand_in.faults.fail_next_jobs(1)
    report = harness.runner().tick()
    assert report.outcome == CycleOutcome.TRAINING_FAILED
    assert "internal_error" in report.note
    run = one(harness.db, TrainingRun)
    assert (run.status, run.error_code) == (TrainingStatus.FAILED, "internal_error")
    assert Registry(harness.db).active() is None and count(harness.db, EvalRun) == 0


def test_a_403_closes_the_cycle_with_the_wind_down_explained(
    harness: Harness, stand_in: LocalOpenAI
) -> None:
    seed(harness.db)
    stand_in.faults.forbid_job_creation()
    report = harness.runner().tick()
    assert report.outcome == CycleOutcome.UNAVAILABLE
    assert "2027-01-06" in report.note and "winding down" in report.note
    assert one(harness.db, TrainingRun).error_code == "fine_tuning_unavailable"
    assert harness.jobs() == []


def test_a_429_waits_for_the_next_scheduled_run(harness: Harness, stand_in: LocalOpenAI) -> None:
    seed(harness.db)
    stand_in.faults.only_paths = ("/fine_tuning/jobs",)
    stand_in.faults.rate_limit(1, retry_after_s=3600)
    runner = harness.runner()
    report = runner.tick()
    assert report.outcome is None and "rate limited" in report.note
    polled = runner.poll()  # the minutely poll honours the wait
    assert polled.waiting_until is not None and polled.outcome is None
    assert harness.jobs() == []
    assert runner.tick().outcome == CycleOutcome.PROMOTED  # the next scheduled run goes ahead
    assert len(harness.jobs()) == 1


def test_5xx_during_training_is_survived_with_one_job(
    harness: Harness, stand_in: LocalOpenAI
) -> None:
    seed(harness.db)
    stand_in.faults.only_paths = ("/fine_tuning/jobs",)
    stand_in.faults.fail_requests(2, status=503)
    runner = harness.runner()
    assert runner.tick().outcome is None
    assert runner.poll().outcome is None
    assert runner.poll().outcome == CycleOutcome.PROMOTED
    assert len(harness.jobs()) == 1


def test_model_not_found_after_success_is_waited_out(harness: Harness, tmp_path) -> None:
    clock = ManualClock(stage_seconds=1.0)
    harness.stand_in = LocalOpenAI(tmp_path / "slow-openai", clock=clock, load_delay_s=300)
    seed(harness.db)
    runner = harness.runner()
    assert runner.tick().outcome is None  # files processing
    for _ in range(4):
        clock.advance_stages(1)
        runner.poll()
    assert one(harness.db, TrainingRun).status is TrainingStatus.LOADING
    assert "model_not_found" in runner.poll().note
    clock.advance(300)
    assert runner.poll().outcome == CycleOutcome.PROMOTED
    assert len(harness.jobs()) == 1


def test_a_model_that_never_loads_fails_the_run(harness: Harness, tmp_path) -> None:
    moment = [datetime(2026, 11, 21, 9, tzinfo=UTC)]
    harness.now = lambda: moment[0]
    harness.stand_in = LocalOpenAI(
        tmp_path / "never", clock=ManualClock(stage_seconds=0), load_delay_s=10**9
    )
    seed(harness.db)
    runner = harness.runner()
    assert runner.tick().outcome is None
    moment[0] += timedelta(minutes=31)
    report = runner.poll()
    assert report.outcome == CycleOutcome.TRAINING_FAILED and "model_not_found" in report.note


def test_a_candidate_that_shuts_down_soon_is_refused(harness: Harness) -> None:
    seed(harness.db)
    harness.gate_overrides = {"shutdown_days": 60}
    report = harness.runner().tick()
    assert report.outcome == CycleOutcome.REJECTED
    assert "shuts down on 2027-01-14, 54 days from now" in report.note
    harness.today = date(2027, 1, 1)
    harness.gate_overrides = {}
    assert "13 days from now" in harness.runner().tick(force=True).note


def test_below_the_threshold_nothing_starts_unless_forced(harness: Harness) -> None:
    add_examples(harness.db, FAQ[:11], thread_prefix="t")
    harness.config_overrides = {"min_new_examples": 20}
    report = harness.runner().tick()
    assert report.cycle_id is None and "11 new approved examples" in report.note
    assert "TUNELOOP_MIN_NEW_EXAMPLES" in report.note
    add_examples(harness.db, golden_pairs(FAQ), golden=True)
    forced = harness.runner().tick(force=True, trigger="manual")
    assert forced.started and forced.outcome == CycleOutcome.PROMOTED
    assert harness.runner().new_examples() == 0
    add_examples(harness.db, [("Where is the canteen?", "On the ground floor.")])
    assert harness.runner().new_examples() == 1


def test_a_second_run_never_starts_while_one_is_open(
    harness: Harness, stand_in: LocalOpenAI
) -> None:
    seed(harness.db)
    stand_in.faults.stall_next_jobs(1)
    first = harness.runner().tick()
    assert first.started and first.outcome is None
    again = harness.runner().tick(force=True, trigger="manual")
    assert not again.started and again.cycle_id == first.cycle_id
    assert count(harness.db, RetrainCycle) == 1 and len(harness.jobs()) == 1


def test_over_budget_is_refused_with_the_figures(harness: Harness) -> None:
    seed(harness.db)
    harness.config_overrides = {"budget_per_run_usd": 0.0001}
    report = harness.runner().tick()
    assert report.outcome == CycleOutcome.OVER_BUDGET
    assert "per-run budget of $0.00" in report.note and "tokens x 3 epochs" in report.note
    assert harness.jobs() == [] and count(harness.db, TrainingRun) == 0


def test_the_monthly_budget_counts_this_months_runs(harness: Harness) -> None:
    seed(harness.db)
    assert harness.runner().tick().outcome == CycleOutcome.PROMOTED
    spent = one(harness.db, TrainingRun).estimated_cost_usd
    harness.config_overrides = {"budget_per_month_usd": spent * 1.5}
    report = harness.runner().tick(force=True)
    assert report.outcome == CycleOutcome.OVER_BUDGET and "monthly budget" in report.note


def test_dpo_trains_with_the_dpo_method(harness: Harness) -> None:
    seed(harness.db)
    from curation.examples import NewExample, insert_example
    from curation.models import ExampleSource
    from tests.scheduler.helpers import SYSTEM

    with harness.db.session() as s:
        for i, (q, a) in enumerate(FAQ):
            insert_example(
                s,
                NewExample(
                    messages=[SYSTEM, {"role": "user", "content": q}],
                    target=a + " Anything else?",
                    rejected=POISON,
                    source=ExampleSource.CORRECTION,
                    thread_key=f"dpo{i}",
                    split=Split.TRAIN,
                ),
                approved_by="U",
                eval_fraction=0.2,
            )
    harness.config_overrides = {"method": "dpo"}
    # DPO holds out only corrected examples
    harness.gate_overrides = {"min_items": 8, "min_differing_items": 8}
    report = harness.runner().tick()
    assert report.outcome == CycleOutcome.PROMOTED, report.note
    assert harness.jobs()[0].method.type == "dpo"


def test_incremental_continues_the_promoted_model_on_new_and_replayed_examples(
    harness: Harness,
) -> None:
    seed(harness.db)
    assert harness.runner().tick().outcome == CycleOutcome.PROMOTED
    first = one(harness.db, TrainingRun)
    more = [(f"Question number {i} about the canteen?", f"Answer {i}.") for i in range(4)]
    add_examples(harness.db, more, thread_prefix="new")
    harness.config_overrides = {"strategy": "incremental", "replay_ratio": 1.0}
    harness.runner().tick(force=True)
    second = one(harness.db, TrainingRun)
    assert second.strategy == "incremental" and second.model == first.fine_tuned_model
    assert second.hyperparameters["learning_rate_multiplier"] == 0.5
    assert second.training_examples == 10  # 4 new, topped up to OpenAI's minimum with replay
    assert second.train_file.endswith("train-incremental.jsonl")
    assert second.estimated_cost_usd < first.estimated_cost_usd
    jobs = harness.jobs()
    assert jobs[0].model == first.fine_tuned_model


def test_a_notifier_that_fails_does_not_undo_the_decision(harness: Harness) -> None:
    seed(harness.db)
    runner = harness.runner()

    def broken(_event):
        raise RuntimeError("slack is down")

    runner._notifier = broken
    assert runner.tick().outcome == CycleOutcome.PROMOTED


@pytest.mark.parametrize("grader_name", ["exact"])
def test_another_grader_can_drive_the_cycle(harness: Harness, grader_name: str) -> None:
    from scheduler.evaluation import ExactMatchGrader

    seed(harness.db)
    runner = harness.runner()
    runner.ctx.evaluator.grader = ExactMatchGrader()
    report = runner.tick()
    # Golden references differ from the trained answers by a suffix: exact match says no.
    assert report.outcome == CycleOutcome.REJECTED and "golden floor" in report.note


def test_the_incremental_file_is_the_same_on_every_attempt(tmp_path) -> None:
    import json

    from scheduler.training.selection import incremental_file

    entries = [{"id": i, "split": "train", "tokens": 10 + i} for i in range(30)]
    entries.append({"id": 99, "split": "eval", "tokens": 5})
    (tmp_path / "manifest.json").write_text(json.dumps({"examples": entries}))
    (tmp_path / "train.jsonl").write_text("".join(f'{{"line": {i}}}\n' for i in range(30)))
    first = incremental_file(tmp_path, already_trained=set(range(25)), replay_ratio=1.0, seed=7)
    again = incremental_file(tmp_path, already_trained=set(range(25)), replay_ratio=1.0, seed=7)
    assert first.sha256 == again.sha256
    assert (first.new_examples, first.replayed, first.examples) == (5, 5, 10)
    lines = first.path.read_text().splitlines()
    assert [json.loads(line)["line"] for line in lines][-5:] == [25, 26, 27, 28, 29]
    assert first.tokens == sum(10 + json.loads(line)["line"] for line in lines)


def test_an_example_a_model_change_made_too_long_is_left_out_not_blocking(
    harness: Harness,
) -> None:
    """Stored when it fitted (no limit at the door then); now over the base model's 65,536
    tokens: the export leaves it out, the cycle's note says so, and the run goes on."""
    from curation.examples import NewExample, insert_example
    from curation.models import ExampleSource
    from scheduler.cycle.export_stage import export_step
    from tests.scheduler.helpers import SYSTEM

    seed(harness.db)
    with harness.db.session() as s:
        insert_example(
            s,
            NewExample(
                messages=[SYSTEM, {"role": "user", "content": "Log: " + "a " * 70_000}],
                target="Your disk quota is full.",
                source=ExampleSource.IMPORT,
                thread_key="long",
                split=Split.TRAIN,
            ),
            approved_by="U",
            eval_fraction=0,
        )
    runner = harness.runner()
    begun = runner.begin(force=True)
    assert begun.cycle_id is not None
    with harness.db.read_session() as s:
        cycle = s.get_one(RetrainCycle, begun.cycle_id)
    export_step(runner.ctx, cycle)
    with harness.db.read_session() as s:
        note = s.get_one(RetrainCycle, begun.cycle_id).note
    assert "1 example left out of the export (too_many_tokens: 1)" in note
    assert runner.advance(begun.cycle_id).outcome == CycleOutcome.PROMOTED


def test_a_job_that_fails_after_creation_leaves_its_examples_new_and_is_notified(
    harness: Harness, stand_in: LocalOpenAI
) -> None:
    """The export of a failed (or cancelled) job was never trained on: the next run counts
    its examples as new and starts on its own; the failure reached the notifier."""
    seed(harness.db)
    runner = harness.runner()
    before = runner.new_examples()
    stand_in.faults.fail_next_jobs(1)
    failed = runner.tick()
    assert failed.outcome == CycleOutcome.TRAINING_FAILED
    assert [(e.outcome, "internal_error" in e.note) for e in harness.events] == [
        ("training_failed", True)
    ]
    assert runner.new_examples() == before == 16
    again = harness.runner().tick()  # no --now: the threshold is met by the same examples
    assert again.started and again.outcome == CycleOutcome.PROMOTED, again.note
    assert harness.runner().new_examples() == 0


def test_too_few_examples_is_nothing_to_train_and_a_broken_export_says_so(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two different endings, told apart in `tuneloop status` and the cycle's record: the
    export refused the examples (nothing to train), or the export could not run at all."""
    from curation.errors import CurationError
    from scheduler.cycle import export_stage

    add_examples(harness.db, FAQ[:2])
    refused = harness.runner().tick(force=True)
    assert refused.outcome == CycleOutcome.NOTHING_TO_TRAIN and "nothing to train" in refused.note

    seed(harness.db)

    def broken(*_: object, **__: object) -> None:
        raise CurationError("No space left on device")

    monkeypatch.setattr(export_stage, "export_dataset", broken)
    failed = harness.runner().tick(force=True)
    assert failed.outcome == CycleOutcome.EXPORT_FAILED
    assert "export failed: No space left on device" in failed.note
    assert len(harness.jobs()) == 0
