"""The blocks of a reply: its text in sections, then the feedback and correction controls.

`context_actions` takes only feedback buttons and icon buttons, so "Correct this answer", a
regular button, sits in an `actions` block right below it. A message may have 50 blocks and a
section 3,000 characters; a longer reply is cut with a note rather than refused by Slack.
"""

from __future__ import annotations

from typing import Any

from bot.blocks import ids
from bot.blocks.text import SECTION_LIMIT, markdown_to_mrkdwn, plain, section, shorten, split_text

MESSAGE_BLOCK_LIMIT = 50
CONTROL_BLOCKS = 2
#: The plain-text `text` of a message with blocks is only the notification and fallback.
FALLBACK_TEXT_LIMIT = 3000
TRUNCATED_NOTE = "\n\n_(This answer was too long for one Slack message and was cut here.)_"

Block = dict[str, Any]


def reply_controls(exchange_id: int) -> list[Block]:
    """👍/👎 feedback buttons and the "Correct this answer" button for one exchange."""
    return [
        {
            "type": "context_actions",
            "block_id": f"feedback:{exchange_id}",
            "elements": [
                {
                    "type": "feedback_buttons",
                    "action_id": ids.FEEDBACK_ACTION,
                    "positive_button": {
                        "text": plain("👍"),
                        "accessibility_label": "This answer was helpful",
                        "value": f"{ids.FEEDBACK_UP}:{exchange_id}",
                    },
                    "negative_button": {
                        "text": plain("👎"),
                        "accessibility_label": "This answer was not helpful",
                        "value": f"{ids.FEEDBACK_DOWN}:{exchange_id}",
                    },
                }
            ],
        },
        {
            "type": "actions",
            "block_id": f"correct:{exchange_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.CORRECT_ACTION,
                    "text": plain("Correct this answer"),
                    "value": str(exchange_id),
                }
            ],
        },
    ]


def text_blocks(text: str, *, reserve: int = CONTROL_BLOCKS) -> list[Block]:
    """The reply as mrkdwn sections, within the message's block limit."""
    pieces = split_text(markdown_to_mrkdwn(text), SECTION_LIMIT)
    room = MESSAGE_BLOCK_LIMIT - reserve
    if len(pieces) > room:
        pieces = pieces[:room]
        pieces[-1] = shorten(pieces[-1], SECTION_LIMIT - len(TRUNCATED_NOTE)) + TRUNCATED_NOTE
    return [section(piece) for piece in pieces]


def fallback_text(text: str) -> str:
    return shorten(text, FALLBACK_TEXT_LIMIT)
