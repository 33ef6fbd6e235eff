"""Corrections from Slack: opening the modal for an exchange, and checking what comes back.

Shared by the "Correct this answer" button, the message shortcut and the modal's submission,
so all three apply the same rules (the store adds its own: not the same as the reply, and the
correction rate limits). Only a member of the conversation the answer was given in opens the
modal or submits it (`bot.membership`): the modal shows the question and the answer.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.blocks.correction import CorrectionTarget, correction_modal, not_correctable_modal
from bot.deps import Deps
from bot.membership import is_member
from curation.errors import NotFoundError
from curation.tokens import count_text, get_encoding

log = logging.getLogger("tuneloop.bot.corrections")

EMPTY = "Please write the corrected answer."
SAME = "That is the same as the bot's answer. Please change what was wrong."
NOT_IN_CONVERSATION = (
    "Only people in the conversation where this answer was given can correct it. "
    "Join the channel (or ask someone in it) to propose a correction."
)


def open_correction(
    client: WebClient,
    deps: Deps,
    *,
    trigger_id: str,
    user: str,
    exchange_id: int,
    channel: str,
    thread_ts: str,
) -> None:
    """Open the correction modal for an exchange, for `user` (or say why it cannot be
    corrected, without showing anything of a conversation `user` is not in)."""
    try:
        exchange = deps.store.capture.exchange(exchange_id)
    except NotFoundError:
        exchange = None
    if exchange is None or not exchange.has_reply or not exchange.reply:
        view = not_correctable_modal("That answer can't be corrected: it has no recorded reply.")
    elif not is_member(client, exchange.channel_id, user):
        view = not_correctable_modal(NOT_IN_CONVERSATION)
    else:
        view = correction_modal(
            CorrectionTarget(exchange.id, channel, thread_ts),
            question=exchange.question,
            reply=exchange.reply,
            max_tokens=deps.config.budget.correction_tokens,
        )
    client.views_open(trigger_id=trigger_id, view=view)


def correction_problem(text: str, *, model: str | None, deps: Deps) -> str | None:
    """Why `text` cannot be a correction, in words for the modal; None when it can."""
    if not text.strip():
        return EMPTY
    limit = deps.config.budget.correction_tokens
    encoding = get_encoding(deps.config.encoding_for(model or ""))
    tokens = count_text(text.strip(), encoding)
    if tokens > limit:
        return f"This answer is {tokens:,} tokens long; the limit is {limit:,}. Please shorten it."
    return None
