"""The LoRA backend's settings: base models, LoRA shape, optimisation, and how the worker runs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scheduler.training.lora.spec import Launcher

#: serving name -> local HF model folder; None for a name it does not know. It may raise for a
#: base it knows but cannot provide (say, a package not installed): the message is reported.
BaseModelResolver = Callable[[str], Path | None]


@dataclass(frozen=True)
class LoraTrainerConfig:
    """How the LoRA backend trains. Defaults suit a ~0.1-8B chat model.

    base_models: the base models by serving name (vLLM's `--served-model-name`): a mapping to
        their local HF folders, or a resolver (see `BaseModelResolver`).
    base_model: the serving name of the one base model the serving side runs (vLLM serves
        adapters of its `--model` only). When set, a request for another base, or to continue
        an adapter of another base, fails with `adapter_base_mismatch` / `model_not_found`.
    lora_r, lora_alpha, lora_dropout, target_modules: PEFT `LoraConfig`'s r, lora_alpha,
        lora_dropout and target_modules ("all-linear": every linear layer but the output head).
        An incremental job keeps the shape of the adapter it continues.
    learning_rate: the optimizer's peak rate for supervised jobs; a request's
        `learning_rate_multiplier` scales it.
    dpo_learning_rate: the same for DPO jobs (LoRA DPO recipes use 5e-6..5e-5; TRL's
        `DPOConfig` default 1e-6 is meant for full fine-tuning).
    n_epochs: epochs when the request names none.
    max_seq_length: tokens per example (TRL's `max_length`); longer examples are cut at the end.
    batch_size, gradient_accumulation_steps: per device; TRL's `per_device_train_batch_size` and
        `gradient_accumulation_steps`.
    save_steps: a checkpoint every N optimizer steps (a dead worker resumes from the last one).
    eval_steps: eval loss every N steps when there is an eval file (None: `save_steps`).
    max_steps: cap on optimizer steps (None: epochs decide), for smoke runs.
    dpo_beta: DPO's beta (TRL `DPOConfig.beta`, OpenAI's DPO `beta`).
    gradient_checkpointing: trade compute for memory (TRL turns it on by default; off here
        because small models on CPU train faster without it).
    launcher: "python" runs the worker as `python -m ...`; "accelerate" as
        `accelerate launch <accelerate_args> -m ...` (e.g. ["--num_processes", "4"]);
        "external" starts nothing: another runner (a Kubernetes Job) runs the worker on the
        folder, restarts it if it dies (the worker resumes from its checkpoints), and `poll`
        only reads the folder.
    max_resume_attempts: restarts of a worker that died before finishing, then the job fails.
    python_executable: the interpreter that has the `lora` extra (torch, transformers, trl,
        peft) installed.
    seed: the training seed when the request names none.
    worker_env: extra environment for the worker (e.g. CUDA_VISIBLE_DEVICES).
    log_tail_lines: lines of worker.log quoted when a worker died.
    """

    base_models: Mapping[str, Path] | BaseModelResolver
    base_model: str | None = None
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] | str = "all-linear"
    learning_rate: float = 2e-4
    dpo_learning_rate: float = 5e-6
    n_epochs: int = 3
    max_seq_length: int = 1024
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    save_steps: int = 50
    eval_steps: int | None = None
    max_steps: int | None = None
    dpo_beta: float = 0.1
    gradient_checkpointing: bool = False
    launcher: Launcher = "python"
    accelerate_args: tuple[str, ...] = ()
    max_resume_attempts: int = 2
    python_executable: str = sys.executable
    seed: int = 0
    worker_env: Mapping[str, str] = field(default_factory=dict)
    log_tail_lines: int = 20

    def resolve(self, name: str) -> Path | None:
        if callable(self.base_models):
            return self.base_models(name)
        path = self.base_models.get(name)
        return Path(path) if path is not None else None

    def known_bases(self) -> str:
        if callable(self.base_models):
            return "see the trainer's base model settings"
        return ", ".join(sorted(self.base_models)) or "none configured"
