"""Publishing a person's App Home tab: the review queue for reviewers, a short guide for
everyone else. Called when the tab opens and after every decision made from it."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.blocks.home import reviewer_home, visitor_home
from bot.blocks.summary import RetrainingSummary
from bot.control import APPROVED_KEY, RetrainingControl
from bot.deps import Deps
from bot.incidents import incident_text, report_incident
from curation.models import ReviewState

log = logging.getLogger("tuneloop.bot.home")


def retraining_summary(control: RetrainingControl) -> RetrainingSummary:
    """Where retraining stands; a failing control is shown as such, never hidden. The count
    of approved examples is asked for once: taken from the status when it carries it."""
    try:
        status = dict(control.status())
        approved = status.pop(APPROVED_KEY, None)
        if not isinstance(approved, int):
            approved = control.approved_since_last_training()
        return RetrainingSummary(
            active_model=str(status.get("active_model", "unknown")),
            available=bool(status.get("available", True)),
            approved_since_training=approved,
            last_decision=control.last_decision(),
            details=status,
        )
    except Exception:  # the error's text may name the database server: only in the log
        error_id = report_incident(log, "the retraining control failed")
        return RetrainingSummary(
            active_model="unknown",
            available=False,
            approved_since_training=None,
            last_decision=None,
            problem=incident_text("Retraining status is unavailable", error_id),
        )


def publish_home(client: WebClient, deps: Deps, user: str, notice: str | None = None) -> None:
    if not deps.store.review.is_reviewer(user):
        client.views_publish(user_id=user, view=visitor_home(notice))
        return
    limit = deps.config.home_queue_items
    review = deps.store.review
    items = review.list(ReviewState.PENDING, limit) + review.list(ReviewState.NEEDS_EDIT, limit)
    items = sorted(items, key=lambda item: item.id)[:limit]
    view = reviewer_home(
        retraining_summary(deps.control), items, counts=review.counts(), notice=notice
    )
    client.views_publish(user_id=user, view=view)
