"""Fixtures for the LoRA trainer: a tiny random Llama, a trainer on temporary folders, and
requests for slices of the seeds."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.training import JobReport, TrainingRequest
from scheduler.training.lora import AdapterStore, LoraTrainer, LoraTrainerConfig
from scheduler.training.protocol import TrainingMethod
from tuneloop.base_models.tiny import TINY_MODEL_NAME, build_tiny_model

# Nothing in these tests may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
#: Generous: a worker imports torch, transformers and TRL (10+ s on a busy 2-core machine).
WORKER_TIMEOUT_S = 240.0


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch", reason="the lora extra is not installed")
    return build_tiny_model(tmp_path_factory.mktemp("models") / TINY_MODEL_NAME)


def small_config(tiny_model: Path, **changes: object) -> LoraTrainerConfig:
    """A few optimizer steps of a rank-4 adapter on the tiny model."""
    settings: dict[str, object] = {
        "base_models": {TINY_MODEL_NAME: tiny_model},
        "lora_r": 4,
        "lora_alpha": 8,
        "max_steps": 4,
        "save_steps": 2,
        "batch_size": 4,
        "max_seq_length": 256,
        "n_epochs": 1,
        **changes,
    }
    return LoraTrainerConfig(**settings)  # type: ignore[arg-type]


MakeTrainer = Callable[..., LoraTrainer]


@pytest.fixture
def store(tmp_path: Path) -> AdapterStore:
    return AdapterStore(tmp_path / "adapters", clock=lambda: NOW.isoformat())


@pytest.fixture
def make_trainer(tmp_path: Path, tiny_model: Path, store: AdapterStore) -> MakeTrainer:
    def make(jobs_dir: Path | None = None, **changes: object) -> LoraTrainer:
        return LoraTrainer(
            jobs_dir or tmp_path / "jobs",
            store,
            small_config(tiny_model, **changes),
            clock=lambda: NOW,
        )

    return make


def write_lines(path: Path, lines: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def seed_lines(count: int) -> list[dict[str, object]]:
    lines = (SEEDS / "train.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:count]]


def dpo_lines(count: int) -> list[dict[str, object]]:
    """OpenAI's DPO shape from the seeds: the seed reply preferred over a vague one."""
    lines = []
    for line in seed_lines(count):
        messages = line["messages"]
        assert isinstance(messages, list)
        lines.append(
            {
                "input": {"messages": messages[:-1]},
                "preferred_output": [messages[-1]],
                "non_preferred_output": [
                    {"role": "assistant", "content": "Not sure, ask someone else."}
                ],
            }
        )
    return lines


def request_for(
    train: Path,
    *,
    dataset_version_id: int = 1,
    model: str = TINY_MODEL_NAME,
    method: TrainingMethod = "supervised",
    eval_path: Path | None = None,
    learning_rate_multiplier: float | None = None,
) -> TrainingRequest:
    return TrainingRequest(
        dataset_version_id=dataset_version_id,
        train_path=train,
        eval_path=eval_path,
        train_sha256=hashlib.sha256(train.read_bytes()).hexdigest(),
        model=model,
        method=method,
        learning_rate_multiplier=learning_rate_multiplier,
    )


def ignore_upload(kind: str, file_id: str) -> None:
    pass


def wait_until(
    check: Callable[[], bool], what: str, folder: Path, timeout: float = WORKER_TIMEOUT_S
) -> None:
    """Poll `check` until true; on timeout fail with the end of the worker's log."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            log = folder / "worker.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
            pytest.fail(f"timed out waiting for {what}; worker.log ends:\n{tail}")
        time.sleep(0.2)


def poll_until_finished(trainer: LoraTrainer, job_id: str, jobs_dir: Path) -> JobReport:
    reports: list[JobReport] = []

    def finished() -> bool:
        reports.append(trainer.poll(job_id))
        return reports[-1].status.is_finished

    wait_until(finished, f"job {job_id} to finish", jobs_dir / job_id)
    return reports[-1]
