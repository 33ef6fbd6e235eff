"""A process killed at any point resumes from the last record: one fine-tuning job per dataset
version, one record per stage, no example lost or counted twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from curation.models import DatasetItem, DatasetVersion
from scheduler.cycle import export_stage
from scheduler.cycle import runner as cycle_runner
from scheduler.evaluation import EvalOptions, Evaluator
from scheduler.records import (
    CycleOutcome,
    CycleStage,
    Decision,
    EvalItem,
    EvalRun,
    Promotion,
    PromotionAction,
    RetrainCycle,
    TrainingRun,
)
from scheduler.registry import Registry
from scheduler.training import OpenAITrainer
from tests.scheduler.conftest import Harness
from tests.scheduler.test_cycle import count, seed


class Crash(BaseException):
    """A stand-in for kill -9: nothing after it runs (not even `except Exception`)."""


def assert_one_clean_cycle(harness: Harness) -> None:
    db = harness.db
    assert len(harness.jobs()) == 1
    for model in (RetrainCycle, TrainingRun, EvalRun, Decision, DatasetVersion):
        assert count(db, model) == 1, model.__name__
    assert count(db, EvalItem) == 12
    with db.read_session() as s:
        actions = list(s.scalars(select(Promotion.action).order_by(Promotion.id)))
        items = s.scalar(select(func.count()).select_from(DatasetItem))
        cycle = s.scalars(select(RetrainCycle)).one()
    assert actions == [PromotionAction.BOOTSTRAP, PromotionAction.PROMOTE]
    assert cycle.outcome is CycleOutcome.PROMOTED and not cycle.is_open
    assert items == 16  # 12 training + 4 held-out examples, each exactly once
    assert harness.runner().new_examples() == 0


def crash_before_promoting(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a cycle on seeded data that dies after deciding, before promoting."""
    seed(harness.db)

    def killed(ctx, cycle):
        raise Crash("killed before promoting")

    monkeypatch.setitem(cycle_runner.STAGES, CycleStage.PROMOTE, killed)
    with pytest.raises(Crash):
        harness.runner().tick()
    monkeypatch.undo()


@pytest.mark.parametrize(
    "stage",
    [CycleStage.EXPORT, CycleStage.TRAIN, CycleStage.EVALUATE, CycleStage.DECIDE],
)
def test_a_crash_after_each_stage_resumes_with_exactly_one_job(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, stage: CycleStage
) -> None:
    seed(harness.db)
    original = cycle_runner.STAGES[stage]

    def then_crash(ctx, cycle):
        original(ctx, cycle)
        raise Crash(f"killed after {stage}")

    monkeypatch.setitem(cycle_runner.STAGES, stage, then_crash)
    with pytest.raises(Crash):
        harness.runner().tick()
    monkeypatch.setitem(cycle_runner.STAGES, stage, original)
    assert harness.runner().open_cycle() is not None
    report = harness.runner().tick()  # a new process: rebuilt from the database alone
    assert report.outcome == CycleOutcome.PROMOTED and not report.started
    assert_one_clean_cycle(harness)


def test_a_crash_between_the_decision_and_the_promotion(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_before_promoting(harness, monkeypatch)
    assert harness.runner().open_cycle().stage is CycleStage.PROMOTE
    assert harness.runner().poll().outcome == CycleOutcome.PROMOTED
    assert_one_clean_cycle(harness)


def test_a_crash_after_creating_the_job_but_before_recording_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(harness.db)
    original = OpenAITrainer.start

    def created_then_killed(self, request, on_uploaded):
        original(self, request, on_uploaded)
        raise Crash("killed before the job id was stored")

    monkeypatch.setattr(OpenAITrainer, "start", created_then_killed)
    with pytest.raises(Crash):
        harness.runner().tick()
    monkeypatch.undo()
    with harness.db.read_session() as s:
        assert s.scalars(select(TrainingRun)).one().job_id is None
    assert len(harness.jobs()) == 1
    assert harness.runner().tick().outcome == CycleOutcome.PROMOTED
    assert_one_clean_cycle(harness)


def test_a_crash_between_upload_and_job_creation_reuses_the_uploads(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(harness.db)

    def killed(self, request, files):
        raise Crash("killed before creating the job")

    monkeypatch.setattr(OpenAITrainer, "_create", killed)
    with pytest.raises(Crash):
        harness.runner().tick()
    monkeypatch.undo()
    assert harness.jobs() == []
    assert harness.runner().tick().outcome == CycleOutcome.PROMOTED
    files = list(harness.client().files.list(purpose="fine-tune"))
    assert len(files) == 2  # train and eval, uploaded once
    assert_one_clean_cycle(harness)


def test_a_crash_inside_the_export_stage_reuses_the_dataset_version(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(harness.db)

    def killed(ctx, version):
        raise Crash("killed after the export, before the training run was recorded")

    monkeypatch.setattr(export_stage, "_plan", killed)
    with pytest.raises(Crash):
        harness.runner().tick()
    monkeypatch.undo()
    assert count(harness.db, DatasetVersion) == 1 and count(harness.db, TrainingRun) == 0
    assert harness.runner().tick().outcome == CycleOutcome.PROMOTED
    assert_one_clean_cycle(harness)


def test_a_crash_halfway_through_the_evaluation(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(harness.db)
    original = Evaluator._store
    batches = []

    def store_then_die(self, eval_run_id, results, db):
        batches.append(1)
        if len(batches) == 2:
            raise Crash("killed while evaluating")
        original(self, eval_run_id, results, db)

    monkeypatch.setattr(Evaluator, "_store", store_then_die)
    harness.eval_options = EvalOptions(concurrency=2, commit_every=5)
    with pytest.raises(Crash):
        harness.runner().tick()
    monkeypatch.setattr(Evaluator, "_store", original)
    assert count(harness.db, EvalItem) == 5
    assert harness.runner().tick().outcome == CycleOutcome.PROMOTED
    assert_one_clean_cycle(harness)


def test_a_promotion_after_a_manual_change_is_refused_as_stale(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_before_promoting(harness, monkeypatch)
    # Meanwhile a reviewer serves another model: the evaluation no longer compares with it.
    Registry(harness.db).promote("gpt-4o-2024-08-06", actor="UREVIEW1", reason="by hand")
    report = harness.runner().poll()
    assert report.outcome == CycleOutcome.STALE and "evaluate again" in report.note
    assert Registry(harness.db).active().model == "gpt-4o-2024-08-06"
