"""Benchmark: the LoRA trainer's wall time against a bare TRL script doing the same training.

The trainer's time runs from `LoraTrainer.start` to the `poll` that reports `succeeded`: the job
folder, the detached worker (a fresh Python importing torch, transformers, TRL and PEFT), the
weight-aware labels, per-step metrics and events, checkpoints, publishing the adapter and the
polling itself. The bare script is what one would write by hand: one process, TRL's
`SFTTrainer` on the same JSONL (TRL's own conversational tokenisation), the same model, LoRA
shape, epochs, batch, sequence length and checkpoint interval, saving the adapter at the end.
Both run as fresh processes, so both pay the imports. Target (from the issue): ratio <= 1.2.

    python bench/bench_lora_trainer.py                      # tiny model, seeds/train.jsonl
    python bench/bench_lora_trainer.py --model smollm2      # SmolLM2-135M (minutes on 2 cores)

Prints the median of `--repeat` alternating runs, and the training throughput (tokens/s) the
worker measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from scheduler.training import JobStatus, TrainingRequest
from scheduler.training.lora import AdapterStore, LoraTrainer, LoraTrainerConfig

REPO = Path(__file__).resolve().parents[1]
SEEDS_TRAIN = REPO / "seeds" / "train.jsonl"
TARGET_RATIO = 1.2

BARE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    settings = json.loads(sys.argv[1])
    rows = [json.loads(line) for line in open(settings["train"], encoding="utf-8")]
    tokenizer = AutoTokenizer.from_pretrained(settings["model"])
    model = AutoModelForCausalLM.from_pretrained(settings["model"])
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(
            output_dir=settings["out"],
            num_train_epochs=settings["epochs"],
            per_device_train_batch_size=settings["batch_size"],
            learning_rate=settings["learning_rate"],
            max_length=settings["max_seq_length"],
            save_strategy="steps",
            save_steps=settings["save_steps"],
            seed=settings["seed"],
            report_to="none",
            bf16=False,
            gradient_checkpointing=False,
            disable_tqdm=True,
        ),
        train_dataset=Dataset.from_list([{"messages": r["messages"]} for r in rows]),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=settings["r"],
            lora_alpha=settings["alpha"],
            lora_dropout=settings["dropout"],
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    trainer.train()
    trainer.save_model(settings["out"] + "/adapter")
    """
)


def model_folder(which: str, models_dir: Path) -> tuple[str, Path]:
    if which == "tiny":
        from tuneloop.base_models.tiny import TINY_MODEL_NAME, build_tiny_model

        return TINY_MODEL_NAME, build_tiny_model(models_dir / TINY_MODEL_NAME)
    from tuneloop.base_models.smollm2 import SMOLLM2_NAME, smollm2_folder

    return SMOLLM2_NAME, smollm2_folder(models_dir)


def time_trainer(
    config: LoraTrainerConfig, model: str, train: Path, root: Path, attempt: int
) -> tuple[float, dict[str, object]]:
    """Seconds from start to succeeded, and the worker's final event data."""
    trainer = LoraTrainer(root / "jobs", AdapterStore(root / "adapters"), config)
    request = TrainingRequest(
        dataset_version_id=attempt,
        train_path=train,
        eval_path=None,
        train_sha256=hashlib.sha256(train.read_bytes()).hexdigest(),
        model=model,
    )
    begin = time.perf_counter()
    report = trainer.start(request, lambda kind, file_id: None)
    while not report.status.is_finished:
        time.sleep(0.1)
        assert report.job_id is not None
        report = trainer.poll(report.job_id)
    elapsed = time.perf_counter() - begin
    if report.status is not JobStatus.SUCCEEDED:
        sys.exit(f"the trainer's job ended {report.status}: {report.error_message}")
    assert report.job_id is not None
    events = (root / "jobs" / report.job_id / "events.jsonl").read_text().splitlines()
    return elapsed, json.loads(events[-1]).get("data", {})


def time_bare(config: LoraTrainerConfig, model: Path, train: Path, out: Path) -> float:
    settings = {
        "model": str(model),
        "train": str(train),
        "out": str(out),
        "epochs": config.n_epochs,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "max_seq_length": config.max_seq_length,
        "save_steps": config.save_steps,
        "seed": config.seed,
        "r": config.lora_r,
        "alpha": config.lora_alpha,
        "dropout": config.lora_dropout,
    }
    begin = time.perf_counter()
    done = subprocess.run(
        [config.python_executable, "-c", BARE_SCRIPT, json.dumps(settings)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        check=False,
    )
    elapsed = time.perf_counter() - begin
    if done.returncode != 0:
        sys.exit(f"the bare TRL script failed:\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("tiny", "smollm2"), default="tiny")
    parser.add_argument("--train", type=Path, default=SEEDS_TRAIN, help="OpenAI chat JSONL")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models-dir", type=Path, help="where base model folders are kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tuneloop-bench-lora-") as tmp:
        root = Path(tmp)
        name, folder = model_folder(args.model, args.models_dir or root / "models")
        config = LoraTrainerConfig(base_models={name: folder}, n_epochs=args.epochs)
        trainer_s: list[float] = []
        bare_s: list[float] = []
        speeds: list[float] = []
        tokens = 0
        for attempt in range(1, args.repeat + 1):
            elapsed, data = time_trainer(config, name, args.train, root / f"t{attempt}", attempt)
            trainer_s.append(elapsed)
            tokens = int(data.get("trained_tokens") or 0)
            if isinstance(data.get("tokens_per_second"), int | float):
                speeds.append(float(data["tokens_per_second"]))  # type: ignore[arg-type]
            bare_s.append(time_bare(config, folder, args.train, root / f"b{attempt}"))
            print(
                f"run {attempt}: trainer {trainer_s[-1]:6.1f} s | bare TRL {bare_s[-1]:6.1f} s",
                flush=True,
            )
    trainer_med, bare_med = statistics.median(trainer_s), statistics.median(bare_s)
    lines = sum(1 for line in args.train.read_text().splitlines() if line.strip())
    print(
        f"{name}, {lines} examples x {args.epochs} epochs (batch {config.batch_size}): "
        f"trainer {trainer_med:.1f} s / bare TRL {bare_med:.1f} s -> ratio "
        f"{trainer_med / bare_med:.2f} (target <= {TARGET_RATIO})"
    )
    if speeds:
        print(
            f"training throughput (worker, median): {statistics.median(speeds):,.0f} tokens/s; "
            f"{tokens:,} tokens seen per run"
        )


if __name__ == "__main__":
    main()
