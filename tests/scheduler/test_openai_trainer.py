"""The OpenAI trainer against the stand-in, through the real SDK: one job per dataset version,
and OpenAI's refusals and failures turned into clear outcomes."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import openai
import pytest

from scheduler.training import (
    JobStatus,
    OpenAITrainer,
    TrainingRateLimited,
    TrainingRequest,
    TrainingTransientError,
    TrainingUnavailable,
)
from scheduler.training.model_info import model_answers, shutdown_date
from scheduler.training.openai_trainer import DATASET_KEY, SHA_KEY, metrics_progress
from tests.scheduler.conftest import BASE_MODEL, FAQ, sft_jsonl
from tuneloop.local_openai import LocalOpenAI, ManualClock


def _request(tmp_path: Path, pairs=FAQ, *, version: int = 7, **options) -> TrainingRequest:
    train = tmp_path / f"train-{version}.jsonl"
    train.write_bytes(sft_jsonl(pairs))
    evaluation = tmp_path / f"eval-{version}.jsonl"
    evaluation.write_bytes(sft_jsonl(FAQ[:2]))
    return TrainingRequest(
        dataset_version_id=version,
        train_path=train,
        eval_path=evaluation,
        train_sha256=hashlib.sha256(train.read_bytes()).hexdigest(),
        model=BASE_MODEL,
        **options,
    )


def _jobs(client: openai.OpenAI) -> list:
    return list(client.fine_tuning.jobs.list(limit=100))


def test_start_uploads_and_creates_the_job_with_its_options(
    tmp_path: Path, client: openai.OpenAI
) -> None:
    uploaded: list[tuple[str, str]] = []
    request = _request(tmp_path, suffix="helpdesk", seed=42, n_epochs=2)
    report = OpenAITrainer(client).start(request, lambda kind, fid: uploaded.append((kind, fid)))
    assert [kind for kind, _ in uploaded] == ["train", "eval"]
    job = client.fine_tuning.jobs.retrieve(report.job_id)
    assert job.metadata == {DATASET_KEY: "7", SHA_KEY: request.train_sha256}
    assert (job.seed, job.method.type) == (42, "supervised")
    assert job.method.supervised.hyperparameters.n_epochs == 2
    assert job.validation_file == uploaded[1][1]
    finished = OpenAITrainer(client).poll(report.job_id)
    assert finished.status is JobStatus.SUCCEEDED
    assert finished.fine_tuned_model.startswith(f"ft:{BASE_MODEL}:local:helpdesk:")
    assert finished.trained_tokens > 0


def test_a_restarted_start_finds_the_job_instead_of_creating_a_second(
    tmp_path: Path, client: openai.OpenAI
) -> None:
    request = _request(tmp_path)
    first = OpenAITrainer(client).start(request, lambda *_: None)
    # The process died before recording the job id; a new process starts again from scratch.
    again = OpenAITrainer(client).start(request, lambda *_: None)
    assert again.job_id == first.job_id
    assert len(_jobs(client)) == 1
    other_data = _request(tmp_path, FAQ[1:], version=8)
    assert OpenAITrainer(client).start(other_data, lambda *_: None).job_id != first.job_id
    assert len(_jobs(client)) == 2


def test_files_still_processing_are_waited_for_without_uploading_twice(tmp_path: Path) -> None:
    clock = ManualClock(stage_seconds=1.0)
    stand_in = LocalOpenAI(tmp_path / "slow", clock=clock)
    client = stand_in.client(max_retries=0)
    uploaded: dict[str, str] = {}
    request = _request(tmp_path)
    report = OpenAITrainer(client).start(request, uploaded.__setitem__)
    assert report.status is JobStatus.PREPARING and report.job_id is None
    clock.advance_stages(1)
    resumed = TrainingRequest(**{**request.__dict__, "uploaded": dict(uploaded)})
    report = OpenAITrainer(client).start(resumed, uploaded.__setitem__)
    assert report.status is JobStatus.VALIDATING_FILES
    assert len(list(client.files.list(purpose="fine-tune"))) == 2


def test_a_403_explains_the_fine_tuning_wind_down(
    tmp_path: Path, client: openai.OpenAI, stand_in: LocalOpenAI
) -> None:
    stand_in.faults.forbid_job_creation()
    with pytest.raises(TrainingUnavailable) as caught:
        OpenAITrainer(client).start(_request(tmp_path), lambda *_: None)
    assert "winding down" in str(caught.value) and "2027-01-06" in str(caught.value)
    assert "OPENAI_BASE_URL" in str(caught.value)
    assert _jobs(client) == []


def test_a_429_is_a_rate_limit_to_wait_out(
    tmp_path: Path, client: openai.OpenAI, stand_in: LocalOpenAI
) -> None:
    stand_in.faults.only_paths = ("/fine_tuning/jobs",)
    stand_in.faults.rate_limit(1, retry_after_s=3600)
    with pytest.raises(TrainingRateLimited) as caught:
        OpenAITrainer(client).start(_request(tmp_path), lambda *_: None)
    assert caught.value.retry_at is not None


def test_a_5xx_is_transient_and_the_retry_makes_one_job(
    tmp_path: Path, client: openai.OpenAI, stand_in: LocalOpenAI
) -> None:
    stand_in.faults.only_paths = ("/fine_tuning/jobs",)
    stand_in.faults.fail_requests(1, status=503)
    request = _request(tmp_path)
    uploaded: dict[str, str] = {}
    with pytest.raises(TrainingTransientError):
        OpenAITrainer(client).start(request, uploaded.__setitem__)
    resumed = TrainingRequest(**{**request.__dict__, "uploaded": dict(uploaded)})
    assert OpenAITrainer(client).start(resumed, uploaded.__setitem__).job_id
    assert len(_jobs(client)) == 1


def test_a_failed_job_reports_openais_code_and_message(
    tmp_path: Path, client: openai.OpenAI, stand_in: LocalOpenAI
) -> None:
    stand_in.faults.fail_next_jobs(1)
    report = OpenAITrainer(client).start(_request(tmp_path), lambda *_: None)
    finished = OpenAITrainer(client).poll(report.job_id)
    assert finished.status is JobStatus.FAILED
    assert finished.error_code == "internal_error" and "internal error" in finished.error_message


def test_too_few_examples_fail_asynchronously_as_openai_does(
    tmp_path: Path, client: openai.OpenAI
) -> None:
    report = OpenAITrainer(client).start(_request(tmp_path, FAQ[:5]), lambda *_: None)
    finished = OpenAITrainer(client).poll(report.job_id)
    assert (finished.status, finished.error_code) == (JobStatus.FAILED, "invalid_n_examples")


def test_cancel(tmp_path: Path) -> None:
    clock = ManualClock(stage_seconds=1.0)
    client = LocalOpenAI(tmp_path / "s", clock=clock).client(max_retries=0)
    request = _request(tmp_path)
    uploaded: dict[str, str] = {}
    OpenAITrainer(client).start(request, uploaded.__setitem__)
    clock.advance_stages(1)
    resumed = TrainingRequest(**{**request.__dict__, "uploaded": dict(uploaded)})
    report = OpenAITrainer(client).start(resumed, uploaded.__setitem__)
    assert OpenAITrainer(client).cancel(report.job_id).status is JobStatus.CANCELLED
    assert OpenAITrainer(client).cancel(report.job_id).status is JobStatus.CANCELLED


def test_a_new_model_is_not_found_until_it_has_loaded(tmp_path: Path) -> None:
    clock = ManualClock(stage_seconds=0.0)
    stand_in = LocalOpenAI(tmp_path / "s", clock=clock, load_delay_s=120)
    client = stand_in.client(max_retries=0)
    report = OpenAITrainer(client).start(_request(tmp_path), lambda *_: None)
    model = OpenAITrainer(client).poll(report.job_id).fine_tuned_model
    assert model_answers(client, model) is False
    clock.advance(121)
    assert model_answers(client, model) is True


def test_shutdown_dates_come_from_the_model_list(tmp_path: Path, client: openai.OpenAI) -> None:
    report = OpenAITrainer(client).start(_request(tmp_path), lambda *_: None)
    model = OpenAITrainer(client).poll(report.job_id).fine_tuned_model
    assert shutdown_date(client, BASE_MODEL) == date(2027, 1, 14)
    assert shutdown_date(client, model) == date(2027, 1, 14)  # inherited from the base
    assert shutdown_date(client, "gpt-4.1-nano-2025-04-14") is None
    assert shutdown_date(client, "ft:nope:x:y:z") is None


def _running_job(tmp_path: Path, clock: ManualClock, client: openai.OpenAI) -> str:
    """A job (12 examples, 3 epochs: 36 steps) half way through its running stage."""
    request = _request(tmp_path)
    uploaded: dict[str, str] = {}
    OpenAITrainer(client).start(request, uploaded.__setitem__)
    clock.advance_stages(1)  # the files are processed
    resumed = TrainingRequest(**{**request.__dict__, "uploaded": dict(uploaded)})
    job_id = OpenAITrainer(client).start(resumed, uploaded.__setitem__).job_id
    clock.advance_stages(2.5)  # validated, queued, then half the training
    return job_id


def test_a_running_job_reports_its_step_loss_and_time_left(tmp_path: Path) -> None:
    clock = ManualClock(stage_seconds=600.0)
    client = LocalOpenAI(tmp_path / "s", clock=clock).client(max_retries=0)
    job_id = _running_job(tmp_path, clock, client)
    trainer = OpenAITrainer(client, now=lambda: datetime.fromtimestamp(clock.now(), UTC))
    report = trainer.poll(job_id)
    assert report.status is JobStatus.RUNNING
    # The stand-in's newest metrics event is step 18 of 36; 300 of 600 seconds are left.
    loss = next(
        e.data["train_loss"]
        for e in client.fine_tuning.jobs.list_events(job_id).data
        if e.type == "metrics"
    )
    assert report.progress == f"step 18/36, loss {loss:.3f}, about 5 min left"
    clock.advance_stages(1)
    done = trainer.poll(job_id)
    assert (done.status, done.progress) == (JobStatus.SUCCEEDED, None)


def test_progress_that_cannot_be_read_does_not_fail_the_poll(tmp_path: Path) -> None:
    clock = ManualClock(stage_seconds=600.0)
    stand_in = LocalOpenAI(tmp_path / "s", clock=clock)
    client = stand_in.client(max_retries=0)
    job_id = _running_job(tmp_path, clock, client)
    stand_in.faults.only_paths = (f"/fine_tuning/jobs/{job_id}/events",)
    stand_in.faults.fail_requests(1, status=500)
    report = OpenAITrainer(client, now=lambda: datetime.fromtimestamp(clock.now(), UTC)).poll(
        job_id
    )
    assert (report.status, report.progress) == (JobStatus.RUNNING, "about 5 min left")


def test_metrics_in_words() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert metrics_progress(None, None, now) is None
    assert metrics_progress({"step": 3}, None, now) == "step 3"
    data = {"step": 3, "total_steps": 30, "train_loss": 1.23456}
    assert metrics_progress(data, None, now) == "step 3/30, loss 1.235"
    later = int(now.timestamp()) + 150
    assert metrics_progress(data, later, now) == "step 3/30, loss 1.235, about 2 min left"
    assert metrics_progress(data, int(now.timestamp()) - 5, now) == "step 3/30, loss 1.235"
