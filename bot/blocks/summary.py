"""What reviewers see about retraining, shared by the App Home and `/tuneloop status`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.blocks.text import escape, shorten

OUTCOME_ICONS = {
    "promoted": ":white_check_mark:",
    "rejected": ":no_entry_sign:",
    "failed": ":warning:",
    "over_budget": ":money_with_wings:",
    "skipped": ":zzz:",
}


@dataclass(frozen=True)
class RetrainingSummary:
    active_model: str
    available: bool
    approved_since_training: int | None
    last_decision: Mapping[str, Any] | None
    details: Mapping[str, Any] = field(default_factory=dict)
    #: Set when the retraining control could not be read.
    problem: str | None = None


def decision_line(decision: Mapping[str, Any] | None) -> str:
    if not decision:
        return "No retraining decision yet."
    outcome = str(decision.get("outcome", "unknown"))
    icon = OUTCOME_ICONS.get(outcome, ":information_source:")
    parts = [f"{icon} *{escape(outcome)}*"]
    candidate, incumbent = decision.get("candidate"), decision.get("incumbent")
    if candidate:
        parts.append(f"`{escape(str(candidate))}` vs `{escape(str(incumbent or 'none'))}`")
    if decision.get("at"):
        parts.append(escape(str(decision["at"])))
    line = " · ".join(parts)
    if decision.get("note"):
        line += f"\n{escape(shorten(str(decision['note']), 600))}"
    return line


def summary_lines(summary: RetrainingSummary) -> list[str]:
    lines = [f"*Active model:* `{escape(summary.active_model)}`"]
    if summary.problem:
        lines.append(f":warning: {escape(summary.problem)}")
    elif not summary.available:
        note = summary.details.get("note") or "Retraining is not available in this process."
        lines.append(f"*Retraining:* {escape(str(note))}")
    else:
        for key, value in summary.details.items():
            if key not in ("active_model", "available") and value not in (None, ""):
                lines.append(
                    f"*{escape(str(key)).replace('_', ' ').capitalize()}:* {escape(str(value))}"
                )
    if summary.approved_since_training is not None:
        lines.append(f"*Approved since the last training:* {summary.approved_since_training}")
    lines.append(f"*Last decision:* {decision_line(summary.last_decision)}")
    return lines
