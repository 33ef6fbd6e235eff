"""What a training backend must do: start a job for a dataset, report on it, cancel it.

The cycle never talks to a provider directly, so another fine-tuning service only needs these
three methods. `start` must be idempotent per dataset version: called again after a crash, it
finds the job it created before instead of creating a second one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

TrainingMethod = Literal["supervised", "dpo"]


class JobStatus(enum.StrEnum):
    PREPARING = "preparing"  # files uploaded but not processed yet: call `start` again later
    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class TrainingRequest:
    """One fine-tuning job's worth of input, tied to the dataset version it trains on."""

    dataset_version_id: int
    train_path: Path
    eval_path: Path | None
    #: The file's sha256: with the dataset version id it identifies the job across restarts.
    train_sha256: str
    model: str
    method: TrainingMethod = "supervised"
    suffix: str = "tuneloop"
    seed: int | None = None
    n_epochs: int | None = None
    learning_rate_multiplier: float | None = None
    #: Files uploaded by an earlier, interrupted attempt ("train"/"eval" -> file id).
    uploaded: Mapping[str, str] = field(default_factory=dict)
    #: What the budget leaves for this job, in USD (None: no limit). A backend that gets a
    #: price estimate from its provider refuses a job over it (FAILED, `over_budget`).
    cost_limit_usd: float | None = None


@dataclass(frozen=True)
class JobReport:
    status: JobStatus
    job_id: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    #: sha256 of the trained artifact where the backend produces one (a LoRA adapter).
    artifact_sha256: str | None = None
    #: How far a running job has got, in words ("step 12 of 54, loss 1.834"), when known.
    progress: str | None = None
    #: The provider's own price estimate for the job in USD, when it gives one.
    estimated_cost_usd: float | None = None


#: Called with ("train" | "eval", file id) as soon as a file is uploaded, so it is recorded.
OnUploaded = Callable[[str, str], None]


class Trainer(Protocol):
    name: str

    def start(self, request: TrainingRequest, on_uploaded: OnUploaded) -> JobReport: ...

    def can_continue(self, model: str) -> bool:
        """Whether `model` is one of this backend's fine-tunes that a job can continue training
        (the incremental strategy), rather than a base model."""
        ...

    def poll(self, job_id: str) -> JobReport: ...

    def cancel(self, job_id: str) -> JobReport: ...
