"""Together AI's fine-tuning API as a `Trainer`: hosted LoRA (or full) fine-tuning, no GPU.

`start` uploads the exported JSONL (Together's upload is three calls), asks Together's price
estimate and checks it against what the budget leaves, and creates the job: SFT or DPO, LoRA
settings, epochs, learning rate, suffix, and `from_checkpoint` of the promoted fine-tune for
the incremental strategy. `poll` and `cancel` map Together's statuses and events onto the
protocol's (see `jobs`).

Idempotent per dataset version without job metadata (Together's jobs have none): the training
file is uploaded under a name made of the dataset version and the file's sha256, so `start`
finds, in `GET /files`, a file an interrupted attempt uploaded (and uploads nothing again),
and, in `GET /fine-tunes`, a job an interrupted attempt created on it (and creates nothing
again). A process killed between upload and job creation, or between creation and recording
the job id, resumes with exactly one job.

Serving, by configuration: `together` serves the job's `model_output_name` on Together's
OpenAI-compatible chat API; `vllm` downloads the LoRA adapter when the job succeeds and
publishes it to the adapter store, where the team's vLLM loads it like a self-trained one.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from curation.models.base import utcnow
from scheduler.training.errors import TrainingRateLimited, TrainingTransientError
from scheduler.training.lora.adapters import AdapterError, AdapterStore
from scheduler.training.protocol import JobReport, JobStatus, OnUploaded, TrainingRequest
from scheduler.training.together import jobs
from scheduler.training.together.archive import ArchiveError, unpack_adapter
from scheduler.training.together.client import (
    TogetherClient,
    TogetherError,
    TogetherRateLimited,
    TogetherUnavailable,
)

log = logging.getLogger(__name__)

#: Together's limit on `suffix` (its SDK: "up to 40 characters").
MAX_SUFFIX = 40
Serving = Literal["together", "vllm"]


@dataclass(frozen=True)
class TogetherTrainerConfig:
    """What every job is created with (TUNELOOP_* settings; see the README).

    `learning_rate` is Together's absolute rate, scaled by a request's
    `learning_rate_multiplier`; `batch_size` None sends Together's `"max"`. `n_evals` > 0
    uploads the export's held-out file as `validation_file` (evaluation tokens are billed).
    """

    base_model: str
    training_type: Literal["lora", "full"] = "lora"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_trainable_modules: str = "all-linear"
    learning_rate: float = 1e-4
    n_epochs: int = 3
    batch_size: int | None = None
    n_evals: int = 0
    dpo_beta: float | None = None
    serving: Serving = "together"


class TogetherTrainer:
    """Creates and follows Together fine-tuning jobs through a `TogetherClient`.

    `adapters` is where `vllm` serving publishes downloaded adapters (required for it).
    """

    name = "together"

    def __init__(
        self,
        client: TogetherClient,
        config: TogetherTrainerConfig,
        *,
        adapters: AdapterStore | None = None,
    ) -> None:
        if config.serving == "vllm" and adapters is None:
            raise ValueError("serving on vLLM needs an adapter store")
        self._client = client
        self._config = config
        self._adapters = adapters

    # --- the protocol -------------------------------------------------------------------------
    def start(self, request: TrainingRequest, on_uploaded: OnUploaded) -> JobReport:
        """The dataset version's job: the one an earlier attempt created, or a new one.

        FAILED, without a job, when Together refuses the request (its error code and
        message), or when its price estimate is over `request.cost_limit_usd` (`over_budget`)
        or over the account's credit (`insufficient_credit`).
        """
        with _translated_errors():
            try:
                return self._start(request, on_uploaded)
            except (TogetherRateLimited, TogetherUnavailable):
                raise
            except TogetherError as exc:
                return JobReport(
                    JobStatus.FAILED,
                    files=dict(request.uploaded),
                    error_code=exc.reason,
                    error_message=f"Together refused the job (HTTP {exc.status}): {exc.message}",
                )

    def can_continue(self, model: str) -> bool:
        """Whether `model` is a fine-tune of ours that a new job can continue from
        (`from_checkpoint`): an adapter downloaded from a Together job (vLLM serving), or the
        output model of one of our completed Together jobs."""
        with _translated_errors():
            return self._checkpoint_of(model) is not None

    def poll(self, job_id: str) -> JobReport:
        with _translated_errors():
            return self._report(self._client.retrieve_fine_tune(job_id), {})

    def cancel(self, job_id: str) -> JobReport:
        """Ask Together to cancel; a job that already finished is reported as it finished."""
        with _translated_errors():
            try:
                return self._report(self._client.cancel_fine_tune(job_id), {})
            except TogetherError as exc:
                if isinstance(exc, TogetherRateLimited | TogetherUnavailable):
                    raise
                return self.poll(job_id)

    # --- start --------------------------------------------------------------------------------
    def _start(self, request: TrainingRequest, on_uploaded: OnUploaded) -> JobReport:
        names = self._file_names(request)
        ours = {
            kind: _processed(self._client.list_files(), name, _size(request, kind))
            for kind, name in names.items()
        }
        existing = self.find_job(request, ours.get("train"))
        if existing is not None:
            log.info(
                "dataset version %s already has Together job %s; not creating another",
                request.dataset_version_id,
                existing.get("id"),
            )
            return self._report(existing, {})
        files = self._upload(request, names, ours, on_uploaded)
        body = self._body(request, files)
        estimate = self._estimate(body)
        refused = _refused(estimate, request.cost_limit_usd, files)
        if refused is not None:
            return refused
        job = self._client.create_fine_tune(body)
        cost = _price(estimate)
        report = self._report(job, files)
        return _with_cost(report, cost)

    def find_job(
        self, request: TrainingRequest, train_file: str | None
    ) -> Mapping[str, Any] | None:
        """The newest job trained on this dataset version's training file, if any."""
        known = {file_id for file_id in (train_file, request.uploaded.get("train")) if file_id}
        if not known:
            return None
        found = [j for j in self._client.list_fine_tunes() if j.get("training_file") in known]
        return jobs.newest(found)

    def _file_names(self, request: TrainingRequest) -> dict[str, str]:
        stem = f"tuneloop-dv{request.dataset_version_id}-{request.train_sha256[:12]}"
        names = {"train": f"{stem}-train.jsonl"}
        if self._config.n_evals > 0 and _size(request, "eval"):
            names["eval"] = f"{stem}-eval.jsonl"
        return names

    def _upload(
        self,
        request: TrainingRequest,
        names: Mapping[str, str],
        found: Mapping[str, str | None],
        on_uploaded: OnUploaded,
    ) -> dict[str, str]:
        """Each file's id: already uploaded (found by its name), or uploaded now."""
        files: dict[str, str] = {}
        for kind, name in names.items():
            file_id = found.get(kind)
            if file_id is None:
                path = request.train_path if kind == "train" else request.eval_path
                assert path is not None
                uploaded = self._client.upload_file(name, path.read_bytes())
                file_id = str(uploaded["id"])
            files[kind] = file_id
            if request.uploaded.get(kind) != file_id:
                on_uploaded(kind, file_id)
        return files

    def _body(self, request: TrainingRequest, files: Mapping[str, str]) -> dict[str, Any]:
        config = self._config
        multiplier = request.learning_rate_multiplier
        body: dict[str, Any] = {
            "training_file": files["train"],
            "n_epochs": request.n_epochs or config.n_epochs,
            "learning_rate": config.learning_rate * (1.0 if multiplier is None else multiplier),
            "n_checkpoints": 1,
            "batch_size": config.batch_size or "max",
            "suffix": _suffix(request.suffix, request.dataset_version_id),
            "training_type": self._training_type(),
            "training_method": self._training_method(request),
        }
        if "eval" in files:
            body["validation_file"] = files["eval"]
            body["n_evals"] = config.n_evals
        if request.seed is not None:
            body["random_seed"] = request.seed
        checkpoint = self._checkpoint_of(request.model)
        if checkpoint is not None:
            body["from_checkpoint"] = checkpoint  # Together takes a model or a checkpoint
        else:
            body["model"] = request.model
        return body

    def _training_type(self) -> dict[str, Any]:
        config = self._config
        if config.training_type == "full":
            return {"type": "Full"}
        return {
            "type": "Lora",
            "lora_r": config.lora_r,
            "lora_alpha": config.lora_alpha,
            "lora_dropout": config.lora_dropout,
            "lora_trainable_modules": config.lora_trainable_modules,
        }

    def _training_method(self, request: TrainingRequest) -> dict[str, Any]:
        if request.method == "dpo":
            method: dict[str, Any] = {"method": "dpo"}
            if self._config.dpo_beta is not None:
                method["dpo_beta"] = self._config.dpo_beta
            return method
        # "auto" trains on the assistant turns of chat data only, as tuneloop means it.
        return {"method": "sft", "train_on_inputs": "auto"}

    def _estimate(self, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Together's price estimate for the job, or None when it gives none (the export's
        estimate from the model table then stands)."""
        wanted = (
            "training_file",
            "validation_file",
            "model",
            "from_checkpoint",
            "n_epochs",
            "n_evals",
            "training_method",
            "training_type",
        )
        try:
            return self._client.estimate_price({k: body[k] for k in wanted if k in body})
        except (TogetherRateLimited, TogetherUnavailable):
            raise
        except TogetherError as exc:
            log.warning("Together gave no price estimate (%s); going by the model table", exc)
            return None

    def _checkpoint_of(self, model: str) -> str | None:
        """The `from_checkpoint` that continues `model`, or None for a base model."""
        if model == self._config.base_model:
            return None
        if self._adapters is not None:
            adapter = self._adapters.get(model)
            if adapter is not None:
                return adapter.job_id if (adapter.job_id or "").startswith("ft-") else None
        if self._config.serving == "vllm":
            return None
        for job in self._client.list_fine_tunes():
            if job.get("model_output_name") == model and job.get("status") == "completed":
                return str(job["id"])
        return None

    # --- reports ------------------------------------------------------------------------------
    def _report(self, job: Mapping[str, Any], files: Mapping[str, str]) -> JobReport:
        status = jobs.job_status(job)
        job_id = str(job.get("id") or "")
        known = {"train": str(job["training_file"])} if job.get("training_file") else {}
        if job.get("validation_file"):
            known["eval"] = str(job["validation_file"])
        report = JobReport(
            status=status,
            job_id=job_id or None,
            files=dict(files) or known,
            trained_tokens=jobs.trained_tokens(job),
            progress=jobs.progress(job) if not status.is_finished else None,
        )
        if status is JobStatus.FAILED:
            code, message = jobs.failure(job, self._client.fine_tune_events(job_id))
            return _replace(report, error_code=code, error_message=message)
        if status is JobStatus.SUCCEEDED:
            return self._succeeded(report, job)
        return report

    def _succeeded(self, report: JobReport, job: Mapping[str, Any]) -> JobReport:
        output = str(job.get("model_output_name") or "")
        if self._config.serving == "together":
            if not output:
                return _replace(
                    report,
                    status=JobStatus.FAILED,
                    error_code="no_output_model",
                    error_message=f"Together job {report.job_id} completed without an output "
                    "model name",
                )
            return _replace(report, fine_tuned_model=output)
        return self._downloaded(report, job)

    def _downloaded(self, report: JobReport, job: Mapping[str, Any]) -> JobReport:
        """Download the job's adapter into the adapter store (once) and report it."""
        assert self._adapters is not None and report.job_id
        named = downloaded_adapter_name(job)
        if named is None:
            return _replace(
                report,
                status=JobStatus.FAILED,
                error_code="adapter_unusable",
                error_message=f"Together job {report.job_id} has no tuneloop suffix "
                f"(...-dv<dataset version>): {job.get('suffix')!r}",
            )
        name, dataset_version = named
        stored = self._adapters.get(name)
        if stored is None or stored.job_id != report.job_id:
            with tempfile.TemporaryDirectory(prefix="tuneloop-together-") as scratch:
                archive = self._client.download(report.job_id, Path(scratch) / "adapter.tar")
                try:
                    stored = self._adapters.publish(
                        name,
                        unpack_adapter(archive, Path(scratch) / "adapter"),
                        base_model=self._config.base_model,
                        dataset_version_id=dataset_version,
                        job_id=report.job_id,
                    )
                except (ArchiveError, AdapterError) as exc:
                    return _replace(
                        report,
                        status=JobStatus.FAILED,
                        error_code="adapter_unusable",
                        error_message=f"the adapter of Together job {report.job_id} could not "
                        f"be stored: {exc}",
                    )
        return _replace(report, fine_tuned_model=stored.name, artifact_sha256=stored.sha256)


