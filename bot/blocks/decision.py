"""A retraining decision as a channel message: what happened, the models, the key numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.blocks.summary import OUTCOME_ICONS
from bot.blocks.text import context, escape, plain, section, shorten

MAX_NUMBERS = 10


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def decision_text(decision: Mapping[str, Any]) -> str:
    outcome = str(decision.get("outcome", "unknown"))
    candidate = decision.get("candidate")
    about = f" for {candidate}" if candidate else ""
    return f"Retraining {outcome}{about}: {decision.get('note') or 'no note'}"


def decision_blocks(decision: Mapping[str, Any]) -> list[dict[str, Any]]:
    outcome = str(decision.get("outcome", "unknown"))
    icon = OUTCOME_ICONS.get(outcome, ":information_source:")
    title = f"Retraining cycle {decision.get('cycle_id', '')}: {outcome}".replace("  ", " ")
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(title, 150)}]
    lines = [f"{icon} {escape(shorten(str(decision.get('note') or ''), 2500))}".rstrip()]
    if decision.get("candidate") or decision.get("incumbent"):
        lines.append(
            f"*Candidate:* `{escape(str(decision.get('candidate') or 'none'))}` · "
            f"*Served:* `{escape(str(decision.get('incumbent') or 'none'))}`"
        )
    if decision.get("verdict"):
        lines.append(f"*Gate:* {escape(str(decision['verdict']))}")
    blocks.append(section("\n".join(lines)))
    numbers = list((decision.get("numbers") or {}).items())[:MAX_NUMBERS]
    if numbers:
        fields = [
            {"type": "mrkdwn", "text": f"*{escape(str(k)).replace('_', ' ')}*\n{_number(v)}"}
            for k, v in numbers
        ]
        blocks.append({"type": "section", "fields": fields})
    blocks.append(context("Reviewers: `/tuneloop status`, or the bot's Home tab."))
    return blocks
