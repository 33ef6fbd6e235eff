"""The retraining cycle with the Together backend, on SQLite and PostgreSQL: it trains, serves,
evaluates and decides; a process killed between upload and job creation, or between creation
and recording the job, resumes with exactly one job; Together's estimate feeds the budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from curation.db import Database
from curation.model_specs import DEFAULT_MODEL_SPECS, ModelSpec, ModelTable
from scheduler.cycle import CycleConfig, CycleRunner
from scheduler.evaluation import Asker, EvalOptions, Evaluator, SimilarityGrader
from scheduler.gate import GatePolicy
from scheduler.records import CycleOutcome, CycleStage, RetrainCycle, TrainingRun, TrainingStatus
from scheduler.registry import Registry
from scheduler.training.together import TogetherClient, TogetherTrainer, TogetherTrainerConfig
from tests.scheduler.test_cycle import count, seed
from tests.together.conftest import BASE
from tuneloop.local_openai import ManualClock, instant_clock
from tuneloop.local_together import LocalTogether


class Crash(BaseException):
    """kill -9: nothing after it runs (not even `except Exception`)."""


@dataclass
class TogetherHarness:
    """A cycle runner on a test database and the Together stand-in, rebuilt at will."""

    db: Database
    stand_in: LocalTogether
    export_dir: Path
    config_overrides: dict[str, Any] = field(default_factory=dict)
    specs: dict[str, ModelSpec] = field(default_factory=lambda: dict(DEFAULT_MODEL_SPECS))

    def client(self) -> TogetherClient:
        return self.stand_in.client()

    def runner(self, trainer: TogetherTrainer | None = None) -> CycleRunner:
        chat = self.stand_in.chat_client(max_retries=0)
        config = CycleConfig(
            base_model=BASE,
            export_dir=self.export_dir,
            gate=GatePolicy(min_items=10),
            **{"min_new_examples": 10, **self.config_overrides},
        )
        return CycleRunner(
            self.db,
            client=chat,
            trainer=trainer or self.trainer(),
            evaluator=Evaluator(
                self.db,
                Asker(chat, sleep=lambda _s: None),
                SimilarityGrader(),
                EvalOptions(concurrency=4),
            ),
            registry=Registry(self.db),
            models=ModelTable(self.specs),
            config=config,
        )

    def trainer(self, client: TogetherClient | None = None) -> TogetherTrainer:
        return TogetherTrainer(client or self.client(), TogetherTrainerConfig(base_model=BASE))

    def run(self) -> TrainingRun:
        with self.db.read_session() as s:
            return s.scalars(select(TrainingRun)).one()

    def cycle(self) -> RetrainCycle:
        with self.db.read_session() as s:
            return s.scalars(select(RetrainCycle)).one()


@pytest.fixture
def harness(db: Database, tmp_path: Path) -> TogetherHarness:
    stand_in = LocalTogether(tmp_path / "local-together", clock=instant_clock())
    return TogetherHarness(db, stand_in, tmp_path / "datasets")


def test_a_cycle_trains_serves_evaluates_and_promotes(harness: TogetherHarness) -> None:
    seed(harness.db)
    report = harness.runner().tick()
    while not report.decided:
        report = harness.runner().tick()
    assert report.outcome == "promoted", report.note
    run = harness.run()
    [job] = harness.client().list_fine_tunes()
    assert (run.trainer, run.job_id, run.status) == ("together", job["id"], TrainingStatus.READY)
    assert run.fine_tuned_model == job["model_output_name"]
    assert Registry(harness.db).active().model == job["model_output_name"]
    assert run.train_file_id == job["training_file"]
    # Together's own estimate replaced the table's: the stand-in prices by its size bracket.
    assert run.estimated_cost_usd == pytest.approx(
        harness.client().estimate_price(
            {"training_file": job["training_file"], "model": BASE, "n_epochs": 3}
        )["estimated_total_price"]
    )


def test_a_crash_between_upload_and_job_creation_resumes_with_one_job(
    harness: TogetherHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(harness.db)
    client = harness.client()

    def killed(body: object) -> dict:
        raise Crash("killed between upload and job creation")

    monkeypatch.setattr(client, "create_fine_tune", killed)
    with pytest.raises(Crash):
        harness.runner(harness.trainer(client)).tick()
    assert harness.run().job_id is None and harness.run().train_file_id is not None
    assert harness.client().list_fine_tunes() == []
    report = harness.runner().tick()
    while not report.decided:
        report = harness.runner().tick()
    assert len(harness.client().list_fine_tunes()) == 1
    assert len(harness.client().list_files()) == 1  # the upload was reused, not repeated
    assert report.outcome == "promoted"


def test_a_crash_between_job_creation_and_recording_resumes_with_one_job(
    harness: TogetherHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(harness.db)
    trainer = harness.trainer()
    original = trainer.start

    def created_then_killed(request: Any, on_uploaded: Any) -> Any:
        original(request, lambda kind, file_id: None)  # nothing recorded, as after kill -9
        raise Crash("killed before the job id was recorded")

    monkeypatch.setattr(trainer, "start", created_then_killed)
    with pytest.raises(Crash):
        harness.runner(trainer).tick()
    assert harness.run().job_id is None and harness.run().train_file_id is None
    assert len(harness.client().list_fine_tunes()) == 1
    report = harness.runner().tick()
    while not report.decided:
        report = harness.runner().tick()
    [job] = harness.client().list_fine_tunes()
    assert harness.run().job_id == job["id"]
    assert len(harness.client().list_files()) == 1
    assert report.outcome == "promoted"


def test_togethers_estimate_over_what_the_month_leaves_closes_the_cycle_over_budget(
    harness: TogetherHarness,
) -> None:
    # The table knows no price (its estimate is $0, within budget) and the month is nearly
    # spent: Together's own estimate is checked against what is left, before any job exists.
    harness.specs[BASE] = ModelSpec(max_example_tokens=8_192, training_price_per_million=0.0)
    harness.config_overrides = {"budget_per_month_usd": 0.000001}
    seed(harness.db)
    report = harness.runner().tick()
    assert report.outcome == CycleOutcome.OVER_BUDGET.value, report.note
    run = harness.run()
    assert (run.status, run.error_code, run.job_id) == (TrainingStatus.FAILED, "over_budget", None)
    assert "Together estimates $" in harness.cycle().note
    assert harness.client().list_fine_tunes() == []


def test_a_job_that_fails_at_together_closes_the_cycle_with_its_words(
    harness: TogetherHarness,
) -> None:
    harness.stand_in.faults.fail_next_jobs(1)
    seed(harness.db)
    report = harness.runner().tick()
    while not report.decided and report.outcome is None:
        report = harness.runner().tick()
    assert report.outcome == CycleOutcome.TRAINING_FAILED.value
    assert "job_error" in report.note and "stopped unexpectedly" in report.note
    assert count(harness.db, TrainingRun) == 1


def test_the_stage_waits_while_together_is_down(harness: TogetherHarness) -> None:
    seed(harness.db)
    harness.stand_in.faults.fail_requests(1, status=503)
    report = harness.runner().tick()
    assert report.outcome is None and "Together unavailable" in report.note
    assert harness.cycle().stage is CycleStage.TRAIN
    report = harness.runner().tick()
    while not report.decided:
        report = harness.runner().tick()
    assert report.outcome == "promoted"


def test_a_new_output_model_is_waited_for_until_together_serves_it(
    db: Database, tmp_path: Path
) -> None:
    clock = ManualClock(stage_seconds=0)
    stand_in = LocalTogether(tmp_path / "slow-load", clock=clock, load_delay_s=120)
    harness = TogetherHarness(db, stand_in, tmp_path / "datasets")
    seed(db)
    report = harness.runner().tick()
    assert report.outcome is None and report.stage == CycleStage.TRAIN.value
    assert "is not served yet" in report.note
    assert harness.run().status is TrainingStatus.LOADING
    clock.advance(121)
    report = harness.runner().tick()
    while not report.decided:
        report = harness.runner().tick()
    assert report.outcome == "promoted"