def downloaded_adapter_name(job: Mapping[str, Any]) -> tuple[str, int] | None:
    """(adapter name, dataset version) for a job of ours: `{suffix}-together-dv{id}`, from
    the job's suffix `{suffix}-dv{id}`; None for a job without one."""
    head, _, tail = str(job.get("suffix") or "").rpartition("-dv")
    if not head or not tail.isdigit():
        return None
    return f"{head}-together-dv{tail}", int(tail)


def _suffix(suffix: str, dataset_version_id: int) -> str:
    """`{suffix}-dv{id}` within Together's 40 characters (the suffix is shortened, the
    dataset version kept): the output model's name says what it was trained on."""
    tag = f"-dv{dataset_version_id}"
    return suffix[: MAX_SUFFIX - len(tag)] + tag


def _processed(files: list[dict], name: str, size: int) -> str | None:
    """The newest whole, processed upload called `name` (an upload cut short is skipped)."""
    whole = [
        f
        for f in files
        if f.get("filename") == name
        and f.get("Processed", f.get("processed")) is True
        and f.get("bytes") in (size, None)
    ]
    if not whole:
        return None
    return str(max(whole, key=lambda f: (f.get("created_at") or 0, str(f.get("id"))))["id"])


def _size(request: TrainingRequest, kind: str) -> int:
    path = request.train_path if kind == "train" else request.eval_path
    return path.stat().st_size if path is not None and path.is_file() else 0


