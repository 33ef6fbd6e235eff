"""The job folder's files: the spec's format version, statuses that stay finished, metrics."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from scheduler.training.lora.job_folder import JobFolder
from scheduler.training.lora.spec import FORMAT_VERSION, JobSpec, SpecError
from scheduler.training.protocol import JobStatus

SPEC = JobSpec(
    job_id="lora-dv1-abc",
    dataset_version_id=1,
    method="supervised",
    base_model="tiny-llama",
    base_model_path="/models/tiny",
    adapter_name="tuneloop-lora-dv1",
    adapter_store="/adapters",
    n_epochs=3,
    learning_rate=2e-4,
    lora_r=8,
    lora_alpha=16,
    lora_dropout=0.05,
    target_modules=["q_proj", "v_proj"],
    max_seq_length=512,
    seed=0,
    batch_size=4,
)


def folder_at(tmp_path: Path) -> JobFolder:
    path = tmp_path / "lora-dv1-abc"
    path.mkdir()
    return JobFolder(path, lambda: "2026-03-01T12:00:00+00:00")


def test_the_spec_round_trips(tmp_path: Path) -> None:
    folder = folder_at(tmp_path)
    folder.write_spec(SPEC)
    assert folder.exists()
    assert folder.read_spec() == SPEC
    assert json.loads(folder.file("spec.json").read_text())["format_version"] == FORMAT_VERSION


def test_a_spec_from_a_newer_version_is_refused_with_the_reason() -> None:
    data = json.loads(replace(SPEC).to_json())
    data["format_version"] = FORMAT_VERSION + 1
    data["a_field_from_the_future"] = True
    with pytest.raises(SpecError, match="newer tuneloop") as raised:
        JobSpec.from_json(json.dumps(data), where="jobs/x/spec.json")
    assert raised.value.code == "unsupported_format_version"
    assert "jobs/x/spec.json" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[1, 2]", "JSON object"),
        ("{", "not JSON"),
        ('{"format_version": 1, "job_id": "x"}', "missing"),
        ('{"format_version": 1, "surprise": 1}', "unknown fields"),
        ('{"job_id": "x"}', "format_version"),
    ],
)
def test_malformed_specs_are_refused(text: str, reason: str) -> None:
    with pytest.raises(SpecError, match=reason) as raised:
        JobSpec.from_json(text)
    assert raised.value.code == "invalid_job_spec"


def test_a_finished_status_is_never_left(tmp_path: Path) -> None:
    folder = folder_at(tmp_path)
    assert folder.transition(JobStatus.RUNNING) is not None
    cancelled = folder.transition(JobStatus.CANCELLED)
    assert cancelled is not None

    assert folder.transition(JobStatus.SUCCEEDED, fine_tuned_model="x") is None
    assert folder.read_status() == cancelled


def test_status_json_carries_an_openai_style_error(tmp_path: Path) -> None:
    folder = folder_at(tmp_path)
    with folder.lock():
        folder.fail_locked("out_of_memory", "CUDA out of memory")
    data = json.loads(folder.file("status.json").read_text())
    assert data["status"] == "failed"
    assert data["error"] == {"code": "out_of_memory", "message": "CUDA out of memory"}
    state = folder.read_status()
    assert state is not None
    assert (state.error_code, state.error_message) == ("out_of_memory", "CUDA out of memory")


def test_metrics_after_a_checkpoint_are_dropped_and_torn_lines_skipped(tmp_path: Path) -> None:
    folder = folder_at(tmp_path)
    for step in (1, 2, 3):
        folder.metric({"step": step, "loss": 1.0, "tokens": step * 10})
    with folder.file("metrics.jsonl").open("a") as handle:
        handle.write('{"step": 4, "lo')  # the worker died mid-line
    assert [m["step"] for m in folder.metrics()] == [1, 2, 3]

    folder.drop_metrics_after(2)

    assert [m["step"] for m in folder.metrics()] == [1, 2]
    assert folder.last_tokens() == 20


def test_a_running_job_reports_its_progress_in_words(tmp_path: Path) -> None:
    from scheduler.training.lora.trainer import job_progress

    folder = folder_at(tmp_path)
    assert job_progress(folder) is None  # nothing logged yet
    folder.metric({"step": 3, "max_steps": 27, "epoch": 0.3333, "loss": 2.71828, "tokens": 900})
    assert job_progress(folder) == "step 3/27, epoch 0.33, loss 2.718"
    folder.metric({"step": 4, "epoch": 0.5, "eval_loss": 2.5})  # an eval-only line
    assert job_progress(folder) == "step 4, epoch 0.50"
