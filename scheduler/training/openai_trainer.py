"""The OpenAI fine-tuning API as a `Trainer`; any OpenAI-compatible service works through the
client's base_url (the offline stand-in included).

A job carries metadata naming the dataset version and the training file's sha256. Before
creating a job, `start` looks for one with that metadata, so a process killed between creating
the job and recording its id finds that job on its next start instead of paying for a second.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import openai
from openai.types.fine_tuning import FineTuningJob

from curation.models.base import utcnow
from scheduler.training.errors import (
    TrainingRateLimited,
    TrainingTransientError,
    TrainingUnavailable,
)
from scheduler.training.protocol import JobReport, JobStatus, OnUploaded, TrainingRequest

log = logging.getLogger(__name__)

DATASET_KEY = "tuneloop_dataset_version"
SHA_KEY = "tuneloop_train_sha256"
_TRANSIENT = (openai.InternalServerError, openai.APIConnectionError)
#: Events read per poll to find the newest `metrics` one (a checkpoint or message event can
#: come after it).
METRICS_LOOKBACK = 10


def provider_message(exc: openai.APIError) -> str:
    """The provider's own words from an error body, without the SDK's decoration."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return exc.message


def provider_code(exc: openai.APIError) -> str | None:
    code = getattr(exc, "code", None)
    return str(code) if code else None


class OpenAITrainer:
    """Uploads the files, creates the job, and reports on it, through an `openai.OpenAI`."""

    name = "openai"

    def __init__(self, client: openai.OpenAI, *, now: Callable[[], datetime] = utcnow) -> None:
        self._client = client
        self._now = now  # for the time left in a job's progress

    # --- the protocol -------------------------------------------------------------------------
    def start(self, request: TrainingRequest, on_uploaded: OnUploaded) -> JobReport:
        with _translated_errors():
            existing = self.find_job(request)
            if existing is not None:
                log.info(
                    "dataset version %s already has fine-tuning job %s; not creating another",
                    request.dataset_version_id,
                    existing.id,
                )
                return _report(existing, request.uploaded)
            files = self._upload(request, on_uploaded)
            pending = self._unprocessed(files)
            if pending is not None:
                return pending
            try:
                job = self._create(request, files)
            except openai.BadRequestError as exc:
                if provider_code(exc) == "file_not_ready":
                    return JobReport(JobStatus.PREPARING, files=files)
                return JobReport(
                    JobStatus.FAILED,
                    files=files,
                    error_code=provider_code(exc) or "invalid_request",
                    error_message=provider_message(exc),
                )
            return _report(job, files)

    def can_continue(self, model: str) -> bool:
        """OpenAI continues a job from an `ft:` model id (the `model` of a new job)."""
        return model.startswith("ft:")

    def poll(self, job_id: str) -> JobReport:
        with _translated_errors():
            job = self._client.fine_tuning.jobs.retrieve(job_id)
            report = _report(job, {})
            if report.status is JobStatus.RUNNING:
                report = replace(report, progress=self.progress(job))
            return report

    def cancel(self, job_id: str) -> JobReport:
        with _translated_errors():
            try:
                return _report(self._client.fine_tuning.jobs.cancel(job_id), {})
            except openai.BadRequestError:
                # Already finished: report what it finished as.
                return self.poll(job_id)

    def progress(self, job: FineTuningJob) -> str | None:
        """How far a running job has got, in words ("step 12/54, loss 1.834, about 3 min
        left"), from its newest `metrics` event (OpenAI sends one per training step, with
        `step`, `total_steps` and `train_loss` in its `data`) and its `estimated_finish`.
        Progress is a nicety: a failure to list the events leaves it out rather than failing
        the poll."""
        try:
            events = self._client.fine_tuning.jobs.list_events(job.id, limit=METRICS_LOOKBACK)
            newest = next((e for e in events.data if e.type == "metrics" and e.data), None)
        except openai.APIError as exc:
            log.info("could not read the events of fine-tuning job %s: %s", job.id, exc)
            newest = None
        return metrics_progress(newest.data if newest else None, job.estimated_finish, self._now())

    # --- steps --------------------------------------------------------------------------------
    def find_job(self, request: TrainingRequest) -> FineTuningJob | None:
        """The newest job created for this dataset version and training file, if any."""
        wanted = {DATASET_KEY: str(request.dataset_version_id), SHA_KEY: request.train_sha256}
        page = self._client.fine_tuning.jobs.list(metadata=wanted, limit=100)
        for job in page:
            # Filter again here: a compatible server might ignore the metadata filter.
            metadata = job.metadata or {}
            if all(metadata.get(key) == value for key, value in wanted.items()):
                return job
        return None

    def _upload(self, request: TrainingRequest, on_uploaded: OnUploaded) -> dict[str, str]:
        files = dict(request.uploaded)
        wanted = {"train": request.train_path}
        if request.eval_path is not None and request.eval_path.stat().st_size > 0:
            wanted["eval"] = request.eval_path
        for kind, path in wanted.items():
            if kind in files:
                continue
            name = f"tuneloop-dv{request.dataset_version_id}-{kind}.jsonl"
            created = self._client.files.create(file=(name, path.read_bytes()), purpose="fine-tune")
            files[kind] = created.id
            on_uploaded(kind, created.id)
        return files

    def _unprocessed(self, files: dict[str, str]) -> JobReport | None:
        """PREPARING while a file is still being processed; FAILED if one was refused."""
        for file_id in files.values():
            found = self._client.files.retrieve(file_id)
            if found.status == "error":
                return JobReport(
                    JobStatus.FAILED,
                    files=files,
                    error_code="invalid_training_file",
                    error_message=f"file {file_id} was refused: {found.status_details or ''}",
                )
            if found.status != "processed":
                return JobReport(JobStatus.PREPARING, files=files)
        return None

    def _create(self, request: TrainingRequest, files: dict[str, str]) -> FineTuningJob:
        hyperparameters: dict[str, Any] = {}
        if request.n_epochs is not None:
            hyperparameters["n_epochs"] = request.n_epochs
        if request.learning_rate_multiplier is not None:
            hyperparameters["learning_rate_multiplier"] = request.learning_rate_multiplier
        method: dict[str, Any] = {"type": request.method}
        method[request.method] = {"hyperparameters": hyperparameters}
        options: dict[str, Any] = {}
        if request.seed is not None:
            options["seed"] = request.seed
        if "eval" in files:
            options["validation_file"] = files["eval"]
        try:
            return self._client.fine_tuning.jobs.create(
                model=request.model,
                training_file=files["train"],
                method=method,  # type: ignore[arg-type]
                suffix=request.suffix,
                metadata={
                    DATASET_KEY: str(request.dataset_version_id),
                    SHA_KEY: request.train_sha256,
                },
                **options,
            )
        except openai.PermissionDeniedError as exc:
            raise TrainingUnavailable(provider_message(exc)) from exc


