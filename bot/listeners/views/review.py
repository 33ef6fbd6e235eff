"""Submitting the reviewer's Edit and Reject modals: every refusal (not a reviewer, already
decided, empty or too long, changed since the modal opened) is shown inside the modal; a
decision, or a change since the modal opened, draws the Home tab again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks import ids
from bot.blocks.review import load_decision_metadata
from bot.corrections import correction_problem
from bot.deps import Deps
from bot.home import publish_home
from bot.listeners.views.state import submitted_text
from bot.reviewing import DecisionRefused, Reviewing, StaleView
from curation.errors import NotFoundError

Listener = Callable[..., None]


def edit_view_listener(deps: Deps) -> Listener:
    def handle_edit_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = body["user"]["id"]
        item_id, seen = load_decision_metadata(view["private_metadata"])
        text = submitted_text(view, ids.EDIT_BLOCK, ids.CORRECTION_INPUT)
        try:
            model = deps.store.review.get(item_id).model
        except NotFoundError:
            model = None
        problem = correction_problem(text, model=model, deps=deps)
        if problem is not None:
            ack(response_action="errors", errors={ids.EDIT_BLOCK: problem})
            return
        try:
            notice = Reviewing(deps.store).approve(item_id, user, text=text, seen=seen)
        except DecisionRefused as refusal:
            ack(response_action="errors", errors={ids.EDIT_BLOCK: str(refusal)})
            if isinstance(refusal, StaleView):
                publish_home(client, deps, user)
            return
        ack()
        publish_home(client, deps, user, notice)

    return handle_edit_submission


def reject_view_listener(deps: Deps) -> Listener:
    def handle_reject_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = body["user"]["id"]
        item_id, seen = load_decision_metadata(view["private_metadata"])
        reason = submitted_text(view, ids.REASON_BLOCK, ids.CORRECTION_INPUT).strip()
        if not reason:
            ack(response_action="errors", errors={ids.REASON_BLOCK: "Please give a reason."})
            return
        try:
            notice = Reviewing(deps.store).reject(item_id, user, reason=reason, seen=seen)
        except DecisionRefused as refusal:
            ack(response_action="errors", errors={ids.REASON_BLOCK: str(refusal)})
            if isinstance(refusal, StaleView):
                publish_home(client, deps, user)
            return
        ack()
        publish_home(client, deps, user, notice)

    return handle_reject_submission


def register(app: App, deps: Deps) -> None:
    app.view(ids.EDIT_VIEW)(edit_view_listener(deps))
    app.view(ids.REJECT_VIEW)(reject_view_listener(deps))
