"""The correction modal's submission: problems are shown inside the modal (`errors`: empty,
too long, the same as the answer, past the correction rate limits, or from someone no longer
in the conversation); a good correction is stored (once per modal, keyed by the view id),
queued for review, and confirmed privately in the thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import ids
from bot.blocks.correction import CorrectionTarget, correction_errors
from bot.blocks.feedback import correction_thanks
from bot.corrections import NOT_IN_CONVERSATION, SAME, correction_problem
from bot.deps import Deps
from bot.listeners.views.state import submitted_text
from bot.membership import is_member
from curation.errors import CurationError, NotFoundError, RateLimitedError, ValidationError

log = logging.getLogger("tuneloop.bot.corrections")


def correction_view_listener(deps: Deps) -> Callable[..., None]:
    def handle_correction_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        target = CorrectionTarget.load(view["private_metadata"])
        user = body["user"]["id"]
        text = submitted_text(view, ids.CORRECTION_BLOCK, ids.CORRECTION_INPUT)
        try:
            exchange = deps.store.capture.exchange(target.exchange_id)
        except NotFoundError:
            ack(response_action="errors", errors=correction_errors("That answer no longer exists."))
            return
        problem = correction_problem(text, model=exchange.model, deps=deps)
        if problem is None and not is_member(client, exchange.channel_id, user):
            problem = NOT_IN_CONVERSATION
        if problem is not None:
            ack(response_action="errors", errors=correction_errors(problem))
            return
        try:
            _, item, _ = deps.store.capture.add_correction(
                target.exchange_id, user, text, idempotency_key=view["id"]
            )
        except RateLimitedError as error:
            ack(response_action="errors", errors=correction_errors(f"Sorry: {error}."))
            return
        except ValidationError as error:
            same = "same as the bot's reply" in str(error)
            ack(response_action="errors", errors=correction_errors(SAME if same else str(error)))
            return
        except CurationError as error:
            ack(response_action="errors", errors=correction_errors(str(error)))
            return
        ack()
        try:
            client.chat_postEphemeral(
                channel=target.channel,
                user=user,
                thread_ts=target.thread_ts,
                text=correction_thanks(item.id if item else None),
            )
        except SlackApiError as error:
            log.warning("could not confirm the correction to %s: %s", user, error.response["error"])

    return handle_correction_submission


def register(app: App, deps: Deps) -> None:
    app.view(ids.CORRECTION_VIEW)(correction_view_listener(deps))
