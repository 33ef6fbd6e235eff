"""Together's job statuses, progress and failures in the protocol's terms."""

from __future__ import annotations

import pytest

from scheduler.training.protocol import JobStatus
from scheduler.training.together.jobs import failure, job_status, newest, progress, trained_tokens


@pytest.mark.parametrize(
    ("together", "ours"),
    [
        ("pending", JobStatus.QUEUED),
        ("queued", JobStatus.QUEUED),
        ("running", JobStatus.RUNNING),
        ("compressing", JobStatus.RUNNING),
        ("uploading", JobStatus.RUNNING),
        ("cancel_requested", JobStatus.CANCELLED),
        ("cancelled", JobStatus.CANCELLED),
        ("error", JobStatus.FAILED),
        ("user_error", JobStatus.FAILED),
        ("completed", JobStatus.SUCCEEDED),
        ("paused", JobStatus.RUNNING),  # a status this code does not know: still going
        ("COMPLETED", JobStatus.SUCCEEDED),
    ],
)
def test_every_together_status_maps_onto_the_protocol(together: str, ours: JobStatus) -> None:
    assert job_status({"status": together}) is ours


def test_progress_in_words() -> None:
    assert progress({"status": "queued", "queue_depth": 3}) == "queued, position 3 in the queue"
    running = {
        "status": "running",
        "n_epochs": 3,
        "epochs_completed": 1,
        "steps_completed": 12,
        "total_steps": 30,
        "progress": {"estimate_available": True, "seconds_remaining": 170},
    }
    assert progress(running) == "epoch 2 of 3, step 12 of 30, about 3 min left"
    assert progress({"status": "uploading"}) == "training done, uploading the model"
    assert progress({"status": "completed"}) is None


def test_a_failure_is_the_last_error_event_in_togethers_words() -> None:
    events = [
        {
            "created_at": "2026-01-01T00:00:02.000Z",
            "type": "job_error",
            "level": "error",
            "message": "later",
        },
        {
            "created_at": "2026-01-01T00:00:01.000Z",
            "type": "job_user_error",
            "level": "Error",
            "message": "earlier",
        },
        {
            "created_at": "2026-01-01T00:00:03.000Z",
            "type": "refund",
            "level": "error",
            "message": "refunded",
        },
    ]
    assert failure({"status": "error"}, events) == ("job_error", "later")
    assert failure({"status": "user_error"}, []) == (
        "user_error",
        "Together reports the job as 'user_error' and gave no error event",
    )


def test_trained_tokens_and_the_newest_job() -> None:
    assert trained_tokens({"token_count": 500, "n_epochs": 3}) == 1500
    assert trained_tokens({"token_count": 0, "n_epochs": 3}) is None
    jobs = [
        {"id": "ft-a", "created_at": "2026-01-01T00:00:02.000Z"},
        {"id": "ft-b", "created_at": "2026-01-01T00:00:05.000Z"},
        {"id": "ft-c", "created_at": "2026-01-01T00:00:03.000Z"},
    ]
    assert newest(jobs) == jobs[1]
    assert newest([]) is None
