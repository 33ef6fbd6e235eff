"""The blocks of a reply: its text as a `markdown` block, then the feedback and correction
controls.

The text is the model's standard Markdown, left for Slack to render (`bot.blocks.markdown`);
a reply longer than one message's 12,000 characters of markdown goes out as several messages
(pages), and the controls come under the last. `context_actions` takes only feedback buttons
and icon buttons, so "Correct this answer", a regular button, sits in an `actions` block
right below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks import ids
from bot.blocks.markdown import (
    MARKDOWN_LIMIT,
    markdown_block,
    slack_links_to_markdown,
    split_markdown,
)
from bot.blocks.text import context, escape, plain, shorten

MESSAGE_BLOCK_LIMIT = 50
#: The `text` of a message with blocks: Slack takes up to 40,000 characters.
FALLBACK_TEXT_LIMIT = MARKDOWN_LIMIT

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


def notes_block(notes: Sequence[str]) -> list[Block]:
    """What the bot wants the reader to know about its answer (files it could not read, say),
    as one small context line above the controls; nothing when there are no notes."""
    if not notes:
        return []
    return [context(escape(" ".join(notes)), verbatim=True)]


def page_blocks(page: str) -> list[Block]:
    """One page of a reply (at most `MARKDOWN_LIMIT` characters) as its markdown block."""
    return [markdown_block(page)]


def reply_pages(text: str) -> list[str]:
    """The reply as pages of standard Markdown, one Slack message each (see
    `bot.blocks.markdown`)."""
    return split_markdown(slack_links_to_markdown(text), MARKDOWN_LIMIT)


def fallback_text(text: str) -> str:
    """The message's `text`: the notification, and what `conversations.replies` reads back
    as the bot's turn (a page holds at most 12,000 characters, within Slack's 40,000)."""
    return shorten(text, FALLBACK_TEXT_LIMIT)
