"""Reading what was typed into a submitted modal."""

from __future__ import annotations

from typing import Any


def submitted_text(view: dict[str, Any], block_id: str, action_id: str) -> str:
    value = view["state"]["values"].get(block_id, {}).get(action_id, {}).get("value")
    return value or ""
