"""Posting retraining decisions to the review channel (`TUNELOOP_REVIEW_CHANNEL`).

The scheduler calls `notify(decision)` after each cycle with a mapping shaped like its
`CycleEvent` (cycle_id, outcome, note, candidate, incumbent, verdict, numbers); the
composition root adapts one to the other. A notification never raises: the decision is
already recorded, and a Slack outage must not undo or repeat it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.decision import decision_blocks, decision_text

log = logging.getLogger("tuneloop.bot.notify")


class SlackDecisionNotifier:
    def __init__(self, client: WebClient, channel: str) -> None:
        self._client = client
        self._channel = channel

    def notify(self, decision: Mapping[str, Any]) -> bool:
        """Post the decision; True if Slack took it."""
        try:
            self._client.chat_postMessage(
                channel=self._channel,
                text=decision_text(decision),
                blocks=decision_blocks(decision),
                unfurl_links=False,
            )
        except SlackApiError as error:
            log.error("could not post a retraining decision: %s", error.response.get("error"))
            return False
        except Exception:
            log.exception("could not post a retraining decision")
            return False
        return True
