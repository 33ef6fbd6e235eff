"""The correction modal ("Correct this answer"), prefilled with the bot's reply, and the
short modal shown when the shortcut is used on a message that is not one of the bot's answers.

A plain-text input holds at most 3,000 characters (Slack's limit); a longer reply is
prefilled shortened, and the hint says so. The token limit is checked on submission.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from bot.blocks import ids
from bot.blocks.text import context, escape, plain, section, shorten

INPUT_LIMIT = 3000
TITLE = "Correct this answer"


@dataclass(frozen=True)
class CorrectionTarget:
    """What the modal corrects, and where to confirm (kept in `private_metadata`)."""

    exchange_id: int
    channel: str
    thread_ts: str

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, text: str) -> CorrectionTarget:
        data = json.loads(text)
        return cls(int(data["exchange_id"]), str(data["channel"]), str(data["thread_ts"]))


def correction_modal(
    target: CorrectionTarget, *, question: str, reply: str, max_tokens: int
) -> dict[str, Any]:
    hint = (
        f"Write the answer the bot should have given (at most {max_tokens:,} tokens). "
        "A reviewer checks it before the bot learns from it."
    )
    if len(reply) > INPUT_LIMIT:
        hint += " The original answer was longer than this box holds and was shortened."
    return {
        "type": "modal",
        "callback_id": ids.CORRECTION_VIEW,
        "private_metadata": target.dump(),
        "title": plain(TITLE, 24),
        "submit": plain("Send for review", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"*The question*\n>{escape(shorten(question, 1500))}"),
            {
                "type": "input",
                "block_id": ids.CORRECTION_BLOCK,
                "label": plain("A better answer", 2000),
                "hint": plain(hint, 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.CORRECTION_INPUT,
                    "multiline": True,
                    "max_length": INPUT_LIMIT,
                    "initial_value": shorten(reply, INPUT_LIMIT),
                },
            },
        ],
    }


def not_correctable_modal(reason: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain(TITLE, 24),
        "close": plain("Close", 24),
        "blocks": [section(reason), context("Use it on one of the bot's answers.")],
    }


def correction_errors(problem: str) -> dict[str, str]:
    """A view-submission `errors` map that shows `problem` under the text box."""
    return {ids.CORRECTION_BLOCK: problem}
