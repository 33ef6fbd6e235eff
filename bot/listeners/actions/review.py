"""The App Home's Approve, Approve-keeping-personal-data, Edit, Reject and Refresh buttons.
The approvals decide at once; Edit and Reject open a modal first. Refusals (not a reviewer,
already decided, personal data in the reply, changed since the card was drawn) are shown on
the clicker's Home tab, which is drawn again. Every button carries the version its card showed
(`ids.seen_version`), so a decision applies to exactly the text the reviewer saw."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks import ids
from bot.blocks.review import edit_modal, reject_modal
from bot.blocks.text import escape
from bot.deps import Deps
from bot.home import publish_home
from bot.reviewing import CHANGED_SINCE_SEEN, NOT_A_REVIEWER, DecisionRefused, Reviewing
from curation.errors import NotFoundError

Listener = Callable[..., None]


def approve_listener(deps: Deps, *, keep_personal_data: bool = False) -> Listener:
    """Approve the clicked item; `keep_personal_data` for the button that trains a reply
    holding personal data (plain Approve on such an item is refused, saying what to do)."""

    def handle_approve(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = body["user"]["id"]
        try:
            notice = Reviewing(deps.store).approve(
                int(action["value"]),
                user,
                keep_personal_data=keep_personal_data,
                seen=ids.seen_version(action.get("block_id")),
            )
        except DecisionRefused as refusal:
            notice = f":warning: {escape(str(refusal))}"
        publish_home(client, deps, user, notice)

    return handle_approve


def modal_listener(deps: Deps, make_view: Callable[[Deps, Any], dict[str, Any]]) -> Listener:
    """Open a decision's modal for the clicked item, as its card showed it; a card drawn
    before a newer correction arrived opens nothing and the Home tab is drawn again."""

    def handle_open_decision(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = body["user"]["id"]
        if not deps.store.review.is_reviewer(user):
            publish_home(client, deps, user, NOT_A_REVIEWER)
            return
        try:
            item = deps.store.review.get(int(action["value"]))
        except NotFoundError:
            publish_home(client, deps, user, f"Item #{action['value']} no longer exists.")
            return
        if item.version != ids.seen_version(action.get("block_id")):
            notice = f":warning: {escape(CHANGED_SINCE_SEEN.format(item_id=item.id))}"
            publish_home(client, deps, user, notice)
            return
        client.views_open(trigger_id=body["trigger_id"], view=make_view(deps, item))

    return handle_open_decision


def refresh_listener(deps: Deps) -> Listener:
    def handle_refresh(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        publish_home(client, deps, body["user"]["id"])

    return handle_refresh


def register(app: App, deps: Deps) -> None:
    app.action(ids.REVIEW_APPROVE)(approve_listener(deps))
    app.action(ids.REVIEW_APPROVE_KEEPING)(approve_listener(deps, keep_personal_data=True))
    app.action(ids.REVIEW_EDIT)(
        modal_listener(
            deps, lambda d, item: edit_modal(item, max_tokens=d.config.budget.correction_tokens)
        )
    )
    app.action(ids.REVIEW_REJECT)(modal_listener(deps, lambda _d, item: reject_modal(item)))
    app.action(ids.REVIEW_REFRESH)(refresh_listener(deps))
