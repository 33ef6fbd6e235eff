"""Small messages about feedback: the nudge after a thumbs-down, and confirmations."""

from __future__ import annotations

from typing import Any

from bot.blocks import ids
from bot.blocks.text import plain, section


def flag_thanks(exchange_id: int) -> list[dict[str, Any]]:
    return [
        section("Thanks for the flag. Do you know the right answer? A reviewer will see it."),
        {
            "type": "actions",
            "block_id": f"flag-correct:{exchange_id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.CORRECT_ACTION,
                    "text": plain("Correct this answer"),
                    "value": str(exchange_id),
                    "style": "primary",
                }
            ],
        },
    ]


def correction_thanks(item_id: int | None) -> str:
    where = f" (review item #{item_id})" if item_id is not None else ""
    return f":white_check_mark: Thanks! Your correction was sent for review{where}."
