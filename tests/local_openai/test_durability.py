"""State lives on disk: a new stand-in on the same folder sees the same files, jobs, models."""

from __future__ import annotations

from pathlib import Path

from tests.local_openai.helpers import FAQ, ask, sft_file, train, upload
from tuneloop.local_openai import LocalOpenAI, ManualClock


def test_a_restarted_stand_in_sees_the_same_files_jobs_and_models(tmp_path: Path) -> None:
    clock = ManualClock(stage_seconds=1.0)
    before = LocalOpenAI(tmp_path, clock=clock)
    client = before.client()
    done = train(client, clock, suffix="kept")
    assert done.fine_tuned_model is not None
    notes = client.files.create(file=("notes.txt", b"remember me"), purpose="user_data")
    events = [e.id for e in client.fine_tuning.jobs.list_events(done.id, limit=100)]

    after = LocalOpenAI(tmp_path, clock=clock).client()
    assert after.files.content(notes.id).read() == b"remember me"
    job = after.fine_tuning.jobs.retrieve(done.id)
    assert job.model_dump() == done.model_dump()
    assert [e.id for e in after.fine_tuning.jobs.list_events(done.id, limit=100)] == events
    assert done.fine_tuned_model in [m.id for m in after.models.list()]
    assert ask(after, done.fine_tuned_model, FAQ[7][0]) == FAQ[7][1]
    # New ids keep counting after the old ones: listing order survives the restart.
    newer = after.files.create(file=("n.txt", b"x"), purpose="user_data")
    assert next(iter(after.files.list())).id == newer.id


def test_a_job_in_flight_carries_on_after_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(stage_seconds=1.0)
    client = LocalOpenAI(tmp_path, clock=clock).client()
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, clock, sft_file())
    )
    clock.advance_stages(1.5)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "queued"

    clock.advance_stages(10)  # the stand-in was down meanwhile
    restarted = LocalOpenAI(tmp_path, clock=clock).client()
    assert restarted.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
