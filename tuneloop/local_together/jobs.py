"""Fine-tuning jobs with Together's statuses and events, moved lazily by the clock.

A job goes `pending -> queued -> running -> compressing -> uploading -> completed`, one clock
stage each, or ends `error` (its data failed validation at the end of `pending`, or an
injected fault failed it halfway through `running`) or `cancelled` (one stage after
`cancel_requested`). As in the OpenAI stand-in, nothing runs in the background: a job is
brought up to date whenever it is read, each event stamped with the moment it was due.

The request is checked when the job is created (400 for what Together refuses at once); the
training data is checked then too, with OpenAI's format rules (Together takes OpenAI's chat
and preference formats), but a bad file only fails the job at the end of `pending`, with a
`job_error` event that says why: Together validates and tokenizes the data inside the job.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tuneloop.local_openai.clock import Clock
from tuneloop.local_openai.errors import invalid_request, not_found
from tuneloop.local_openai.faults import Faults
from tuneloop.local_openai.storage import Storage
from tuneloop.local_openai.training_validation import (
    Example,
    TrainingFileError,
    validate_training_file,
)
from tuneloop.local_together.catalog import ACCOUNT, BASE_MODELS, BaseModel
from tuneloop.local_together.files import FileService
from tuneloop.local_together.models import ENCODING, ModelRegistry

TERMINAL = frozenset({"completed", "error", "cancelled"})
CREATE_PARAMS = frozenset(
    {
        "training_file",
        "validation_file",
        "packing",
        "max_seq_length",
        "model",
        "n_epochs",
        "n_checkpoints",
        "n_evals",
        "batch_size",
        "learning_rate",
        "lr_scheduler",
        "warmup_ratio",
        "max_grad_norm",
        "weight_decay",
        "random_seed",
        "suffix",
        "wandb_api_key",
        "wandb_base_url",
        "wandb_project_name",
        "wandb_name",
        "wandb_entity",
        "train_on_inputs",
        "training_method",
        "training_type",
        "multimodal_params",
        "from_checkpoint",
        "from_hf_model",
        "hf_model_revision",
        "hf_api_token",
        "hf_output_repo_name",
    }
)
MAX_SUFFIX = 40
#: Where an injected fault fails (or stalls) a job, as a fraction of its running stage.
FAULT_POINT = 0.5


def iso(moment: float) -> str:
    """Together's timestamps: ISO 8601, UTC, milliseconds."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class JobService:
    """Jobs on disk, advanced on read."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        files: FileService,
        models: ModelRegistry,
        faults: Faults,
        *,
        credit_limit_usd: float,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._files = files
        self._models = models
        self._faults = faults
        self._credit_limit = credit_limit_usd
        self._records: dict[str, dict[str, Any]] = storage.load_all("jobs")
        self._active = {k for k, r in self._records.items() if r["job"]["status"] not in TERMINAL}
        self._next_seq = 1 + max((r["state"]["seq"] for r in self._records.values()), default=0)

    # --- creating ---------------------------------------------------------------------------
    def create(self, body: Any) -> dict[str, Any]:
        """`POST /fine-tunes`: the request is checked now, the data at the end of `pending`."""
        plan = self._plan(body)
        now = self._clock.now()
        job_id = f"ft-{uuid.uuid4()}"
        base: BaseModel = plan["base"]
        suffix = plan["suffix"]
        output = f"{ACCOUNT}/{base.name.rpartition('/')[2]}-{suffix + '-' if suffix else ''}"
        output += uuid.uuid4().hex[:8]
        verdict = self._verdict(job_id, plan)
        job: dict[str, Any] = {
            "id": job_id,
            "status": "pending",
            "created_at": iso(now),
            "updated_at": iso(now),
            "started_at": iso(now),
            "user_id": "user-local-stand-in",
            "owner_address": f"{ACCOUNT}@example.invalid",
            "total_price": 0,
            "token_count": 0,
            "events": [],
            "training_file": plan["training_file"],
            "validation_file": plan["validation_file"],
            "model": base.name,
            "model_output_name": output,
            "suffix": suffix,
            "n_epochs": plan["n_epochs"],
            "n_evals": plan["n_evals"],
            "n_checkpoints": plan["n_checkpoints"],
            "batch_size": plan["batch_size"],
            "learning_rate": plan["learning_rate"],
            "training_type": plan["training_type"],
            "training_method": plan["training_method"],
            "random_seed": plan["random_seed"],
            "from_checkpoint": plan["from_checkpoint"],
            "epochs_completed": 0,
            "steps_completed": 0,
            "total_steps": 0,
            "queue_depth": 0,
            "progress": {"estimate_available": False, "seconds_remaining": 0},
        }
        record = {
            "job": job,
            "state": {
                "seq": self._next_seq,
                "stage_started": now,
                "fault": self._faults.take_job_fault(),
                "verdict": verdict,
                "epochs_announced": 0,
            },
            "events": [],
        }
        self._next_seq += 1
        self._event(record, now, "job_pending", "Fine-tuning job created and pending")
        self._records[job_id] = record
        self._active.add(job_id)
        self._save(record)
        return _public(record, events=False)

    def estimate_price(self, body: Any) -> dict[str, Any]:
        """`POST /fine-tunes/estimate-price`: only for data that passes validation."""
        plan = self._plan(body)
        verdict = self._check_data(plan)
        if verdict["error"] is not None:
            raise invalid_request(
                f"Price estimation failed: the training data did not pass validation: "
                f"{verdict['error']}",
                param="training_file",
            )
        price = _price(plan, verdict)
        return {
            "estimated_total_price": price,
            "allowed_to_proceed": price <= self._credit_limit,
            "user_limit": self._credit_limit,
            "estimated_train_token_count": verdict["tokens"] * plan["n_epochs"],
            "estimated_eval_token_count": verdict["eval_tokens"] * plan["n_evals"],
        }

    # --- reading and cancelling ---------------------------------------------------------------
    def retrieve(self, job_id: str) -> dict[str, Any]:
        return _public(self._current(job_id), events=True)

    def list(self) -> dict[str, Any]:
        self.advance_all()
        rows = sorted(self._records.values(), key=lambda r: r["state"]["seq"], reverse=True)
        return {"object": "list", "data": [_public(r, events=False) for r in rows]}

    def events(self, job_id: str) -> dict[str, Any]:
        return {"object": "list", "data": [dict(e) for e in self._current(job_id)["events"]]}

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        record = self._current(job_id)
        job = record["job"]
        if job["status"] != "completed":
            return {"object": "list", "data": []}
        done = record["state"]["finished_at"]
        kinds = ["Final"] + (["Final Adapter"] if _is_lora(job) else [])
        return {
            "object": "list",
            "data": [
                {
                    "step": job["total_steps"],
                    "created_at": iso(done),
                    "path": f"s3://local-together/{job_id}/{kind.lower().replace(' ', '-')}",
                    "checkpoint_type": kind,
                }
                for kind in kinds
            ],
        }

    def cancel(self, job_id: str) -> dict[str, Any]:
        record = self._current(job_id)
        job = record["job"]
        if job["status"] in TERMINAL or job["status"] == "cancel_requested":
            raise invalid_request(
                f"Job {job_id} is {job['status']} and cannot be cancelled", param="id"
            )
        now = self._clock.now()
        job["status"] = "cancel_requested"
        record["state"]["stage_started"] = now
        self._event(record, now, "cancel_requested", "Cancel requested by the user")
        self._save(record)
        return _public(record, events=False)

    def job_for_download(self, job_id: str) -> tuple[dict[str, Any], BaseModel]:
        record = self._current(job_id)
        return dict(record["job"]), BASE_MODELS[record["job"]["model"]]

    def advance_all(self) -> None:
        for job_id in sorted(self._active):
            self._current(job_id)

    @property
    def has_active(self) -> bool:
        return bool(self._active)

    # --- the state machine --------------------------------------------------------------------
    def _current(self, job_id: str) -> dict[str, Any]:
        record = self._records.get(job_id)
        if record is None:
            raise not_found(f"Fine-tune job {job_id} not found", param="id")
        if record["job"]["status"] not in TERMINAL and self._advance(record, self._clock.now()):
            self._save(record)
        return record

    def _advance(self, record: dict[str, Any], now: float) -> bool:
        job, state = record["job"], record["state"]
        length = self._clock.stage_seconds
        changed = False
        while job["status"] not in TERMINAL:
            due = state["stage_started"] + length
            status = job["status"]
            if status == "running":
                changed |= self._train(record, now)
                if job["status"] == "running":
                    break
                continue
            if now < due:
                break
            if status == "cancel_requested":
                self._finish(record, due, "cancelled", "job_stopped", "Job cancelled")
            elif status == "pending":
                self._end_pending(record, due)
            else:
                self._end_stage(record, due, status)
            changed = True
        if job["status"] not in TERMINAL:
            remaining = max(0.0, state["stage_started"] + length - now)
            job["progress"] = {"estimate_available": True, "seconds_remaining": int(remaining)}
        return changed

    def _end_pending(self, record: dict[str, Any], at: float) -> None:
        job, verdict = record["job"], record["state"]["verdict"]
        if verdict["error"] is not None:
            self._finish(record, at, "error", "job_error", verdict["error"], level="error")
            return
        job["token_count"] = verdict["tokens"]
        job["total_price"] = round(_price(_plan_of(job), verdict) * 100)  # see the README note
        batch = job["batch_size"]
        job["total_steps"] = job["n_epochs"] * math.ceil(verdict["n_examples"] / batch)
        self._event(record, at, "training_data_download_complete", "Training data validated")
        self._move(record, at, "queued", "job_pending", "Job queued")

    def _end_stage(self, record: dict[str, Any], at: float, status: str) -> None:
        if status == "queued":
            self._move(record, at, "running", "training_start", "Training started")
        elif status == "compressing":
            self._event(record, at, "model_compression_complete", "Model compressed")
            self._move(record, at, "uploading", "model_uploading", "Uploading the model")
        else:  # uploading
            self._event(record, at, "model_upload_complete", "Model uploaded")
            self._complete(record, at)

    def _train(self, record: dict[str, Any], now: float) -> bool:
        """Progress a running job; True if anything changed."""
        job, state = record["job"], record["state"]
        length = self._clock.stage_seconds
        start = state["stage_started"]
        fraction = 1.0 if length == 0 else min(1.0, (now - start) / length)
        if state["fault"] is not None:
            fraction = min(fraction, FAULT_POINT)
        changed = False
        epochs = job["n_epochs"]
        while state["epochs_announced"] < math.floor(fraction * epochs + 1e-9):
            state["epochs_announced"] += 1
            done = state["epochs_announced"]
            at = start + length * done / epochs
            self._event(
                record,
                at,
                "epoch_complete",
                f"Epoch completed, at step {done * job['total_steps'] // epochs}",
                step=done,
            )
            changed = True
        job["epochs_completed"] = state["epochs_announced"]
        job["steps_completed"] = math.floor(fraction * job["total_steps"])
        if state["fault"] == "fail" and now >= start + FAULT_POINT * length:
            message = (
                "Fine-tuning job failed: the training process stopped unexpectedly (injected by "
                "the local stand-in)"
            )
            self._finish(
                record, start + FAULT_POINT * length, "error", "job_error", message, level="error"
            )
            return True
        if state["fault"] is None and fraction >= 1.0:
            at = start + length
            self._event(record, at, "checkpoint_save", "Checkpoint saved", step=job["total_steps"])
            self._event(record, at, "training_complete", "Training completed")
            self._move(record, at, "compressing", "model_compressing", "Compressing the model")
            return True
        return changed

    def _move(self, record: dict[str, Any], at: float, status: str, kind: str, text: str) -> None:
        record["job"]["status"] = status
        record["job"]["updated_at"] = record["job"]["started_at"] = iso(at)
        record["state"]["stage_started"] = at
        self._event(record, at, kind, text)

    def _complete(self, record: dict[str, Any], at: float) -> None:
        job = record["job"]
        self._models.register(
            name=job["model_output_name"], job_id=job["id"], base=job["model"], created=at
        )
        job["epochs_completed"] = job["n_epochs"]
        job["steps_completed"] = job["total_steps"]
        self._finish(
            record,
            at,
            "completed",
            "job_complete",
            f"Fine-tuning job completed: {job['model_output_name']}",
        )

    def _finish(
        self,
        record: dict[str, Any],
        at: float,
        status: str,
        kind: str,
        text: str,
        *,
        level: str = "info",
    ) -> None:
        job = record["job"]
        job["status"] = status
        job["updated_at"] = iso(at)
        job["progress"] = {"estimate_available": False, "seconds_remaining": 0}
        record["state"]["finished_at"] = at
        self._event(record, at, kind, text, level=level)
        self._active.discard(job["id"])
        if status != "completed":
            self._models.drop_examples(job["id"])

    # --- checks -------------------------------------------------------------------------------
    def _plan(self, body: Any) -> dict[str, Any]:
        """The job a request asks for, or the 400 Together answers."""
        if not isinstance(body, dict):
            raise invalid_request("The request body must be a JSON object.")
        for key in body:
            if key not in CREATE_PARAMS:
                raise invalid_request(f"Unknown parameter: {key}", param=key)
        training_file = body.get("training_file")
        if not isinstance(training_file, str) or not training_file:
            raise invalid_request("training_file is required", param="training_file")
        self._files.processed(training_file, "training_file")
        validation_file = body.get("validation_file") or None
        if validation_file is not None:
            self._files.processed(validation_file, "validation_file")
        model, checkpoint = body.get("model"), body.get("from_checkpoint")
        if model and checkpoint:
            raise invalid_request(
                "You must specify either a model or a checkpoint to start a job from, not both",
                param="from_checkpoint",
            )
        parent = self._checkpoint_job(checkpoint) if checkpoint else None
        name = parent["model"] if parent else model
        if not name:
            raise invalid_request("model is required", param="model")
        base = BASE_MODELS.get(name)
        if base is None:
            raise invalid_request(
                f"Model {name} is not supported for fine-tuning. See "
                "GET /fine-tunes/models/supported for the list.",
                param="model",
            )
        n_epochs = _integer(body, "n_epochs", 1, 1, base.max_num_epochs)
        n_evals = _integer(body, "n_evals", 0, 0, 100)
        if n_evals and not validation_file:
            raise invalid_request("n_evals needs a validation_file", param="n_evals")
        training_type = _training_type(body.get("training_type"), base)
        method = _training_method(body.get("training_method"))
        rate = body.get("learning_rate", 1e-5)
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise invalid_request("learning_rate must be a number", param="learning_rate")
        if not base.min_learning_rate <= rate <= base.max_learning_rate:
            raise invalid_request(
                f"learning_rate {rate} is outside [{base.min_learning_rate}, "
                f"{base.max_learning_rate}] for {base.name}",
                param="learning_rate",
            )
        suffix = body.get("suffix") or ""
        if not isinstance(suffix, str) or len(suffix) > MAX_SUFFIX:
            raise invalid_request(
                f"suffix must be a string of at most {MAX_SUFFIX} characters", param="suffix"
            )
        dpo = method["method"] == "dpo"
        batch = body.get("batch_size", "max")
        largest = base.max_batch_size // 2 if dpo else base.max_batch_size
        if batch == "max":
            batch = largest
        elif (
            isinstance(batch, bool)
            or not isinstance(batch, int)
            or not (base.min_batch_size <= batch <= largest)
        ):
            raise invalid_request(
                f"batch_size must be 'max' or an integer in [{base.min_batch_size}, {largest}]",
                param="batch_size",
            )
        seed = body.get("random_seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise invalid_request("random_seed must be an integer", param="random_seed")
        return {
            "base": base,
            "parent": parent,
            "training_file": training_file,
            "validation_file": validation_file,
            "from_checkpoint": checkpoint,
            "n_epochs": n_epochs,
            "n_evals": n_evals,
            "n_checkpoints": _integer(body, "n_checkpoints", 1, 1, n_epochs),
            "batch_size": batch,
            "learning_rate": float(rate),
            "training_type": training_type,
            "training_method": method,
            "suffix": suffix,
            "random_seed": seed,
        }

    def _checkpoint_job(self, checkpoint: Any) -> dict[str, Any]:
        """The completed job `from_checkpoint` names: `{job id | output name}[:{step}]`."""
        if not isinstance(checkpoint, str):
            raise invalid_request("from_checkpoint must be a string", param="from_checkpoint")
        wanted = (
            checkpoint.rsplit(":", 1)[0]
            if checkpoint.rsplit(":", 1)[-1].isdigit()
            else (checkpoint)
        )
        for record in self._records.values():
            job = record["job"]
            if wanted in (job["id"], job["model_output_name"]):
                if job["status"] != "completed":
                    raise invalid_request(
                        f"Checkpoint {checkpoint} is not available: job {job['id']} is "
                        f"{job['status']}",
                        param="from_checkpoint",
                    )
                return job
        raise invalid_request(f"Checkpoint {checkpoint} not found", param="from_checkpoint")

    def _check_data(self, plan: Mapping[str, Any]) -> dict[str, Any]:
        method = "dpo" if plan["training_method"]["method"] == "dpo" else "supervised"
        try:
            data = validate_training_file(
                self._files.content(plan["training_file"]),
                file_id=plan["training_file"],
                method=method,
                encoding=ENCODING,
                min_examples=1,
            )
            eval_tokens = 0
            if plan["validation_file"]:
                eval_tokens = validate_training_file(
                    self._files.content(plan["validation_file"]),
                    file_id=plan["validation_file"],
                    method=method,
                    encoding=ENCODING,
                    param="validation_file",
                ).tokens
        except TrainingFileError as error:
            text = error.message.split(" file. ", 1)[-1]  # without OpenAI's "The job failed..."
            return {"error": f"Data validation failed ({error.param}): {text}"}
        return {
            "error": None,
            "n_examples": data.n_examples,
            "tokens": data.tokens,
            "eval_tokens": eval_tokens,
            "examples": [e.to_json() for e in data.examples],
        }

    def _verdict(self, job_id: str, plan: Mapping[str, Any]) -> dict[str, Any]:
        verdict = self._check_data(plan)
        if verdict["error"] is None:
            parent = plan["parent"]
            inherited = self._models.examples_of_job(parent["id"]) if parent else []
            taught = [Example.from_json(row) for row in verdict.pop("examples")]
            self._models.save_examples(job_id, [*inherited, *taught])
        return verdict

    # --- helpers ------------------------------------------------------------------------------
    def _event(
        self,
        record: dict[str, Any],
        at: float,
        kind: str,
        message: str,
        *,
        level: str = "info",
        step: int = 0,
    ) -> None:
        job = record["job"]
        record["events"].append(
            {
                "object": "fine-tune-event",
                "created_at": iso(at),
                "level": level,
                "message": message,
                "type": kind,
                "param_count": 0,
                "token_count": job.get("token_count", 0),
                "total_steps": job.get("total_steps", 0),
                "wandb_url": "",
                "step": step,
                "checkpoint_path": "",
                "model_path": "",
                "training_offset": 0,
                "hash": uuid.uuid4().hex[:16],
            }
        )

    def _save(self, record: dict[str, Any]) -> None:
        self._storage.save("jobs", record["job"]["id"], record)


def _public(record: Mapping[str, Any], *, events: bool) -> dict[str, Any]:
    job = dict(record["job"])
    job["events"] = [dict(e) for e in record["events"]] if events else []
    return job


def _is_lora(job: Mapping[str, Any]) -> bool:
    return (job.get("training_type") or {}).get("type") == "Lora"


def _plan_of(job: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "base": BASE_MODELS[job["model"]],
        "n_epochs": job["n_epochs"],
        "n_evals": job["n_evals"],
        "training_type": job["training_type"],
        "training_method": job["training_method"],
    }


def _price(plan: Mapping[str, Any], verdict: Mapping[str, Any]) -> float:
    """Together's formula: (n_epochs x training tokens + n_evals x validation tokens) x rate."""
    base: BaseModel = plan["base"]
    kind = "lora" if plan["training_type"]["type"] == "Lora" else "full"
    rate = base.rate(plan["training_method"]["method"], kind)
    tokens = plan["n_epochs"] * verdict["tokens"] + plan["n_evals"] * verdict["eval_tokens"]
    return round(tokens * rate / 1_000_000, 6)


