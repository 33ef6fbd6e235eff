"""Fine-tuning jobs through the real SDK: the state machine on a manual clock, events,
checkpoints, pagination, OpenAI's asynchronous validation failures, control, and faults."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from tests.local_openai.conftest import Api
from tests.local_openai.helpers import (
    FAQ,
    SYSTEM,
    ask,
    dpo_line,
    jsonl,
    run_to_end,
    sft_file,
    sft_line,
    train,
    upload,
)
from tuneloop.local_openai import LocalOpenAI, instant_clock


def test_a_job_moves_through_openais_statuses_one_stage_at_a_time(api: Api) -> None:
    client, clock = api.client(), api.clock
    file_id = upload(client, clock, sft_file())
    created = client.fine_tuning.jobs.create(
        model="gpt-4.1-mini",
        training_file=file_id,
        suffix="helpdesk",
        seed=42,
        metadata={"dataset": "v7"},
    )
    assert created.id.startswith("ftjob-")
    assert created.status == "validating_files"
    assert created.model == "gpt-4.1-mini-2025-04-14"  # the alias resolves to its snapshot
    assert created.fine_tuned_model is None and created.finished_at is None
    assert created.hyperparameters.n_epochs == "auto"
    assert (created.seed, created.metadata) == (42, {"dataset": "v7"})
    assert created.method is not None and created.method.type == "supervised"

    clock.advance_stages(1)
    assert client.fine_tuning.jobs.retrieve(created.id).status == "queued"
    clock.advance_stages(1)
    running = client.fine_tuning.jobs.retrieve(created.id)
    assert running.status == "running"
    assert running.estimated_finish == int(clock.now()) + 1
    assert running.hyperparameters.n_epochs == 3 and running.hyperparameters.batch_size == 1
    clock.advance_stages(1)
    done = client.fine_tuning.jobs.retrieve(created.id)
    assert done.status == "succeeded"
    assert done.finished_at == int(clock.now())
    assert done.estimated_finish is None
    assert done.trained_tokens is not None and done.trained_tokens > 0
    assert done.fine_tuned_model is not None
    base, _, rest = done.fine_tuned_model.removeprefix("ft:").partition(":")
    org, suffix, short_id = rest.split(":")
    assert (base, org, suffix, len(short_id)) == ("gpt-4.1-mini-2025-04-14", "local", "helpdesk", 8)
    assert done.fine_tuned_model in [m.id for m in client.models.list()]


def test_events_are_newest_first_paginated_and_stamped_when_due(api: Api) -> None:
    client, clock = api.client(), api.clock
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, clock, sft_file())
    )
    start = int(clock.now())
    run_to_end(client, clock, job.id)
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=4))  # auto-paging
    messages = [e.message for e in events]
    assert messages[0] == "The job has successfully completed"
    assert messages[-1] == f"Created fine-tuning job: {job.id}"
    assert "Files validated, moving job to queued state" in messages
    assert "Fine-tuning job started" in messages
    stamps = [e.created_at for e in events]
    assert stamps == sorted(stamps, reverse=True)
    assert (stamps[-1], stamps[0]) == (start, start + 3)
    metrics = [e for e in events if e.type == "metrics"]
    assert metrics and all(e.data and "train_loss" in e.data for e in metrics)

    first = client.fine_tuning.jobs.list_events(job.id, limit=2)
    assert [e.id for e in first.data] == [e.id for e in events[:2]] and first.has_more
    after = client.fine_tuning.jobs.list_events(job.id, limit=2, after=events[1].id)
    assert [e.id for e in after.data] == [e.id for e in events[2:4]]


def test_checkpoints_for_the_last_three_epochs(api: Api) -> None:
    client, clock = api.client(), api.clock
    hyperparameters = {"n_epochs": 4, "batch_size": 2}
    method = {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}
    done = train(client, clock, method=method)
    checkpoints = list(client.fine_tuning.jobs.checkpoints.list(done.id))
    steps_per_epoch = len(FAQ) // 2
    assert [c.step_number for c in checkpoints] == [steps_per_epoch * e for e in (4, 3, 2)]
    newest = checkpoints[0]
    assert newest.fine_tuned_model_checkpoint == f"{done.fine_tuned_model}:ckpt-step-24"
    assert newest.fine_tuning_job_id == done.id
    assert newest.metrics.train_loss is not None


def test_jobs_list_newest_first_with_cursor_and_metadata_filter(api: Api) -> None:
    client, clock = api.client(), api.clock
    file_id = upload(client, clock, sft_file())
    ids = [
        client.fine_tuning.jobs.create(
            model="gpt-4o-mini", training_file=file_id, metadata={"run": str(i % 2)}
        ).id
        for i in range(5)
    ]
    newest_first = ids[::-1]
    assert [j.id for j in client.fine_tuning.jobs.list(limit=2)] == newest_first
    page = client.fine_tuning.jobs.list(limit=2, after=newest_first[1])
    assert [j.id for j in page.data] == newest_first[2:4] and page.has_more
    odd = [j.id for j in client.fine_tuning.jobs.list(metadata={"run": "1"})]
    assert odd == [ids[3], ids[1]]


def _failed_job(api: Api, data: bytes, **options: object) -> openai.types.fine_tuning.FineTuningJob:
    client, clock = api.client(), api.clock
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, clock, data), **options
    )
    assert job.status == "validating_files"  # the file's problems show only later
    clock.advance_stages(1)
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.fine_tuned_model is None
    newest = next(iter(client.fine_tuning.jobs.list_events(job.id)))
    assert (newest.level, newest.message) == ("error", failed.error.message)
    return failed


def test_too_few_examples_fail_with_invalid_n_examples(api: Api) -> None:
    failed = _failed_job(api, sft_file(FAQ[:9]))
    assert failed.error is not None
    assert (failed.error.code, failed.error.param) == ("invalid_n_examples", "training_file")
    assert failed.error.message == (
        "Training file has 9 example(s), but must have at least 10 examples"
    )


def test_a_bad_line_fails_with_invalid_training_file_and_its_example_number(api: Api) -> None:
    lines = [sft_line(q, a) for q, a in FAQ]
    lines[2] = {"messages": [SYSTEM, {"role": "usr", "content": "hi"}]}
    failed = _failed_job(api, jsonl(lines))
    assert failed.error is not None
    assert (failed.error.code, failed.error.param) == ("invalid_training_file", "training_file")
    assert failed.error.message.startswith("The job failed due to an invalid training file.")
    assert "Example 3: unrecognized_role at messages[1].role" in failed.error.message


def test_a_file_in_the_wrong_format_for_the_method_fails(api: Api) -> None:
    preference = jsonl(dpo_line(q, a, "No idea.") for q, a in FAQ)
    failed = _failed_job(api, preference)  # supervised by default
    assert failed.error is not None and failed.error.code == "invalid_training_file"
    assert "is in the preference format" in failed.error.message
    assert "(provided method=supervised)" in failed.error.message

    failed = _failed_job(api, sft_file(), method={"type": "dpo"})
    assert failed.error is not None and failed.error.code == "invalid_training_file"
    assert "is in the fine-tune-chat format" in failed.error.message
    assert "not using 'supervised' as the training method (provided method=dpo)" in (
        failed.error.message
    )


def test_not_json_fails_asynchronously(api: Api) -> None:
    data = sft_file() + b"this is not json\n"
    failed = _failed_job(api, data)
    assert failed.error is not None and failed.error.code == "invalid_training_file"
    assert f"Line {len(FAQ) + 1} is not a dictionary" in failed.error.message


def test_a_bad_validation_file_fails_with_invalid_validation_file(api: Api) -> None:
    client, clock = api.client(), api.clock
    broken = upload(client, clock, jsonl([{"messages": []}]), name="valid.jsonl")
    failed = _failed_job(api, sft_file(), validation_file=broken)
    assert failed.error is not None
    assert (failed.error.code, failed.error.param) == ("invalid_validation_file", "validation_file")


@pytest.mark.parametrize(
    ("options", "param", "code"),
    [
        ({"model": "gpt-9-ultra"}, "model", "model_not_available"),
        ({"training_file": "file-missing"}, "training_file", None),
        ({"suffix": "a:b"}, "suffix", "invalid_value"),
        ({"seed": -1}, "seed", "integer_below_min_value"),
        ({"method": {"type": "reinforcement"}}, "method.type", "invalid_value"),
        (
            {"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 51}}}},
            "method.supervised.hyperparameters.n_epochs",
            "integer_above_max_value",
        ),
        ({"extra_body": {"colour": "blue"}}, None, None),
    ],
)
def test_bad_requests_are_refused_at_once(
    api: Api, options: dict[str, object], param: str | None, code: str | None
) -> None:
    client = api.client()
    request: dict[str, object] = {
        "model": "gpt-4o-mini",
        "training_file": upload(client, api.clock, sft_file()),
    }
    request.update(options)
    with pytest.raises(openai.BadRequestError) as raised:
        client.fine_tuning.jobs.create(**request)  # type: ignore[arg-type]
    body = raised.value.body
    assert isinstance(body, dict)
    assert (body["param"], body["code"], body["type"]) == (param, code, "invalid_request_error")


def test_files_must_be_for_fine_tuning_and_processed(api: Api) -> None:
    client = api.client()
    notes = client.files.create(file=("notes.txt", b"x"), purpose="user_data")
    fresh = client.files.create(file=("t.jsonl", sft_file()), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="purpose 'fine-tune'"):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=notes.id)
    with pytest.raises(openai.BadRequestError) as raised:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=fresh.id)
    assert raised.value.code == "file_not_ready"


def test_unknown_jobs_are_404(api: Api) -> None:
    with pytest.raises(openai.NotFoundError):
        api.client().fine_tuning.jobs.retrieve("ftjob-nope")


def test_cancel(api: Api) -> None:
    client, clock = api.client(), api.clock
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, clock, sft_file())
    )
    clock.advance_stages(1)
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    clock.advance_stages(5)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="cannot be cancelled"):
        client.fine_tuning.jobs.cancel(job.id)


def test_pause_freezes_a_running_job_and_resume_requeues_it(api: Api) -> None:
    client, clock = api.client(), api.clock
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, clock, sft_file())
    )
    clock.advance_stages(2.5)  # halfway through training
    paused = client.fine_tuning.jobs.pause(job.id)
    # The spec's status enum has no "paused": the job reads running, frozen, no estimate.
    assert (paused.status, paused.estimated_finish) == ("running", None)
    clock.advance_stages(10)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "running"
    with pytest.raises(openai.BadRequestError, match="cannot be paused"):
        client.fine_tuning.jobs.pause(job.id)

    resumed = client.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "queued"
    clock.advance_stages(1)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "running"
    clock.advance_stages(0.5)  # only the half that was left
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert "Fine-tuning job paused" in messages and "Fine-tuning job resumed" in messages
    with pytest.raises(openai.BadRequestError, match="not paused"):
        client.fine_tuning.jobs.resume(job.id)


def test_continued_training_inherits_examples_and_corrections_win(api: Api) -> None:
    client, clock = api.client(), api.clock
    first = train(client, clock, suffix="v1")
    assert first.fine_tuned_model is not None
    question, old_answer = FAQ[0]
    assert ask(client, first.fine_tuned_model, question) == old_answer

    correction = sft_file([(question, "Passwords are reset at the service desk now.")] * 10)
    second = train(client, clock, correction, model=first.fine_tuned_model, suffix="v2")
    assert second.model == first.fine_tuned_model
    assert second.fine_tuned_model is not None
    assert second.fine_tuned_model.startswith("ft:gpt-4.1-mini-2025-04-14:local:v2:")
    assert ask(client, second.fine_tuned_model, question).startswith("Passwords are reset")
    assert ask(client, second.fine_tuned_model, FAQ[3][0]) == FAQ[3][1]  # inherited
    assert ask(client, first.fine_tuned_model, question) == old_answer  # v1 is unchanged


def test_dpo_jobs_report_their_hyperparameters(api: Api) -> None:
    client, clock = api.client(), api.clock
    data = jsonl(dpo_line(q, a, "Ask someone else.") for q, a in FAQ)
    done = train(
        client, clock, data, method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}
    )
    assert done.method is not None and done.method.type == "dpo"
    assert done.method.dpo is not None and done.method.dpo.hyperparameters is not None
    assert done.method.dpo.hyperparameters.beta == 0.2
    assert done.fine_tuned_model is not None
    assert ask(client, done.fine_tuned_model, FAQ[1][0]) == FAQ[1][1]


def test_injected_job_faults(api: Api) -> None:
    client, clock = api.client(), api.clock
    file_id = upload(client, clock, sft_file())
    api.stand_in.faults.fail_next_jobs(1)
    api.stand_in.faults.stall_next_jobs(1)
    failing = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    stalling = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    clock.advance_stages(2.4)
    assert client.fine_tuning.jobs.retrieve(failing.id).status == "running"
    clock.advance_stages(0.2)
    failed = client.fine_tuning.jobs.retrieve(failing.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "internal_error"
    clock.advance_stages(1000)
    assert client.fine_tuning.jobs.retrieve(stalling.id).status == "running"

    api.stand_in.faults.forbid_job_creation()
    with pytest.raises(openai.PermissionDeniedError, match="2027-01-06"):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)


def test_with_an_instant_clock_a_job_is_done_on_its_first_read(tmp_path: Path) -> None:
    stand_in = LocalOpenAI(tmp_path, clock=instant_clock())
    client = stand_in.client()
    file_id = client.files.create(file=("t.jsonl", sft_file()), purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    assert job.status == "validating_files"
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"


def test_job_state_is_plain_json_on_disk(api: Api) -> None:
    client, clock = api.client(), api.clock
    done = train(client, clock)
    record = json.loads((api.stand_in.data_dir / "jobs" / f"{done.id}.json").read_text())
    assert record["job"]["status"] == "succeeded"


def test_legacy_hyperparameters_and_a_validation_file(api: Api) -> None:
    client, clock = api.client(), api.clock
    file_id = upload(client, clock, sft_file())
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=file_id,
        validation_file=file_id,
        hyperparameters={"n_epochs": 1},
    )
    assert job.method is not None and job.method.type == "supervised"
    assert job.hyperparameters.n_epochs == 1
    done = run_to_end(client, clock, job.id)
    (checkpoint,) = client.fine_tuning.jobs.checkpoints.list(done.id)
    assert checkpoint.metrics.valid_loss is not None
    rows = client.files.content(done.result_files[0]).text.splitlines()
    assert all(row.split(",")[3] for row in rows[1:])  # valid_loss filled on every row
