"""`/tuneloop queue|stats|status|retrain|promote MODEL|rollback|help`.

Slack waits 3 seconds for the acknowledgement
(https://api.slack.com/interactivity/slash-commands#responding_to_commands), so every command
that does work is acknowledged at once and answered through the response URL: the reading
ones (status, stats, queue) read the store, which a busy database or a cold cache can slow,
and the changing ones (retrain, promote, rollback; reviewers only) call the retraining
control. Help and refusals need no work and answer in the acknowledgement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.blocks.commands import HELP, queue_text, stats_text, status_text
from bot.control import ControlError
from bot.deps import Deps
from bot.home import retraining_summary
from bot.incidents import incident_text, report_incident
from bot.reviewing import NOT_A_REVIEWER
from curation.models import ReviewState
from curation.stats import store_stats

log = logging.getLogger("tuneloop.bot.commands")

REVIEWER_ONLY = frozenset({"queue", "retrain", "promote", "rollback"})
READING = frozenset({"status", "stats", "queue"})
QUEUE_LINES = 10
#: `/tuneloop promote MODEL --force`: promote without probing the model first;
#: `/tuneloop retrain --force`: retrain with nothing new to train on.
FORCE = "--force"


def _change(deps: Deps, verb: str, rest: str, user: str) -> str:
    control = deps.control
    if verb == "retrain":
        words = rest.split()
        if any(word != FORCE for word in words):
            return f"`/tuneloop retrain` takes only `{FORCE}`, not `{rest}`."
        return control.request_retrain(user, force=FORCE in words)
    if verb == "promote":
        words = rest.split()
        force = FORCE in words
        model, *reason = [word for word in words if word != FORCE] or [""]
        if not model:
            return f"Say which model: `/tuneloop promote MODEL [{FORCE}] [reason]`."
        why = " ".join(reason) or f"promoted from Slack by {user}"
        return control.promote(model, user, why, force=force)
    return control.rollback(user, rest.strip() or f"rolled back from Slack by {user}")


def _read(deps: Deps, verb: str) -> str:
    if verb == "status":
        return status_text(retraining_summary(deps.control))
    if verb == "stats":
        return stats_text(store_stats(deps.store.db))
    items = deps.store.review.list(ReviewState.PENDING, QUEUE_LINES)
    counts = deps.store.review.counts()
    return queue_text(items, counts.get("pending", 0) + counts.get("needs_edit", 0))


def tuneloop_command_listener(deps: Deps) -> Callable[..., None]:
    def handle_tuneloop_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        verb, _, rest = str(command.get("text") or "").strip().partition(" ")
        verb = verb.lower()
        user = command["user_id"]
        if verb in REVIEWER_ONLY and not deps.store.review.is_reviewer(user):
            ack(text=NOT_A_REVIEWER, response_type="ephemeral")
            return
        if verb not in REVIEWER_ONLY | READING:
            ack(text=HELP, response_type="ephemeral")
            return
        ack()
        try:
            answer = (
                _read(deps, verb) if verb in READING else _change(deps, verb, rest.strip(), user)
            )
        except ControlError as refusal:
            answer = f":warning: {refusal}"
        except Exception:  # its text may name the database server: only in the log
            error_id = report_incident(log, f"/tuneloop {verb} failed")
            answer = ":warning: " + incident_text(f"`/tuneloop {verb}` failed", error_id)
        respond(text=answer, response_type="ephemeral")

    return handle_tuneloop_command


def register(app: App, deps: Deps) -> None:
    app.command("/tuneloop")(tuneloop_command_listener(deps))
