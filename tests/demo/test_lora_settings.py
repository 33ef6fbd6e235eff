"""The LoRA demo's training settings, checked where they can be without training a model: the
demo's story on the OpenAI stand-in (seconds) with the LoRA demo's strategy settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import scheduler.records  # noqa: F401  (registers the scheduler's tables for truncation)
from tuneloop.demo import run_demo
from tuneloop.demo.backends import LORA_SETTINGS
from tuneloop.local_openai import instant_clock
from tuneloop.settings import SAMPLE_SEEDS_DIR

SHARED = Path(__file__).resolve().parents[3] / "shared"
if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))

_STRATEGY_KEYS = ("training_strategy", "replay_ratio", "incremental_learning_rate_multiplier")


def test_the_corrected_model_continues_the_first_on_the_corrections_and_every_seed(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Continuing the first adapter on the corrections with only part of the seeds replayed let
    SmolLM2 forget the golden set (golden mean 0.458 -> 0.410, refused by the gate): the demo's
    second run must replay every seed it was trained on."""
    from tuneloop.demo import world

    strategy = {key: LORA_SETTINGS[key] for key in _STRATEGY_KEYS}
    monkeypatch.setattr(world, "DEMO_SETTINGS", {**world.DEMO_SETTINGS, **strategy})
    summary = run_demo(database_url=database_url, data_dir=tmp_path, clock=instant_clock())

    assert strategy["training_strategy"] == "incremental"
    corrected = summary.models[2]
    assert corrected.label == "v2" and corrected.outcome == "promoted"
    export = tmp_path / "datasets" / "cycle-2"
    everything = (export / "train.jsonl").read_text(encoding="utf-8").splitlines()
    trained = (export / "train-incremental.jsonl").read_text(encoding="utf-8").splitlines()
    seeds = (SAMPLE_SEEDS_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()
    corrections = len(everything) - len(seeds)
    assert corrections >= 30  # the people's corrections, less the held-out ones
    assert sorted(trained) == sorted(everything)
