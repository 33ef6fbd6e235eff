"""The text of `/tuneloop` answers (mrkdwn; shown only to the person who typed it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.summary import RetrainingSummary, summary_lines
from bot.blocks.text import escape, shorten
from curation.review import ReviewView

HELP = """*tuneloop* answers questions here and learns from your corrections.
`/tuneloop status` which model answers, and where retraining stands
`/tuneloop stats` what has been asked, flagged and corrected
`/tuneloop queue` the review queue _(reviewers)_
`/tuneloop retrain [--force]` retrain soon (`--force`: even with nothing new) _(reviewers)_
`/tuneloop promote MODEL [--force] [reason]` answer with MODEL from now on _(reviewers)_
`/tuneloop rollback [reason]` go back to the previous model _(reviewers)_
`/tuneloop help` this list"""


def status_text(summary: RetrainingSummary) -> str:
    return "\n".join(summary_lines(summary))


def queue_text(items: Sequence[ReviewView], waiting: int) -> str:
    if not items:
        return "Nothing to review. :tada:"
    lines = [f"*{waiting} waiting for review* (oldest first):"]
    for item in items:
        question = escape(shorten(" ".join(item.question.split()), 80))
        lines.append(f"• *#{item.id}* {item.kind.value}: {question}")
    lines.append("Decide on them in my *Home* tab.")
    return "\n".join(lines)


def stats_text(stats: Mapping[str, Any]) -> str:
    exchanges = stats.get("exchanges", {})
    by_status = exchanges.get("by_status", {})
    feedback = stats.get("feedback", {})
    review = stats.get("review", {})
    examples = stats.get("examples", {})
    return "\n".join(
        [
            f"*Questions:* {exchanges.get('total', 0)} "
            f"({by_status.get('answered', 0)} answered, {by_status.get('failed', 0)} failed)",
            f"*Feedback:* {feedback.get('thumbs_up', 0)} :thumbsup:, "
            f"{feedback.get('thumbs_down', 0)} :thumbsdown:, {feedback.get('flag', 0)} flags",
            f"*Corrections:* {stats.get('corrections', 0)}",
            f"*Review:* {review.get('pending', 0)} pending, {review.get('needs_edit', 0)} "
            f"need an edit, {review.get('approved', 0)} approved, "
            f"{review.get('rejected', 0)} rejected",
            f"*Training examples:* {examples.get('total', 0)} "
            f"({examples.get('golden', 0)} golden, kept out of training)",
        ]
    )
