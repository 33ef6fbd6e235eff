"""Together's fine-tuning job, read in the protocol's terms: status, progress, failure.

Together's statuses (`FinetuneJobStatus` in its OpenAPI description, plus `user_error` that its
v1 SDK also knows) map onto the protocol's:

    pending, queued                     -> queued
    running, compressing, uploading     -> running (the model is not available before
                                           `completed`: compressing and uploading it are the
                                           last steps of the job)
    cancel_requested, cancelled         -> cancelled (a cancel request cannot be taken back)
    error, user_error                   -> failed
    completed                           -> succeeded

A status this code does not know yet is taken as still running. A failed job carries no error
field: Together says why in its events (`job_error`, or `job_user_error` for a problem with
the data), so the failure is the last error event's type and message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scheduler.training.protocol import JobStatus

STATUSES: dict[str, JobStatus] = {
    "pending": JobStatus.QUEUED,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "compressing": JobStatus.RUNNING,
    "uploading": JobStatus.RUNNING,
    "cancel_requested": JobStatus.CANCELLED,
    "cancelled": JobStatus.CANCELLED,
    "error": JobStatus.FAILED,
    "user_error": JobStatus.FAILED,
    "completed": JobStatus.SUCCEEDED,
}
#: Event types that say why a job failed.
ERROR_EVENTS = ("job_error", "job_user_error")


def job_status(job: Mapping[str, Any]) -> JobStatus:
    """The protocol's status for a Together job (unknown statuses: still running)."""
    return STATUSES.get(str(job.get("status") or "").lower(), JobStatus.RUNNING)


def progress(job: Mapping[str, Any]) -> str | None:
    """How far an unfinished job has got, in words, from what Together reports."""
    status = str(job.get("status") or "").lower()
    if status in ("pending", "queued"):
        depth = job.get("queue_depth")
        return f"{status}, position {depth} in the queue" if depth else status
    if status in ("compressing", "uploading"):
        return f"training done, {status} the model"
    if status == "cancel_requested":
        return "cancel requested"
    if status != "running":
        return None
    parts: list[str] = []
    epochs, done = job.get("n_epochs"), job.get("epochs_completed")
    if isinstance(epochs, int) and isinstance(done, int):
        parts.append(f"epoch {min(done + 1, epochs)} of {epochs}")
    steps, total = job.get("steps_completed"), job.get("total_steps")
    if isinstance(steps, int) and isinstance(total, int) and total:
        parts.append(f"step {steps} of {total}")
    estimate = job.get("progress")
    if isinstance(estimate, Mapping) and estimate.get("estimate_available"):
        seconds = int(estimate.get("seconds_remaining") or 0)
        parts.append(f"about {max(1, round(seconds / 60))} min left")
    return ", ".join(parts) or "running"


def failure(job: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(error code, message) of a failed job: its last error event, in Together's words."""
    for event in reversed(_chronological(events)):
        kind = str(event.get("type") or "").lower()
        level = str(event.get("level") or "").lower()
        if kind in ERROR_EVENTS or (level == "error" and kind != "refund"):
            message = str(event.get("message") or "").strip()
            return kind or "job_error", message or f"Together reported {kind or 'an error'}"
    status = str(job.get("status") or "error")
    return status, f"Together reports the job as {status!r} and gave no error event"


def trained_tokens(job: Mapping[str, Any]) -> int | None:
    """`token_count` (the dataset's tokens, as Together's SDK describes it) times the epochs."""
    tokens, epochs = job.get("token_count"), job.get("n_epochs")
    if isinstance(tokens, int) and tokens > 0:
        return tokens * (epochs if isinstance(epochs, int) and epochs > 0 else 1)
    return None


def newest(jobs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The most recently created job (Together's list order is not documented)."""
    if not jobs:
        return None
    return max(jobs, key=lambda job: (str(job.get("created_at") or ""), str(job.get("id"))))


def _chronological(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(events, key=lambda event: str(event.get("created_at") or ""))
