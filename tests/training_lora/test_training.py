"""Real training on the tiny model: SFT through the detached worker, a worker killed with
SIGKILL mid-training, DPO, and incremental training from an adapter."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the lora extra is not installed")

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from scheduler.training import JobReport, JobStatus, TrainingRequest
from scheduler.training.lora import AdapterStore, LoraTrainer
from scheduler.training.lora.training import HOLD_AT_STEP
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


def events(folder: Path) -> list[str]:
    lines = (folder / "events.jsonl").read_text().splitlines()
    return [json.loads(line)["message"] for line in lines]


def metrics(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def train_in_process(trainer: LoraTrainer, request: TrainingRequest, jobs: Path) -> JobReport:
    """Create the job (launcher "external": nothing is spawned) and run its worker here."""
    report = trainer.start(request, ignore_upload)
    assert report.status is JobStatus.QUEUED, report
    assert report.job_id is not None
    assert run_worker(jobs / report.job_id) == 0
    return trainer.poll(report.job_id)


def test_sft_through_the_detached_worker(
    make_trainer: MakeTrainer,
    tmp_path: Path,
    store: AdapterStore,
    tiny_model: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    export = tmp_path / "export"
    train = write_lines(export / "train.jsonl", seed_lines(16))
    evaluation = write_lines(export / "eval.jsonl", seed_lines(20)[16:])
    request = request_for(train, dataset_version_id=5, eval_path=evaluation)
    monkeypatch.chdir(tmp_path)
    # A relative jobs folder, as `tuneloop init`'s TUNELOOP_DATA_DIR=data gives: the worker,
    # which runs inside its job folder, must still find it.
    trainer = make_trainer(jobs_dir=Path("jobs"))
    uploads: list[tuple[str, str]] = []

    started = trainer.start(request, lambda kind, file_id: uploads.append((kind, file_id)))

    job_id = f"lora-dv5-{request.train_sha256[:12]}"
    assert started.job_id == job_id
    assert started.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    assert uploads == [("train", f"{job_id}/train.jsonl"), ("eval", f"{job_id}/eval.jsonl")]
    folder = tmp_path / "jobs" / job_id
    first_worker = (folder / "worker.json").read_text()
    # Idempotent: a second start (a restarted scheduler) finds the job, starts no worker.
    again = trainer.start(request, ignore_upload)
    assert again.job_id == job_id
    assert (folder / "worker.json").read_text() == first_worker

    done = poll_until_finished(trainer, job_id, tmp_path / "jobs")

    assert done.status is JobStatus.SUCCEEDED, done
    assert done.fine_tuned_model == "tuneloop-lora-dv5"
    adapter = store.get("tuneloop-lora-dv5")
    assert adapter is not None
    assert (adapter.sha256, adapter.job_id, adapter.base_model) == (
        done.artifact_sha256,
        job_id,
        "tiny-llama",
    )
    steps = metrics(folder)
    assert [m["step"] for m in steps if m["loss"] is not None] == [1, 2, 3, 4]
    assert any(m["eval_loss"] is not None for m in steps if m["step"] == 4)
    assert done.trained_tokens == steps[-1]["tokens"]
    assert done.trained_tokens and done.trained_tokens > 0
    assert not (folder / "checkpoints").exists()
    assert "adapter tuneloop-lora-dv5 published" in events(folder)[-1]
    assert trainer.start(request, ignore_upload) == done
    assert trainer.cancel(job_id).status is JobStatus.SUCCEEDED
    # The published adapter loads onto its base, as the serving side will load it.
    config = json.loads((adapter.path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny-llama"
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    model = PeftModel.from_pretrained(base, adapter.path)
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(bool(p.abs().sum() > 0) for p in lora_b)  # trained: B starts at 0


def test_a_worker_killed_mid_training_resumes_from_its_checkpoint(
    make_trainer: MakeTrainer, tmp_path: Path, store: AdapterStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = request_for(write_lines(tmp_path / "export" / "train.jsonl", seed_lines(16)))
    monkeypatch.setenv(HOLD_AT_STEP, "2")  # the worker waits after checkpoint-2 ...
    report = make_trainer().start(request, ignore_upload)
    assert report.job_id is not None
    folder = tmp_path / "jobs" / report.job_id
    wait_until(
        lambda: (
            (folder / "events.jsonl").exists()
            and any("holding after checkpoint-2" in e for e in events(folder))
        ),
        "checkpoint-2",
        folder,
    )
    monkeypatch.delenv(HOLD_AT_STEP)
    worker = json.loads((folder / "worker.json").read_text())
    os.killpg(worker["pgid"], signal.SIGKILL)  # ... and is killed there.

    # A new trainer, as after a scheduler restart: the worker is not its child.
    restarted = make_trainer()
    done = poll_until_finished(restarted, report.job_id, tmp_path / "jobs")

    assert done.status is JobStatus.SUCCEEDED, done
    messages = events(folder)
    assert any(
        "the worker process is gone" in m
        and "restarting it from checkpoint-2 (attempt 2 of 3)" in m
        for m in messages
    )
    assert "resuming from checkpoint-2" in messages
    assert [m["step"] for m in metrics(folder)] == [1, 2, 3, 4]
    assert [a.name for a in store.list()] == ["tuneloop-lora-dv1"]
    assert store.list()[0].sha256 == done.artifact_sha256
    # Exactly one adapter per dataset version: another file for version 1 is refused.
    other = request_for(write_lines(tmp_path / "export2" / "train.jsonl", seed_lines(15)))
    refused = restarted.start(other, ignore_upload)
    assert (refused.status, refused.error_code) == (JobStatus.FAILED, "adapter_exists")
    assert len(store.list()) == 1


def test_dpo_on_openai_preference_lines(
    make_trainer: MakeTrainer, tmp_path: Path, store: AdapterStore
) -> None:
    request = request_for(
        write_lines(tmp_path / "export" / "train.jsonl", dpo_lines(12)), method="dpo"
    )
    trainer = make_trainer(launcher="external", max_steps=3)

    done = train_in_process(trainer, request, tmp_path / "jobs")

    assert done.status is JobStatus.SUCCEEDED, done
    assert done.fine_tuned_model in store
    assert done.job_id is not None
    steps = metrics(tmp_path / "jobs" / done.job_id)
    assert [m["step"] for m in steps] == [1, 2, 3]
    assert all("rewards/margins" in m for m in steps)
    spec = json.loads((tmp_path / "jobs" / done.job_id / "spec.json").read_text())
    assert (spec["method"], spec["learning_rate"]) == ("dpo", 5e-6)


def test_incremental_training_continues_the_adapter(
    make_trainer: MakeTrainer, tmp_path: Path, store: AdapterStore
) -> None:
    trainer = make_trainer(launcher="external", max_steps=2)
    jobs = tmp_path / "jobs"

    def train_version(version: int, model: str, multiplier: float | None = None) -> JobReport:
        train = write_lines(tmp_path / f"v{version}" / "train.jsonl", seed_lines(11 + version))
        request = request_for(
            train, dataset_version_id=version, model=model, learning_rate_multiplier=multiplier
        )
        report = train_in_process(trainer, request, jobs)
        assert report.status is JobStatus.SUCCEEDED, report
        assert report.fine_tuned_model == f"tuneloop-lora-dv{version}"
        return report

    train_version(1, "tiny-llama")
    start_weights = _weights(store, "tuneloop-lora-dv1")

    # With a learning rate of 0 the continued adapter is the one it started from: it was
    # loaded, not initialised afresh (a fresh LoRA has B = 0).
    train_version(2, "tuneloop-lora-dv1", multiplier=0.0)
    continued = _weights(store, "tuneloop-lora-dv2")
    assert continued.keys() == start_weights.keys()
    assert all(torch.equal(continued[k], start_weights[k]) for k in start_weights)

    trained = train_version(3, "tuneloop-lora-dv1")
    moved = _weights(store, "tuneloop-lora-dv3")
    assert any(not torch.equal(moved[k], start_weights[k]) for k in start_weights)
    adapter = store.get("tuneloop-lora-dv3")
    assert adapter is not None and adapter.base_model == "tiny-llama"
    assert trained.job_id is not None
    spec = json.loads((jobs / trained.job_id / "spec.json").read_text())
    assert spec["init_adapter"] == "tuneloop-lora-dv1"


def _weights(store: AdapterStore, name: str) -> dict[str, torch.Tensor]:
    adapter = store.get(name)
    assert adapter is not None
    return load_file(adapter.path / "adapter_model.safetensors")


@pytest.mark.slow
def test_the_worker_runs_under_accelerate_launch(
    make_trainer: MakeTrainer, tmp_path: Path, store: AdapterStore
) -> None:
    trainer = make_trainer(
        launcher="accelerate",
        accelerate_args=(
            "--num_processes",
            "1",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--cpu",
        ),
        max_steps=2,
    )
    request = request_for(write_lines(tmp_path / "export" / "train.jsonl", seed_lines(8)))
    started = trainer.start(request, ignore_upload)
    assert started.job_id is not None
    worker = json.loads((tmp_path / "jobs" / started.job_id / "worker.json").read_text())
    assert worker["command"][1:3] == ["-m", "accelerate.commands.launch"]

    done = poll_until_finished(trainer, started.job_id, tmp_path / "jobs")

    assert done.status is JobStatus.SUCCEEDED, done
    assert [a.name for a in store.list()] == ["tuneloop-lora-dv1"]
