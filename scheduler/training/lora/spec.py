"""The job spec: what a LoRA training job is asked to do, as `spec.json` in its job folder.

The scheduler writes it; the worker (possibly on another machine, or a newer or older tuneloop)
reads it. `format_version` says which fields to expect: a reader refuses a spec written by a
newer version instead of guessing what its new fields mean.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from scheduler.training.protocol import TrainingMethod

#: Bump when a field is added, removed or changes meaning.
FORMAT_VERSION = 1

#: How the scheduler starts the worker: itself (`python -m ...` or `accelerate launch`), or not
#: at all ("external": a Kubernetes Job or another runner does, on shared storage).
Launcher = Literal["python", "accelerate", "external"]


class SpecError(ValueError):
    """A spec.json this version cannot use. `code` is the failure's name in job reports."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class JobSpec:
    """Everything the worker needs, in TRL/PEFT terms.

    Paths are absolute. `base_model` is the base's *serving* name (vLLM's `--served-model-name`),
    written into the adapter's `base_model_name_or_path`; `base_model_path` is its local HF folder.
    `init_adapter_path` is set for incremental training: the worker continues that adapter.
    `max_steps` caps optimizer steps (None: `n_epochs` decides), for smoke runs and benchmarks.
    """

    job_id: str
    dataset_version_id: int
    method: TrainingMethod
    base_model: str
    base_model_path: str
    adapter_name: str
    adapter_store: str
    n_epochs: int
    learning_rate: float
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    #: PEFT's `target_modules`: module names, or "all-linear".
    target_modules: list[str] | str
    max_seq_length: int
    seed: int
    batch_size: int
    gradient_accumulation_steps: int = 1
    save_steps: int = 50
    eval_steps: int | None = None
    max_steps: int | None = None
    #: DPO's beta (OpenAI's `beta` hyperparameter; TRL's `DPOConfig.beta`).
    dpo_beta: float = 0.1
    gradient_checkpointing: bool = False
    init_adapter: str | None = None
    init_adapter_path: str | None = None
    launcher: Launcher = "python"
    accelerate_args: list[str] = field(default_factory=list)
    train_file: str = "train.jsonl"
    eval_file: str | None = None
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: str = "spec.json") -> JobSpec:
        """Parse a spec; raises `SpecError` naming `where` for a newer format_version
        (`unsupported_format_version`) or a malformed file (`invalid_job_spec`)."""
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError("invalid_job_spec", f"{where} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise SpecError("invalid_job_spec", f"{where} must hold a JSON object")
        version = data.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise SpecError("invalid_job_spec", f"{where} has no valid format_version")
        if version > FORMAT_VERSION:
            raise SpecError(
                "unsupported_format_version",
                f"{where} was written by a newer tuneloop (format_version {version}; this "
                f"version reads up to {FORMAT_VERSION}): run this job with that version, or "
                "upgrade tuneloop",
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError("invalid_job_spec", f"{where} has unknown fields {unknown}")
        try:
            return cls(**data)
        except TypeError as exc:  # a required field missing
            raise SpecError("invalid_job_spec", f"{where}: {exc}") from exc
