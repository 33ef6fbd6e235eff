"""Everything a retraining cycle is told from outside (the composition root fills it from
settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from curation.personal_data import PersonalDataPolicy
from scheduler.gate import GatePolicy
from scheduler.training.protocol import TrainingMethod


@dataclass(frozen=True)
class CycleConfig:
    base_model: str
    #: Each cycle exports into `export_dir/cycle-<id>`.
    export_dir: Path
    method: TrainingMethod = "supervised"
    strategy: Literal["full", "incremental"] = "full"
    epochs: int = 3
    redact_pii: bool = True
    #: What counts as personal data in prompts, and the team's public contacts that are kept.
    personal_data: PersonalDataPolicy = field(default_factory=PersonalDataPolicy)
    suffix: str = "tuneloop"
    seed: int | None = None
    incremental_learning_rate_multiplier: float = 0.5
    replay_ratio: float = 1.0
    min_new_examples: int = 20
    budget_per_run_usd: float = 50.0
    budget_per_month_usd: float = 200.0
    #: How long a new model may answer model_not_found before the run is given up.
    model_ready_timeout: timedelta = timedelta(minutes=30)
    gate: GatePolicy = field(default_factory=GatePolicy)
    actor: str = "tuneloop:scheduler"