def _price(estimate: Mapping[str, Any] | None) -> float | None:
    value = (estimate or {}).get("estimated_total_price")
    return float(value) if isinstance(value, int | float) else None


def _refused(
    estimate: Mapping[str, Any] | None, limit: float | None, files: Mapping[str, str]
) -> JobReport | None:
    """A FAILED report when the estimate is over the budget or the account's credit."""
    price = _price(estimate)
    if estimate is None or price is None:
        return None
    if limit is not None and price > limit:
        return JobReport(
            JobStatus.FAILED,
            files=dict(files),
            error_code="over_budget",
            error_message=f"Together estimates ${price:.2f} for this job, over the "
            f"${max(limit, 0):.2f} the budget leaves for it (TUNELOOP_BUDGET_PER_RUN_USD, "
            "TUNELOOP_BUDGET_PER_MONTH_USD); no job was created",
            estimated_cost_usd=price,
        )
    if estimate.get("allowed_to_proceed") is False:
        credit = estimate.get("user_limit")
        return JobReport(
            JobStatus.FAILED,
            files=dict(files),
            error_code="insufficient_credit",
            error_message=f"Together estimates ${price:.2f} for this job, more than the "
            f"account's credit limit and balance allow (user_limit {credit}); add credit at "
            "api.together.ai (Settings, Billing). No job was created",
            estimated_cost_usd=price,
        )
    return None


def _with_cost(report: JobReport, cost: float | None) -> JobReport:
    return report if cost is None else _replace(report, estimated_cost_usd=cost)


def _replace(report: JobReport, **changes: Any) -> JobReport:
    return replace(report, **changes)


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Together's rate limits and outages in the cycle's vocabulary."""
    try:
        yield
    except TogetherRateLimited as exc:
        retry_at = utcnow() + timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None
        raise TrainingRateLimited(
            f"rate limited by Together: {exc.message}", retry_at=retry_at
        ) from exc
    except TogetherUnavailable as exc:
        raise TrainingTransientError(f"Together unavailable: {exc.message}") from exc
