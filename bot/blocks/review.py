"""The reviewer's modals: Edit (write the reply the bot should give, then approve) and Reject
(a reason is required, for the person whose signal it was). Each keeps the item and the version
it showed in `private_metadata`, so the decision applies to what the reviewer saw."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks import ids
from bot.blocks.correction import INPUT_LIMIT
from bot.blocks.text import plain, quote, section, shorten
from curation.review import ReviewView


def decision_metadata(item: ReviewView) -> str:
    """A decision modal's `private_metadata`: the item and the version the modal shows."""
    return json.dumps({"item": item.id, "seen": item.version})


def load_decision_metadata(text: str) -> tuple[int, int]:
    """(item id, version seen) from a decision modal's `private_metadata`; a bare item id (a
    modal opened before versions existed) has seen nothing that matches (-1)."""
    data = json.loads(text)
    if isinstance(data, int):
        return data, -1
    return int(data["item"]), int(data["seen"])


def edit_modal(item: ReviewView, *, max_tokens: int) -> dict[str, Any]:
    start = item.correction or item.reply or ""
    return {
        "type": "modal",
        "callback_id": ids.EDIT_VIEW,
        "private_metadata": decision_metadata(item),
        "title": plain(f"Edit #{item.id}", 24),
        "submit": plain("Approve", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"*Question*\n{quote(item.question, 1500)}"),
            {
                "type": "input",
                "block_id": ids.EDIT_BLOCK,
                "label": plain("The reply the bot should give", 2000),
                "hint": plain(
                    f"Approving makes this a training example (at most {max_tokens:,} tokens).",
                    2000,
                ),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.CORRECTION_INPUT,
                    "multiline": True,
                    "max_length": INPUT_LIMIT,
                    "initial_value": shorten(start, INPUT_LIMIT),
                },
            },
        ],
    }


def reject_modal(item: ReviewView) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": ids.REJECT_VIEW,
        "private_metadata": decision_metadata(item),
        "title": plain(f"Reject #{item.id}", 24),
        "submit": plain("Reject", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"*Question*\n{quote(item.question, 1000)}"),
            {
                "type": "input",
                "block_id": ids.REASON_BLOCK,
                "label": plain("Why?", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.CORRECTION_INPUT,
                    "max_length": 500,
                    "placeholder": plain("The bot's answer was right / off topic / ...", 150),
                },
            },
        ],
    }
