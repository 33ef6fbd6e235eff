"""A Web API call's arguments, however the client sent them (query, form or JSON body).

Slack accepts `blocks`, `view` and friends either as JSON values or as JSON-encoded strings
inside a form post; `json()` decodes both, so each method reads them one way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tuneloop.local_slack.errors import SlackApiFailure


class Args:
    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise SlackApiFailure(
                    "invalid_arguments", messages=[f"[ERROR] missing required field: {name}"]
                )
            return default
        return value if isinstance(value, str) else str(value)

    def number(self, name: str, default: int) -> int:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackApiFailure("invalid_arguments") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    def decoded(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise SlackApiFailure(f"invalid_{name}") from None
        return value


def cursor_offset(cursor: str) -> int:
    """Where a page starts: the local workspace's cursors are `offset:<n>` (Slack's are
    opaque strings, handed back as they came)."""
    if not cursor:
        return 0
    prefix, _, number = cursor.partition(":")
    if prefix != "offset" or not number.isdigit():
        raise SlackApiFailure("invalid_cursor")
    return int(number)