@contextmanager
def _translated_errors() -> Iterator[None]:
    """The SDK's rate-limit and transient errors, in the cycle's vocabulary."""
    try:
        yield
    except openai.RateLimitError as exc:
        raise TrainingRateLimited(
            f"rate limited by the provider: {provider_message(exc)}", retry_at=_retry_at(exc)
        ) from exc
    except _TRANSIENT as exc:
        raise TrainingTransientError(f"provider unavailable: {exc}") from exc


def _retry_at(exc: openai.RateLimitError) -> datetime | None:
    header = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return utcnow() + timedelta(seconds=float(header)) if header else None
    except ValueError:
        return None


def metrics_progress(
    data: Mapping[str, Any] | None, estimated_finish: int | None, now: datetime
) -> str | None:
    """A metrics event's `data` and the job's `estimated_finish` (Unix seconds) in words, or
    None when neither says anything."""
    parts: list[str] = []
    data = data or {}
    step, total = data.get("step"), data.get("total_steps")
    if isinstance(step, int):
        parts.append(f"step {step}/{total}" if isinstance(total, int) and total else f"step {step}")
    loss = data.get("train_loss")
    if isinstance(loss, int | float):
        parts.append(f"loss {loss:.3f}")
    seconds = estimated_finish - now.timestamp() if estimated_finish else 0
    if seconds > 0:  # an estimate in the past says nothing more
        parts.append(f"about {max(1, round(seconds / 60))} min left")
    return ", ".join(parts) or None


def _report(job: FineTuningJob, files: dict[str, str] | Any) -> JobReport:
    error = job.error
    code = error.code if error is not None and error.code else None
    message = error.message if error is not None and error.message else None
    known = {
        "train": job.training_file,
        **({"eval": job.validation_file} if job.validation_file else {}),
    }
    try:
        status = JobStatus(job.status)
    except ValueError:  # a status this code does not know yet (say, "paused"): still going
        status = JobStatus.RUNNING
    return JobReport(
        status=status,
        job_id=job.id,
        files=dict(files) or known,
        fine_tuned_model=job.fine_tuned_model,
        trained_tokens=job.trained_tokens,
        error_code=code,
        error_message=message,
    )