def _integer(body: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid_request(f"{name} must be an integer in [{low}, {high}]", param=name)
    return value


def _training_type(value: Any, base: BaseModel) -> dict[str, Any]:
    """LoRA unless told otherwise (Together's default when `training_type` is omitted)."""
    if value is None:
        value = {"type": "Lora", "lora_r": 8, "lora_alpha": 16}
    if not isinstance(value, dict) or value.get("type") not in ("Lora", "Full"):
        raise invalid_request("training_type.type must be 'Lora' or 'Full'", param="training_type")
    if value["type"] == "Full":
        return {"type": "Full"}
    rank = value.get("lora_r")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= base.max_rank:
        raise invalid_request(
            f"lora_r must be an integer in [1, {base.max_rank}] for {base.name}",
            param="training_type.lora_r",
        )
    alpha = value.get("lora_alpha")
    if isinstance(alpha, bool) or not isinstance(alpha, int) or alpha < 1:
        raise invalid_request(
            "lora_alpha must be a positive integer", param="training_type.lora_alpha"
        )
    dropout = value.get("lora_dropout", 0.0)
    if not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise invalid_request("lora_dropout must be in [0, 1)", param="training_type.lora_dropout")
    return {
        "type": "Lora",
        "lora_r": rank,
        "lora_alpha": alpha,
        "lora_dropout": float(dropout),
        "lora_trainable_modules": str(value.get("lora_trainable_modules") or "all-linear"),
    }


def _training_method(value: Any) -> dict[str, Any]:
    if value is None:
        return {"method": "sft", "train_on_inputs": "auto"}
    if not isinstance(value, dict) or value.get("method") not in ("sft", "dpo"):
        raise invalid_request(
            "training_method.method must be 'sft' or 'dpo'", param="training_method"
        )
    if value["method"] == "sft":
        return {"method": "sft", "train_on_inputs": value.get("train_on_inputs", "auto")}
    beta = value.get("dpo_beta", 0.1)
    if not isinstance(beta, int | float) or beta <= 0:
        raise invalid_request(
            "dpo_beta must be a positive number", param="training_method.dpo_beta"
        )
    return {"method": "dpo", "dpo_beta": float(beta)}
