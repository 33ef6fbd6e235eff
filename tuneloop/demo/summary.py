"""What the demo found: one row per model version, the checks it made, and the numbers, as
plain data for the table, the report and `--json`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GateLines:
    """The gate's thresholds for one decision (scheduler.gate.GatePolicy): the win rate the
    sign test must beat (`null_win_rate`, 0.5 + margin) at `significance`; the golden mean's
    floor, and how far under the served model's golden mean it may fall (`golden_tolerance`)."""

    null_win_rate: float
    significance: float
    golden_floor: float
    golden_tolerance: float


@dataclass(frozen=True)
class ModelRow:
    """One model version and what the gate made of it, against the model served when it was
    evaluated (the incumbent): the win rate with its lower confidence bound (paired
    bootstrap), the sign test's p-value, both golden means, and the thresholds applied."""

    label: str
    model: str
    golden_mean: float | None
    win_rate: float | None = None
    win_rate_lower_bound: float | None = None
    verdict: str | None = None
    outcome: str | None = None
    reason: str = ""
    p_value: float | None = None
    incumbent_golden_mean: float | None = None
    thresholds: GateLines | None = None


@dataclass(frozen=True)
class Check:
    """One expectation of the loop, and whether it held."""

    name: str
    passed: bool
    detail: str


@dataclass
class DemoSummary:
    models: list[ModelRow] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    active_model: str = ""
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def check(self, name: str, passed: bool, detail: str) -> bool:
        self.checks.append(Check(name, bool(passed), detail))
        return bool(passed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "active_model": self.active_model,
            "wall_seconds": round(self.wall_seconds, 2),
            "models": [asdict(row) for row in self.models],
            "checks": [asdict(check) for check in self.checks],
            "numbers": dict(self.numbers),
        }
