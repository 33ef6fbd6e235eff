"""Fine-tuning jobs: OpenAI's statuses, events and checkpoints, driven lazily by the clock.

A job moves through `validating_files -> queued -> running -> succeeded | failed | cancelled`,
one clock stage per step. Nothing runs in the background: whenever a job is read (retrieved,
listed, its events or checkpoints asked for, or a model looked up) it is brought up to date
with everything that became due since, each event stamped with the moment it was due. So a
test with a manual clock sees each state in turn, and a restarted stand-in carries on where
the clock says the job should be.

The training file is checked when the job is created (OpenAI's checks, see
`training_validation`), but the verdict is revealed only at the end of `validating_files`, as
OpenAI reports it: asynchronously, as a failed job with `error.code`.

The spec's `FineTuningJob.status` has no `paused` value (OpenAI's own example shows one), so a
paused job keeps reporting `running`, with its progress frozen, `estimated_finish` null and a
"Fine-tuning job paused" event; `resume` puts it back to `queued`, as OpenAI's example shows.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from tuneloop.local_openai.catalog import ORGANIZATION, ORGANIZATION_ID, BaseModel, resolve_base
from tuneloop.local_openai.clock import Clock
from tuneloop.local_openai.errors import (
    ApiError,
    invalid_request,
    invalid_type,
    missing_parameter,
    not_found,
    unrecognized_argument,
)
from tuneloop.local_openai.faults import Faults
from tuneloop.local_openai.files import FileService
from tuneloop.local_openai.ids import new_id, random_token
from tuneloop.local_openai.metrics import results_csv, sampled_steps, step_metrics
from tuneloop.local_openai.model_registry import ModelRegistry
from tuneloop.local_openai.pagination import cursor_page, parse_limit
from tuneloop.local_openai.storage import Storage
from tuneloop.local_openai.training_validation import TrainingFileError, validate_training_file

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
CREATE_PARAMS = frozenset(
    {
        "model",
        "training_file",
        "validation_file",
        "hyperparameters",
        "method",
        "suffix",
        "seed",
        "metadata",
        "integrations",
    }
)
#: Metrics events per job (OpenAI sends one per step; a handful is enough to plot).
METRIC_EVENTS = 10
#: OpenAI keeps checkpoints of the last three epochs.
KEPT_CHECKPOINTS = 3
#: What `auto` hyperparameters resolve to once the files are validated.
AUTO_EPOCHS = 3
AUTO_LEARNING_RATE = 1.8
AUTO_BETA = 0.1
#: Where a faulty job fails or stalls, as a fraction of its running stage.
FAULT_POINT = 0.5

_SUFFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class JobService:
    """Jobs on disk, advanced on read."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        files: FileService,
        models: ModelRegistry,
        faults: Faults,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._files = files
        self._models = models
        self._faults = faults
        self._records: dict[str, dict[str, Any]] = storage.load_all("jobs")
        self._active = {
            job_id for job_id, r in self._records.items() if r["job"]["status"] not in TERMINAL
        }
        self._next_seq = 1 + max((r["state"]["seq"] for r in self._records.values()), default=0)

    # --- creating ---------------------------------------------------------------------------
    def create(self, body: Any) -> dict[str, Any]:
        """`POST /fine_tuning/jobs`: checks the request now, the file contents asynchronously."""
        if not isinstance(body, dict):
            raise invalid_request("The request body must be a JSON object.")
        forbidden = self._faults.job_creation_error()
        if forbidden is not None:
            raise forbidden
        for key in body:
            if key not in CREATE_PARAMS:
                raise unrecognized_argument(key)
        model = _required_string(body, "model")
        training_file = _required_string(body, "training_file")
        validation_file = body.get("validation_file")
        if validation_file is not None and not isinstance(validation_file, str):
            raise invalid_type("validation_file", "a string")
        base, parent = self._training_model(model)
        self._check_file(training_file, "training_file")
        if validation_file:
            self._check_file(validation_file, "validation_file")
        suffix = _suffix(body.get("suffix"))
        seed = _seed(body.get("seed"))
        metadata = _metadata(body.get("metadata"))
        method_type, hyperparameters = _method(body.get("method"), body.get("hyperparameters"))
        integrations = body.get("integrations")
        if integrations is not None and not isinstance(integrations, list):
            raise invalid_type("integrations", "an array")

        now = self._clock.now()
        job_id = new_id("ftjob-")
        if seed is None:
            seed = int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:4], "big") >> 1
        validation = self._validate_contents(
            job_id, training_file, validation_file or None, method_type, base, parent
        )
        job: dict[str, Any] = {
            "object": "fine_tuning.job",
            "id": job_id,
            "created_at": int(now),
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": _legacy_view(hyperparameters),
            "model": parent or base.id,
            "organization_id": ORGANIZATION_ID,
            "result_files": [],
            "seed": seed,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": training_file,
            "validation_file": validation_file or None,
            "integrations": integrations or None,
            "estimated_finish": None,
            "method": {"type": method_type, method_type: {"hyperparameters": hyperparameters}},
            "metadata": metadata,
        }
        state: dict[str, Any] = {
            "seq": self._next_seq,
            "stage_started": now,
            "run_done": 0.0,
            "paused": False,
            "fault": self._faults.take_job_fault(),
            "validation": validation,
            "base": base.id,
            "parent": parent,
            "model_name": f"ft:{base.id}:{ORGANIZATION}:{suffix}:{random_token(8)}",
            "total_steps": 0,
            "n_epochs": 0,
            "milestones_done": 0,
        }
        self._next_seq += 1
        record = {"job": job, "state": state, "events": [], "checkpoints": []}
        self._event(record, now, f"Created fine-tuning job: {job_id}")
        files_text = f"Validating training file: {training_file}"
        if validation_file:
            files_text += f" and validation file: {validation_file}"
        self._event(record, now, files_text)
        self._records[job_id] = record
        self._active.add(job_id)
        self._save(record)
        return _public(record)

    # --- reading ----------------------------------------------------------------------------
    def retrieve(self, job_id: str) -> dict[str, Any]:
        return _public(self._current(job_id))

    def list(
        self, *, after: str | None, limit: str | None, metadata: Mapping[str, str] | None
    ) -> dict[str, Any]:
        """Newest first. `metadata` filters on key/value pairs; `{}` means "no metadata"."""
        size = parse_limit(limit, default=20, maximum=100)
        self.advance_all()
        rows = sorted(self._records.values(), key=lambda r: r["state"]["seq"], reverse=True)
        if metadata is not None:
            rows = [r for r in rows if _metadata_matches(r["job"].get("metadata"), metadata)]
        page, has_more = cursor_page([_public(r) for r in rows], after=after, limit=size)
        return {"object": "list", "data": page, "has_more": has_more}

    def events(self, job_id: str, *, after: str | None, limit: str | None) -> dict[str, Any]:
        """Newest first, as OpenAI lists them."""
        size = parse_limit(limit, default=20, maximum=10_000)
        record = self._current(job_id)
        newest_first = [dict(e) for e in reversed(record["events"])]
        page, has_more = cursor_page(newest_first, after=after, limit=size)
        return {"object": "list", "data": page, "has_more": has_more}

    def checkpoints(self, job_id: str, *, after: str | None, limit: str | None) -> dict[str, Any]:
        size = parse_limit(limit, default=10, maximum=100)
        record = self._current(job_id)
        newest_first = [dict(c) for c in reversed(record["checkpoints"])]
        page, has_more = cursor_page(newest_first, after=after, limit=size)
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": has_more,
        }

    # --- controlling ------------------------------------------------------------------------
    def cancel(self, job_id: str) -> dict[str, Any]:
        record = self._current(job_id)
        job = record["job"]
        if job["status"] in TERMINAL:
            raise invalid_request(
                f"Job {job_id} has already {_past(job['status'])} and cannot be cancelled."
            )
        job["status"] = "cancelled"
        job["estimated_finish"] = None
        self._event(record, self._clock.now(), "Fine-tuning job cancelled")
        self._active.discard(job_id)
        self._models.drop_examples(job_id)
        self._save(record)
        return _public(record)

    def pause(self, job_id: str) -> dict[str, Any]:
        record = self._current(job_id)
        job, state = record["job"], record["state"]
        if job["status"] != "running" or state["paused"]:
            shown = "paused" if state["paused"] else job["status"]
            raise invalid_request(
                f"Job {job_id} cannot be paused: its status is {shown}; only running jobs "
                "can be paused."
            )
        now = self._clock.now()
        state["run_done"] += now - state["stage_started"]
        state["paused"] = True
        job["estimated_finish"] = None
        self._event(record, now, "Fine-tuning job paused")
        self._save(record)
        return _public(record)

    def resume(self, job_id: str) -> dict[str, Any]:
        record = self._current(job_id)
        job, state = record["job"], record["state"]
        if not state["paused"] or job["status"] in TERMINAL:
            raise invalid_request(f"Job {job_id} is not paused, so it cannot be resumed.")
        now = self._clock.now()
        state["paused"] = False
        state["stage_started"] = now
        job["status"] = "queued"
        self._event(record, now, "Fine-tuning job resumed")
        self._save(record)
        return _public(record)

    def advance_all(self) -> None:
        """Bring every unfinished job up to date (before models are listed or looked up)."""
        for job_id in sorted(self._active):
            self._current(job_id)

    @property
    def has_active(self) -> bool:
        return bool(self._active)

    # --- the state machine ------------------------------------------------------------------
    def _current(self, job_id: str) -> dict[str, Any]:
        record = self._records.get(job_id)
        if record is None:
            raise not_found(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id")
        if record["job"]["status"] not in TERMINAL and self._advance(record, self._clock.now()):
            self._save(record)
        return record

    def _advance(self, record: dict[str, Any], now: float) -> bool:
        """Apply every transition due by `now`; True if anything changed."""
        job, state = record["job"], record["state"]
        stage = self._clock.stage_seconds
        changed = False
        while job["status"] not in TERMINAL and not state["paused"]:
            status = job["status"]
            due = state["stage_started"] + stage
            if status == "validating_files":
                if now < due:
                    break
                self._end_validation(record, due)
            elif status == "queued":
                if now < due:
                    break
                self._start_running(record, due)
            else:  # running
                if not self._train(record, now):
                    break
            changed = True
        return changed

    def _end_validation(self, record: dict[str, Any], at: float) -> None:
        job, state = record["job"], record["state"]
        verdict = state["validation"]
        if verdict["error"] is not None:
            job["status"] = "failed"
            job["error"] = verdict["error"]
            self._event(record, at, verdict["error"]["message"], level="error")
            self._active.discard(job["id"])
            return
        method_type = job["method"]["type"]
        hyperparameters = _resolved(job["method"][method_type]["hyperparameters"], verdict)
        job["method"][method_type]["hyperparameters"] = hyperparameters
        job["hyperparameters"] = _legacy_view(hyperparameters)
        state["n_epochs"] = hyperparameters["n_epochs"]
        state["total_steps"] = hyperparameters["n_epochs"] * math.ceil(
            verdict["n_examples"] / hyperparameters["batch_size"]
        )
        job["status"] = "queued"
        state["stage_started"] = at
        self._event(record, at, "Files validated, moving job to queued state")

    def _start_running(self, record: dict[str, Any], at: float) -> None:
        job, state = record["job"], record["state"]
        job["status"] = "running"
        state["stage_started"] = at
        if state["fault"] is None:
            remaining = self._clock.stage_seconds - state["run_done"]
            job["estimated_finish"] = math.ceil(at + remaining)
        self._event(record, at, "Fine-tuning job started")

    def _train(self, record: dict[str, Any], now: float) -> bool:
        """Progress a running job; True if it changed status (so the caller loops again)."""
        state = record["state"]
        length = self._clock.stage_seconds
        progress = state["run_done"] + (now - state["stage_started"])

        def moment(fraction: float) -> float:
            return max(
                state["stage_started"],
                state["stage_started"] + fraction * length - state["run_done"],
            )

        milestones = self._milestones(state)
        while state["milestones_done"] < len(milestones):
            fraction, kind, step = milestones[state["milestones_done"]]
            if fraction * length > progress:
                break
            if kind == "metrics":
                self._metrics_event(record, moment(fraction), step)
            else:
                self._checkpoint(record, moment(fraction), step)
            state["milestones_done"] += 1
        fault = state["fault"]
        if fault == "stall":
            return False
        if fault == "fail":
            if progress < FAULT_POINT * length:
                return False
            self._fail_internally(record, moment(FAULT_POINT))
            return True
        if progress < length:
            return False
        self._succeed(record, moment(1.0))
        return True

    def _milestones(self, state: Mapping[str, Any]) -> list[tuple[float, str, int]]:
        """Metrics events and end-of-epoch checkpoints, as fractions of the running stage."""
        total, epochs = state["total_steps"], state["n_epochs"]
        items = [(step / total, "metrics", step) for step in sampled_steps(total, METRIC_EVENTS)]
        per_epoch = total // epochs
        for epoch in range(max(1, epochs - KEPT_CHECKPOINTS + 1), epochs + 1):
            items.append((epoch / epochs, "checkpoint", epoch * per_epoch))
        items.sort(key=lambda item: (item[0], item[1] == "checkpoint"))
        if state["fault"] is not None:
            items = [item for item in items if item[0] < FAULT_POINT]
        return items

    def _metrics_event(self, record: dict[str, Any], at: float, step: int) -> None:
        job, state = record["job"], record["state"]
        total = state["total_steps"]
        metrics = step_metrics(job["seed"], step, total, bool(job["validation_file"]))
        text = f"Step {step}/{total}: training loss={metrics['train_loss']:.2f}"
        if "valid_loss" in metrics:
            text += f", validation loss={metrics['valid_loss']:.2f}"
        self._event(record, at, text, kind="metrics", data={**metrics, "total_steps": total})

    def _checkpoint(self, record: dict[str, Any], at: float, step: int) -> None:
        job, state = record["job"], record["state"]
        metrics = step_metrics(
            job["seed"], step, state["total_steps"], bool(job["validation_file"])
        )
        if "valid_loss" in metrics:
            metrics["full_valid_loss"] = metrics["valid_loss"]
            metrics["full_valid_mean_token_accuracy"] = metrics["valid_mean_token_accuracy"]
        record["checkpoints"].append(
            {
                "object": "fine_tuning.job.checkpoint",
                "id": new_id("ftckpt_"),
                "created_at": int(at),
                "fine_tuned_model_checkpoint": f"{state['model_name']}:ckpt-step-{step}",
                "step_number": step,
                "metrics": metrics,
                "fine_tuning_job_id": job["id"],
            }
        )
        self._event(record, at, f"Checkpoint created at step {step}")

    def _fail_internally(self, record: dict[str, Any], at: float) -> None:
        job = record["job"]
        job["status"] = "failed"
        job["estimated_finish"] = None
        job["error"] = {
            "code": "internal_error",
            "message": "The job failed due to an internal error (injected by the local stand-in).",
            "param": None,
        }
        self._event(record, at, job["error"]["message"], level="error")
        self._active.discard(job["id"])
        self._models.drop_examples(job["id"])

    def _succeed(self, record: dict[str, Any], at: float) -> None:
        job, state = record["job"], record["state"]
        base = resolve_base(state["base"])
        assert base is not None, "a job's base model is always a catalogue model"
        model_id = state["model_name"]
        results = self._files.write_result(
            "step_metrics.csv",
            results_csv(job["seed"], state["total_steps"], bool(job["validation_file"])),
        )
        self._models.register(
            model_id=model_id, job_id=job["id"], base=base, parent=state["parent"], created=at
        )
        job.update(
            status="succeeded",
            fine_tuned_model=model_id,
            finished_at=int(at),
            trained_tokens=state["validation"]["tokens"] * state["n_epochs"],
            result_files=[results["id"]],
            estimated_finish=None,
        )
        self._event(record, at, f"New fine-tuned model created: {model_id}")
        self._event(record, at, "The job has successfully completed")
        self._active.discard(job["id"])

    # --- helpers ----------------------------------------------------------------------------
    def _training_model(self, model: str) -> tuple[BaseModel, str | None]:
        """The base model, and the parent `ft:` model when continuing a fine-tune."""
        base = resolve_base(model)
        if base is not None and base.fine_tunable:
            return base, None
        record = self._models.fine_tuned(model)
        if record is not None:
            parent_base = resolve_base(record["base"])
            if parent_base is not None:
                return parent_base, model
        raise invalid_request(
            f"Model {model} is not available for fine-tuning or does not exist.",
            param="model",
            code="model_not_available",
        )

    def _check_file(self, file_id: str, param: str) -> None:
        try:
            found = self._files.retrieve(file_id)
        except ApiError:
            raise invalid_request(f"invalid {param}: {file_id}", param=param) from None
        if found["purpose"] != "fine-tune":
            raise invalid_request(
                f"File {file_id} has purpose '{found['purpose']}'; files for fine-tuning must be "
                "uploaded with purpose 'fine-tune'.",
                param=param,
            )
        if found["status"] != "processed":
            raise invalid_request(
                f"File {file_id} is still being processed and is not ready for fine-tuning; "
                "wait until its status is 'processed'.",
                param=param,
                code="file_not_ready",
            )

    def _validate_contents(
        self,
        job_id: str,
        training_file: str,
        validation_file: str | None,
        method_type: str,
        base: BaseModel,
        parent: str | None,
    ) -> dict[str, Any]:
        """OpenAI's checks, run now; the verdict is revealed when validation is due."""
        method = "dpo" if method_type == "dpo" else "supervised"
        try:
            data = validate_training_file(
                self._files.content(training_file),
                file_id=training_file,
                method=method,
                encoding=base.encoding,
            )
            if validation_file:
                validate_training_file(
                    self._files.content(validation_file),
                    file_id=validation_file,
                    method=method,
                    encoding=base.encoding,
                    param="validation_file",
                )
        except TrainingFileError as error:
            return {"error": error.as_job_error()}
        inherited = self._models.examples_of(parent) if parent else []
        self._models.save_examples(job_id, [*inherited, *data.examples])
        return {"error": None, "n_examples": data.n_examples, "tokens": data.tokens}

    def _event(
        self,
        record: dict[str, Any],
        at: float,
        message: str,
        *,
        level: str = "info",
        kind: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        record["events"].append(
            {
                "object": "fine_tuning.job.event",
                "id": new_id("ftevent-"),
                "created_at": int(at),
                "level": level,
                "message": message,
                "type": kind,
                "data": data or {},
            }
        )

    def _save(self, record: dict[str, Any]) -> None:
        self._storage.save("jobs", record["job"]["id"], record)


# --- request checks -------------------------------------------------------------------------
def _public(record: Mapping[str, Any]) -> dict[str, Any]:
    return dict(record["job"])


def _past(status: str) -> str:
    return {"succeeded": "succeeded", "failed": "failed", "cancelled": "been cancelled"}[status]


def _required_string(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise missing_parameter(name)
    if not isinstance(value, str):
        raise invalid_type(name, "a string")
    return value


def _suffix(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid_type("suffix", "a string")
    if not 1 <= len(value) <= 64:
        raise invalid_request(
            "Invalid 'suffix': it must be between 1 and 64 characters long.",
            param="suffix",
            code="invalid_value",
        )
    if not set(value) <= _SUFFIX_CHARS:
        raise invalid_request(
            "Invalid 'suffix': use only letters, digits, '-', '_' and '.'.",
            param="suffix",
            code="invalid_value",
        )
    return value


def _seed(value: Any) -> int | None:
    if value is None:
        return None
    _number(value, "seed", integer=True, minimum=0, maximum=2_147_483_647)
    return int(value)


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type("metadata", "an object")
    if len(value) > 16:
        raise invalid_request(
            "Invalid 'metadata': too many properties. Expected at most 16 properties, but got "
            f"{len(value)} instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, item in value.items():
        if len(key) > 64:
            raise invalid_request(
                "Invalid 'metadata': keys may have at most 64 characters.",
                param="metadata",
                code="invalid_value",
            )
        if not isinstance(item, str) or len(item) > 512:
            raise invalid_request(
                f"Invalid 'metadata.{key}': values must be strings of at most 512 characters.",
                param=f"metadata.{key}",
                code="invalid_value",
            )
    return dict(value)


def _metadata_matches(metadata: Mapping[str, str] | None, wanted: Mapping[str, str]) -> bool:
    if not wanted:
        return not metadata
    return metadata is not None and all(metadata.get(k) == v for k, v in wanted.items())


def _method(method: Any, legacy: Any) -> tuple[str, dict[str, Any]]:
    """The method type and its hyperparameters (`auto` until validated)."""
    if method is None:
        return "supervised", _hyperparameters(legacy, dpo=False, path="hyperparameters")
    if not isinstance(method, dict):
        raise invalid_type("method", "an object")
    method_type = method.get("type")
    if method_type is None:
        raise missing_parameter("method.type")
    if method_type == "reinforcement":
        raise invalid_request(
            "The local stand-in does not support reinforcement fine-tuning; use 'supervised' "
            "or 'dpo'.",
            param="method.type",
            code="invalid_value",
        )
    if method_type not in ("supervised", "dpo"):
        raise invalid_request(
            f"Invalid value for 'method.type': {method_type!r}. Supported values are: "
            "'supervised', 'dpo' and 'reinforcement'.",
            param="method.type",
            code="invalid_value",
        )
    settings = method.get(method_type) or {}
    if not isinstance(settings, dict):
        raise invalid_type(f"method.{method_type}", "an object")
    raw = settings.get("hyperparameters", legacy)
    path = f"method.{method_type}.hyperparameters"
    return method_type, _hyperparameters(raw, dpo=method_type == "dpo", path=path)


def _hyperparameters(raw: Any, *, dpo: bool, path: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid_type(path, "an object")
    limits: dict[str, tuple[bool, float, float | None]] = {
        "batch_size": (True, 1, 256),
        "learning_rate_multiplier": (False, 0, None),
        "n_epochs": (True, 1, 50),
    }
    if dpo:
        limits["beta"] = (False, 0, 2)
    checked: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in limits:
            raise unrecognized_argument(f"{path}.{key}")
        if value is None or value == "auto":
            checked[key] = "auto"
            continue
        integer, minimum, maximum = limits[key]
        exclusive = key in ("learning_rate_multiplier", "beta")
        _number(
            value,
            f"{path}.{key}",
            integer=integer,
            minimum=minimum,
            maximum=maximum,
            exclusive_minimum=exclusive,
        )
        checked[key] = value
    return {key: checked.get(key, "auto") for key in limits}


def _number(
    value: Any,
    name: str,
    *,
    integer: bool,
    minimum: float,
    maximum: float | None,
    exclusive_minimum: bool = False,
) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type:
        raise invalid_type(name, "an integer" if integer else "a number")
    if value < minimum or (exclusive_minimum and value == minimum):
        bound = f"> {minimum}" if exclusive_minimum else f">= {minimum}"
        raise invalid_request(
            f"Invalid '{name}': {'integer' if integer else 'number'} below minimum value. "
            f"Expected a value {bound}, but got {value} instead.",
            param=name,
            code="integer_below_min_value" if integer else "decimal_below_min_value",
        )
    if maximum is not None and value > maximum:
        raise invalid_request(
            f"Invalid '{name}': {'integer' if integer else 'number'} above maximum value. "
            f"Expected a value <= {maximum}, but got {value} instead.",
            param=name,
            code="integer_above_max_value" if integer else "decimal_above_max_value",
        )


def _resolved(hyperparameters: Mapping[str, Any], verdict: Mapping[str, Any]) -> dict[str, Any]:
    """`auto` replaced by the values the job will use, as OpenAI reports them once validated."""
    n_examples = int(verdict["n_examples"])
    auto = {
        "batch_size": max(1, min(256, n_examples // 100)),
        "learning_rate_multiplier": AUTO_LEARNING_RATE,
        "n_epochs": AUTO_EPOCHS,
        "beta": AUTO_BETA,
    }
    return {k: (auto[k] if v == "auto" else v) for k, v in hyperparameters.items()}


def _legacy_view(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level `hyperparameters` (deprecated, still required): no `beta`."""
    return {k: hyperparameters[k] for k in ("batch_size", "learning_rate_multiplier", "n_epochs")}
