"""Corrections from Slack: opening the modal for an exchange, and checking what comes back.

Shared by the "Correct this answer" button, the message shortcut and the modal's submission,
so all three apply the same rules (the store adds its own: not the same as the reply).
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.blocks.correction import CorrectionTarget, correction_modal, not_correctable_modal
from bot.deps import Deps
from curation.errors import NotFoundError
from curation.models import ExchangeStatus
from curation.tokens import count_text, get_encoding

log = logging.getLogger("tuneloop.bot.corrections")

EMPTY = "Please write the corrected answer."
SAME = "That is the same as the bot's answer. Please change what was wrong."


def open_correction(
    client: WebClient,
    deps: Deps,
    *,
    trigger_id: str,
    exchange_id: int,
    channel: str,
    thread_ts: str,
) -> None:
    """Open the correction modal for an exchange (or say why it cannot be corrected)."""
    try:
        exchange = deps.store.capture.exchange(exchange_id)
    except NotFoundError:
        exchange = None
    if exchange is None or exchange.status is not ExchangeStatus.ANSWERED or not exchange.reply:
        view = not_correctable_modal("That answer can't be corrected: it has no recorded reply.")
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
