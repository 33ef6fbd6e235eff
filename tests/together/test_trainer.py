"""The Together trainer against the stand-in: the calls it makes, statuses moving with the
clock, asynchronous failures in Together's words, cancelling, budget and idempotency."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.training.errors import TrainingRateLimited, TrainingTransientError
from scheduler.training.lora import AdapterStore
from scheduler.training.protocol import JobStatus
from scheduler.training.together import TogetherClient
from tests.together.conftest import (
    BASE,
    STAGE,
    MakeTrainer,
    Recorder,
    Uploads,
    chat_line,
    request_for,
    write_training_file,
)
from tuneloop.local_openai import ManualClock
from tuneloop.local_together import LocalTogether


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    return write_training_file(tmp_path / "train.jsonl")


def test_start_finds_nothing_then_uploads_estimates_and_creates(
    make_trainer: MakeTrainer, recorder: Recorder, train_file: Path, client: TogetherClient
) -> None:
    uploads = Uploads()
    report = make_trainer().start(request_for(train_file, 7, n_epochs=2, seed=5), uploads)
    # No file of this dataset version yet, so no job can exist on one: no job listing.
    assert recorder.sequence() == [
        "GET /v1/files",
        "POST /v1/files",
        "PUT /upload/{id}",
        "POST /v1/files/{id}/preprocess",
        "POST /v1/fine-tunes/estimate-price",
        "POST /v1/fine-tunes",
    ]
    assert report.status is JobStatus.QUEUED and report.job_id
    assert uploads.seen == [("train", report.files["train"])]
    assert report.estimated_cost_usd and report.estimated_cost_usd > 0
    job = client.retrieve_fine_tune(report.job_id)
    assert job["suffix"] == "tuneloop-dv7"
    assert (job["n_epochs"], job["random_seed"], job["model"]) == (2, 5, BASE)
    assert job["training_type"] == {
        "type": "Lora",
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_trainable_modules": "all-linear",
    }
    assert job["training_method"] == {"method": "sft", "train_on_inputs": "auto"}
    [uploaded] = client.list_files()
    assert (
        uploaded["filename"]
        == f"tuneloop-dv7-{request_for(train_file).train_sha256[:12]}-train.jsonl"
    )


def test_statuses_move_with_the_clock_to_the_output_model(
    make_trainer: MakeTrainer, clock: ManualClock, train_file: Path, stand_in: LocalTogether
) -> None:
    trainer = make_trainer()
    job_id = trainer.start(request_for(train_file), Uploads()).job_id
    assert job_id is not None
    seen = []
    for _ in range(6):
        report = trainer.poll(job_id)
        seen.append((report.status, report.progress))
        clock.advance(STAGE)
    assert [status for status, _ in seen] == [
        JobStatus.QUEUED,  # pending
        JobStatus.QUEUED,  # queued
        JobStatus.RUNNING,  # running
        JobStatus.RUNNING,  # compressing
        JobStatus.RUNNING,  # uploading
        JobStatus.SUCCEEDED,
    ]
    assert [p for _, p in seen[:5]] == [
        "pending",
        "queued",
        "epoch 1 of 3, step 0 of 3, about 1 min left",
        "training done, compressing the model",
        "training done, uploading the model",
    ]
    done = trainer.poll(job_id)
    assert done.fine_tuned_model and done.fine_tuned_model.endswith(
        done.fine_tuned_model.rpartition("-")[2]
    )
    assert "-tuneloop-dv7-" in done.fine_tuned_model
    assert done.trained_tokens and done.trained_tokens > 0
    answer = stand_in.chat_client(max_retries=0).chat.completions.create(
        model=done.fine_tuned_model, messages=[{"role": "user", "content": "reset the VPN?"}]
    )
    assert answer.choices[0].message.content == "Reset the VPN from the VPN portal."


def test_bad_data_fails_the_job_asynchronously_with_togethers_event(
    make_trainer: MakeTrainer, clock: ManualClock, tmp_path: Path
) -> None:
    bad = write_training_file(tmp_path / "bad.jsonl", [chat_line("q", "a"), '{"text": "x"}'])
    trainer = make_trainer()
    report = trainer.start(request_for(bad), Uploads())
    # Together validates the data inside the job: creating it worked, but the estimate did not
    # (it is only given for data that passes validation), so the table's estimate stands.
    assert report.status is JobStatus.QUEUED and report.estimated_cost_usd is None
    clock.advance(STAGE)
    failed = trainer.poll(report.job_id or "")
    assert failed.status is JobStatus.FAILED
    assert failed.error_code == "job_error"
    assert failed.error_message and failed.error_message.startswith("Data validation failed")
    assert "Example 2" in failed.error_message


def test_a_job_that_fails_while_running_reports_the_error_event(
    make_trainer: MakeTrainer, clock: ManualClock, train_file: Path, stand_in: LocalTogether
) -> None:
    stand_in.faults.fail_next_jobs(1)
    trainer = make_trainer()
    job_id = trainer.start(request_for(train_file), Uploads()).job_id or ""
    clock.advance(2 * STAGE + STAGE / 2)
    report = trainer.poll(job_id)
    assert report.status is JobStatus.FAILED and report.error_code == "job_error"
    assert report.error_message and "stopped unexpectedly" in report.error_message


def test_cancel_and_cancel_after_the_end(
    make_trainer: MakeTrainer, clock: ManualClock, train_file: Path, tmp_path: Path
) -> None:
    trainer = make_trainer()
    job_id = trainer.start(request_for(train_file), Uploads()).job_id or ""
    assert trainer.cancel(job_id).status is JobStatus.CANCELLED  # cancel_requested
    clock.advance(STAGE)
    assert trainer.poll(job_id).status is JobStatus.CANCELLED  # cancelled
    other = write_training_file(tmp_path / "other.jsonl", [chat_line("a?", "b")])
    done_id = trainer.start(request_for(other, 8), Uploads()).job_id or ""
    clock.advance(10 * STAGE)
    assert trainer.cancel(done_id).status is JobStatus.SUCCEEDED  # finished as it finished


def test_a_refused_request_is_failed_with_togethers_message(
    make_trainer: MakeTrainer, recorder: Recorder, train_file: Path
) -> None:
    report = make_trainer(lora_r=512).start(request_for(train_file), Uploads())
    assert report.status is JobStatus.FAILED and report.job_id is None
    assert report.error_code == "invalid_request_error"
    assert report.error_message == (
        f"Together refused the job (HTTP 400): lora_r must be an integer in [1, 64] for {BASE}"
    )
    unknown = make_trainer().start(request_for(train_file, model="acme/unknown-7b"), Uploads())
    assert unknown.status is JobStatus.FAILED
    assert "acme/unknown-7b is not supported for fine-tuning" in (unknown.error_message or "")


def test_an_estimate_over_the_budget_creates_no_job(
    make_trainer: MakeTrainer, recorder: Recorder, train_file: Path, client: TogetherClient
) -> None:
    report = make_trainer().start(request_for(train_file, cost_limit_usd=0.0), Uploads())
    assert report.status is JobStatus.FAILED and report.error_code == "over_budget"
    assert report.estimated_cost_usd and report.estimated_cost_usd > 0
    assert "no job was created" in (report.error_message or "")
    assert client.list_fine_tunes() == []


def test_an_estimate_over_the_accounts_credit_creates_no_job(
    tmp_path: Path, clock: ManualClock, train_file: Path
) -> None:
    poor = LocalTogether(tmp_path / "poor", clock=clock, credit_limit_usd=0.0)
    from scheduler.training.together import TogetherTrainer, TogetherTrainerConfig

    trainer = TogetherTrainer(poor.client(), TogetherTrainerConfig(base_model=BASE))
    report = trainer.start(request_for(train_file), Uploads())
    assert report.status is JobStatus.FAILED and report.error_code == "insufficient_credit"
    assert poor.client().list_fine_tunes() == []


def test_start_is_idempotent_per_dataset_version(
    make_trainer: MakeTrainer, recorder: Recorder, train_file: Path, client: TogetherClient
) -> None:
    trainer = make_trainer()
    first = trainer.start(request_for(train_file), Uploads())
    recorder.clear()
    again = trainer.start(request_for(train_file), Uploads())
    assert again.job_id == first.job_id
    assert recorder.sequence() == ["GET /v1/files", "GET /v1/fine-tunes"]
    assert len(client.list_fine_tunes()) == len(client.list_files()) == 1


class Crash(BaseException):
    """kill -9: nothing after it runs."""


def test_a_crash_between_upload_and_creation_reuses_the_upload(
    make_trainer: MakeTrainer,
    recorder: Recorder,
    train_file: Path,
    client: TogetherClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def killed(body: object) -> dict:
        raise Crash("killed before creating the job")

    monkeypatch.setattr(client, "create_fine_tune", killed)
    uploads = Uploads()
    with pytest.raises(Crash):
        make_trainer().start(request_for(train_file), uploads)
    monkeypatch.undo()
    recorder.clear()
    # The restart lost what on_uploaded recorded, too: the file is found by its name.
    report = make_trainer().start(request_for(train_file), Uploads())
    assert report.status is JobStatus.QUEUED
    assert "PUT /upload/{id}" not in recorder.sequence()
    assert len(client.list_files()) == 1 and len(client.list_fine_tunes()) == 1
    assert report.files["train"] == uploads.seen[0][1]


def test_an_upload_cut_short_is_uploaded_again(
    make_trainer: MakeTrainer, train_file: Path, client: TogetherClient, stand_in: LocalTogether
) -> None:
    request = request_for(train_file)
    name = f"tuneloop-dv7-{request.train_sha256[:12]}-train.jsonl"
    stand_in.client()._send(  # step 1 only, as a process killed mid-upload leaves it
        "POST", "/files", json={"purpose": "fine-tune", "file_name": name}, follow_redirects=False
    )
    report = make_trainer().start(request, Uploads())
    files = {f["id"]: f for f in client.list_files()}
    assert files[report.files["train"]]["Processed"] is True
    assert len(files) == 2 and len(client.list_fine_tunes()) == 1


def test_incremental_training_continues_the_promoted_output_model(
    make_trainer: MakeTrainer,
    clock: ManualClock,
    train_file: Path,
    tmp_path: Path,
    client: TogetherClient,
    stand_in: LocalTogether,
) -> None:
    trainer = make_trainer()
    first = trainer.start(request_for(train_file, 1), Uploads())
    clock.advance(10 * STAGE)
    model = trainer.poll(first.job_id or "").fine_tuned_model or ""
    assert trainer.can_continue(model) and not trainer.can_continue(BASE)
    assert not trainer.can_continue("someone-else/model")
    more = write_training_file(
        tmp_path / "more.jsonl", [chat_line("Where is the canteen?", "On floor 2.")]
    )
    second = trainer.start(
        request_for(more, 2, model=model, learning_rate_multiplier=0.5), Uploads()
    )
    job = client.retrieve_fine_tune(second.job_id or "")
    assert job["from_checkpoint"] == first.job_id and job["model"] == BASE
    assert job["learning_rate"] == pytest.approx(0.5e-4)
    clock.advance(10 * STAGE)
    continued = trainer.poll(second.job_id or "").fine_tuned_model or ""
    chat = stand_in.chat_client(max_retries=0)
    for question, expected in (("reset the VPN?", "VPN portal"), ("canteen?", "floor 2")):
        answer = chat.chat.completions.create(
            model=continued, messages=[{"role": "user", "content": question}]
        )
        assert expected in (answer.choices[0].message.content or "")


def test_dpo_and_full_training_are_sent_as_together_names_them(
    make_trainer: MakeTrainer, tmp_path: Path, client: TogetherClient
) -> None:
    import json

    line = json.dumps(
        {
            "input": {"messages": [{"role": "user", "content": "VPN?"}]},
            "preferred_output": [{"role": "assistant", "content": "Use GlobalConnect."}],
            "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
        }
    )
    path = write_training_file(tmp_path / "dpo.jsonl", [line])
    trainer = make_trainer(training_type="full", dpo_beta=0.2, batch_size=8, learning_rate=1e-5)
    report = trainer.start(request_for(path, method="dpo"), Uploads())
    job = client.retrieve_fine_tune(report.job_id or "")
    assert job["training_method"] == {"method": "dpo", "dpo_beta": 0.2}
    assert job["training_type"] == {"type": "Full"}
    assert job["batch_size"] == 8


def test_a_long_suffix_keeps_the_dataset_version(
    make_trainer: MakeTrainer, train_file: Path, client: TogetherClient
) -> None:
    report = make_trainer().start(request_for(train_file, 123, suffix="x" * 40), Uploads())
    suffix = client.retrieve_fine_tune(report.job_id or "")["suffix"]
    assert len(suffix) == 40 and suffix.endswith("-dv123")


def test_rate_limits_and_outages_reach_the_cycle_as_its_own_errors(
    make_trainer: MakeTrainer, train_file: Path, stand_in: LocalTogether
) -> None:
    trainer = make_trainer()
    stand_in.faults.rate_limit(1, retry_after_s=30)
    with pytest.raises(TrainingRateLimited) as limited:
        trainer.start(request_for(train_file), Uploads())
    assert limited.value.retry_at is not None
    stand_in.faults.fail_requests(1, status=502)
    with pytest.raises(TrainingTransientError, match="Together unavailable"):
        trainer.poll("ft-anything")


def test_vllm_serving_downloads_the_adapter_into_the_store(
    make_trainer: MakeTrainer,
    clock: ManualClock,
    train_file: Path,
    tmp_path: Path,
    recorder: Recorder,
) -> None:
    store = AdapterStore(tmp_path / "adapters")
    trainer = make_trainer(serving="vllm", adapters=store)
    job_id = trainer.start(request_for(train_file, 9), Uploads()).job_id or ""
    clock.advance(10 * STAGE)
    done = trainer.poll(job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.fine_tuned_model == "tuneloop-together-dv9"
    adapter = store.get("tuneloop-together-dv9")
    assert adapter is not None and adapter.job_id == job_id and adapter.base_model == BASE
    assert done.artifact_sha256 == adapter.sha256
    assert (adapter.path / "adapter_model.safetensors").is_file()
    recorder.clear()
    assert trainer.poll(job_id).fine_tuned_model == adapter.name  # downloaded once
    assert "GET /v1/finetune/download" not in recorder.sequence()
    assert trainer.can_continue(adapter.name)
    second = trainer.start(
        request_for(
            write_training_file(tmp_path / "b.jsonl", [chat_line("x?", "y")]),
            10,
            model=adapter.name,
        ),
        Uploads(),
    )
    assert second.status is JobStatus.QUEUED


def test_vllm_serving_needs_an_adapter_store(client: TogetherClient) -> None:
    from scheduler.training.together import TogetherTrainer, TogetherTrainerConfig

    with pytest.raises(ValueError, match="adapter store"):
        TogetherTrainer(client, TogetherTrainerConfig(base_model=BASE, serving="vllm"))
