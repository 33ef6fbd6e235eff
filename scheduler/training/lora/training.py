"""The training itself, inside the worker process: TRL's SFTTrainer or DPOTrainer with a PEFT
LoRA adapter, checkpoints in the job folder, metrics and events written as it goes.

Imported only by the worker (torch, transformers, trl and peft load here).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from peft import LoraConfig, PeftModel
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedTokenizerBase,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
    set_seed,
)
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from scheduler.training.lora.checkpoints import checkpoint_step, last_checkpoint
from scheduler.training.lora.data import SftExample, preference_rows, sft_dataset
from scheduler.training.lora.errors import JobFailure
from scheduler.training.lora.job_folder import JobFolder
from scheduler.training.lora.spec import JobSpec

#: Pause the worker after saving the checkpoint of this step (fault-injection drills: kill it
#: there and watch the scheduler resume it). Unset in normal use.
HOLD_AT_STEP = "TUNELOOP_LORA_HOLD_AT_STEP"
#: Logged values copied to metrics.jsonl besides step, epoch, loss, eval_loss and tokens.
_EXTRA_METRICS = (
    "learning_rate",
    "grad_norm",
    "mean_token_accuracy",
    "rewards/accuracies",
    "rewards/margins",
)


@dataclass(frozen=True)
class TrainingResult:
    adapter_dir: Path
    steps: int
    #: Non-padding tokens through the model (transformers' `num_input_tokens_seen`), all
    #: attempts together.
    tokens: int
    tokens_per_second: float | None


class JobCallback(TrainerCallback):
    """Writes per-step metrics and checkpoint events to the job folder (main process only)."""

    def __init__(self, folder: JobFolder, *, is_main: bool, hold_at_step: int | None) -> None:
        self._folder = folder
        self._is_main = is_main
        self._hold_at_step = hold_at_step

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self._is_main or not logs or not ({"loss", "eval_loss"} & logs.keys()):
            return
        record: dict[str, Any] = {
            "step": state.global_step,
            "epoch": round(float(logs.get("epoch", state.epoch or 0.0)), 4),
            "loss": logs.get("loss"),
            "eval_loss": logs.get("eval_loss"),
            "tokens": int(state.num_input_tokens_seen),
            "max_steps": state.max_steps,
            "created_at": self._folder.now(),
        }
        record.update({k: logs[k] for k in _EXTRA_METRICS if k in logs})
        self._folder.metric(record)

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if not self._is_main:
            return
        step = state.global_step
        self._folder.event(f"checkpoint-{step} saved", step=step)
        if step == self._hold_at_step:
            self._folder.event(f"holding after checkpoint-{step} ({HOLD_AT_STEP})", step=step)
            while True:  # until killed: that is the point of holding
                time.sleep(3600)


def _use_bf16() -> bool:
    # TRL defaults bf16 to True; on a CPU it is slower, and old GPUs lack it.
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def load_tokenizer(spec: JobSpec) -> PreTrainedTokenizerBase:
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.base_model_path)
    except (OSError, ValueError) as exc:
        raise JobFailure(
            "base_model_unavailable",
            f"the tokenizer of base model {spec.base_model!r} at {spec.base_model_path} cannot "
            f"be loaded: {exc}",
        ) from exc
    if not getattr(tokenizer, "chat_template", None):
        raise JobFailure(
            "base_model_unavailable",
            f"base model {spec.base_model!r} has no chat template: it is not a chat model",
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(spec: JobSpec) -> Any:
    """The base model, with the incremental job's adapter on it (trainable) when there is one."""
    dtype = torch.bfloat16 if _use_bf16() else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(spec.base_model_path, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise JobFailure(
            "base_model_unavailable",
            f"base model {spec.base_model!r} at {spec.base_model_path} cannot be loaded: {exc}",
        ) from exc
    if spec.init_adapter_path is None:
        return model
    try:
        return PeftModel.from_pretrained(model, spec.init_adapter_path, is_trainable=True)
    except RuntimeError as exc:  # "size mismatch for ...": weights of another architecture
        raise JobFailure(
            "adapter_base_mismatch",
            f"adapter {spec.init_adapter} does not fit base model {spec.base_model!r}: {exc}",
        ) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise JobFailure(
            "adapter_unavailable", f"adapter {spec.init_adapter} cannot be loaded: {exc}"
        ) from exc


def lora_config(spec: JobSpec) -> LoraConfig | None:
    """A new adapter's PEFT config; None when continuing an adapter (it keeps its own)."""
    if spec.init_adapter_path is not None:
        return None
    return LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=spec.target_modules,
        task_type="CAUSAL_LM",
    )


