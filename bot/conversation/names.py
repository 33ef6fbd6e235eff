"""People and channels by name, not id, in what the model reads and the store keeps.

Slack writes a mention as `<@U0123ABCD>` and a channel as `<#C0123ABCD>`: opaque to a model
("can <@U07…> approve my leave?" names nobody it knows) and to whoever reads training data
later. So the prompt gets `@Rita Patel` and `#help-desk` instead, looked up with users.info
and conversations.info (scopes `users:read`, `channels:read`) and cached for `ttl_s`: names
rarely change, and a busy thread must not cost a lookup per message. A lookup that fails
(a missing scope, a person from another organisation) falls back to the label Slack sent
with the mention, else leaves the mention as it was; the answer never waits on it twice.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("tuneloop.bot.names")

#: `<@U…>`, `<#C…>` and `<!subteam^S…>` with an optional `|label`; `<!here>` and friends.
_REFERENCE = re.compile(
    r"<(@|#|!subteam\^)([A-Z0-9]+)(?:\|([^>]*))?>|<!(here|channel|everyone)(?:\|[^>]*)?>"
)


def _person_name(user: Mapping[str, Any]) -> str | None:
    profile = user.get("profile") or {}
    for name in (
        profile.get("real_name"),
        user.get("real_name"),
        profile.get("display_name"),
        user.get("name"),
    ):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


class SlackNames:
    """A cache of people's and channels' names, shared by every reply of the process."""

    def __init__(
        self, *, ttl_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, str | None]] = {}

    def readable(self, client: WebClient, text: str) -> str:
        """`text` with every user, channel and group reference as `@name` / `#name`."""
        if "<" not in text:
            return text

        def replace(match: re.Match[str]) -> str:
            kind, ref_id, label, everyone = match.groups()
            if everyone:
                return f"@{everyone}"
            if kind == "!subteam^":
                return label if label and label.startswith("@") else f"@{label or ref_id}"
            name = self._name(client, kind, ref_id)
            if name is None:
                if label:
                    return f"{kind}{label}"
                return match.group(0)
            return f"{kind}{name}"

        return _REFERENCE.sub(replace, text)

    def _name(self, client: WebClient, kind: str, ref_id: str) -> str | None:
        key = f"{kind}{ref_id}"
        now = self._clock()
        with self._lock:
            cached = self._known.get(key)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        name = self._look_up(client, kind, ref_id)
        with self._lock:
            self._known[key] = (now, name)
        return name

    @staticmethod
    def _look_up(client: WebClient, kind: str, ref_id: str) -> str | None:
        try:
            if kind == "@":
                return _person_name(client.users_info(user=ref_id).get("user") or {})
            channel = client.conversations_info(channel=ref_id).get("channel") or {}
            name = channel.get("name")
            return name if isinstance(name, str) and name else None
        except SlackApiError as error:
            log.info("no name for %s: %s", ref_id, error.response.get("error"))
            return None