def _common_args(spec: JobSpec, folder: JobFolder, has_eval: bool) -> dict[str, Any]:
    return {
        "output_dir": str(folder.checkpoints),
        "num_train_epochs": spec.n_epochs,
        "max_steps": spec.max_steps if spec.max_steps is not None else -1,
        "per_device_train_batch_size": spec.batch_size,
        "per_device_eval_batch_size": spec.batch_size,
        "gradient_accumulation_steps": spec.gradient_accumulation_steps,
        "learning_rate": spec.learning_rate,
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_steps": spec.save_steps,
        "save_total_limit": 2,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": spec.eval_steps or spec.save_steps,
        "seed": spec.seed,
        "data_seed": spec.seed,
        "report_to": "none",
        "bf16": _use_bf16(),
        "gradient_checkpointing": (
            torch.cuda.is_available()
            if spec.gradient_checkpointing is None
            else spec.gradient_checkpointing
        ),
        "include_num_input_tokens_seen": "non_padding",
        "disable_tqdm": True,
    }


def build_trainer(spec: JobSpec, folder: JobFolder, *, is_main: bool) -> SFTTrainer | DPOTrainer:
    """The TRL trainer for the job, its datasets built from the folder's JSONL files."""
    tokenizer = load_tokenizer(spec)
    train_path = folder.file(spec.train_file)
    eval_path = folder.file(spec.eval_file) if spec.eval_file else None
    hold = os.environ.get(HOLD_AT_STEP)
    callback = JobCallback(folder, is_main=is_main, hold_at_step=int(hold) if hold else None)
    if spec.method == "dpo":
        train = Dataset.from_list(preference_rows(train_path))
        evaluation = Dataset.from_list(preference_rows(eval_path)) if eval_path else None
        model = load_model(spec)
        return DPOTrainer(
            model=model,
            args=DPOConfig(
                **_common_args(spec, folder, evaluation is not None),
                beta=spec.dpo_beta,
                max_length=spec.max_seq_length,
            ),
            train_dataset=train,
            eval_dataset=evaluation,
            processing_class=tokenizer,
            peft_config=lora_config(spec),
            callbacks=[callback],
        )
    train_set = sft_dataset(tokenizer, train_path, spec.max_seq_length)
    if not train_set.examples:
        raise JobFailure(
            "invalid_training_file",
            f"no example of {spec.train_file} has an assistant token within the first "
            f"{spec.max_seq_length} tokens",
        )
    if train_set.dropped and is_main:
        folder.event(
            f"{train_set.dropped} examples have no assistant token within the first "
            f"{spec.max_seq_length} tokens and are left out",
            level="warn",
        )
    eval_set = sft_dataset(tokenizer, eval_path, spec.max_seq_length) if eval_path else None
    model = load_model(spec)
    return SFTTrainer(
        model=model,
        args=SFTConfig(
            **_common_args(spec, folder, bool(eval_set and eval_set.examples)),
            max_length=spec.max_seq_length,
        ),
        train_dataset=_tokenised(train_set.examples),
        eval_dataset=_tokenised(eval_set.examples) if eval_set and eval_set.examples else None,
        processing_class=tokenizer,
        peft_config=lora_config(spec),
        callbacks=[callback],
    )


def _tokenised(examples: list[SftExample]) -> Dataset:
    # input_ids + labels: TRL treats the dataset as processed and keeps our labels as they are.
    return Dataset.from_dict(
        {"input_ids": [e.input_ids for e in examples], "labels": [e.labels for e in examples]}
    )


def train(spec: JobSpec, folder: JobFolder, *, is_main: bool) -> TrainingResult:
    """Train (resuming from the last complete checkpoint if any) and save the adapter to
    `<folder>/adapter`. Raises JobFailure for a known cause."""
    set_seed(spec.seed)
    trainer = build_trainer(spec, folder, is_main=is_main)
    resume = last_checkpoint(folder.checkpoints)
    if resume is not None and is_main:
        folder.drop_metrics_after(checkpoint_step(resume))
        folder.event(f"resuming from {resume.name}", step=checkpoint_step(resume))
    if is_main and spec.init_adapter is not None:
        folder.event(f"continuing adapter {spec.init_adapter} (its LoRA shape is kept)")
    if is_main:
        folder.event(
            f"training: {spec.method}, {len(trainer.train_dataset)} examples, "
            f"{spec.n_epochs} epochs"
            + (f", at most {spec.max_steps} steps" if spec.max_steps else "")
        )
    output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if trainer.eval_dataset is not None and not _evaluated_at(trainer.state):
        trainer.evaluate()
    adapter_dir = folder.path / "adapter"
    trainer.save_model(str(adapter_dir))
    runtime = output.metrics.get("train_runtime")
    seen = int(trainer.state.num_input_tokens_seen)
    session_tokens = seen - int(getattr(trainer, "_initial_num_input_tokens_seen", 0))
    return TrainingResult(
        adapter_dir=adapter_dir,
        steps=trainer.state.global_step,
        tokens=seen,
        tokens_per_second=round(session_tokens / runtime, 1) if runtime else None,
    )


def _evaluated_at(state: TrainerState) -> bool:
    """Whether the eval loss of the last step was logged already."""
    return any(
        "eval_loss" in entry and entry.get("step") == state.global_step
        for entry in state.log_history
    )


def remove_checkpoints(folder: JobFolder) -> None:
    """Checkpoints are for resuming; a published adapter no longer needs them."""
    shutil.rmtree(folder.checkpoints, ignore_errors=True)
