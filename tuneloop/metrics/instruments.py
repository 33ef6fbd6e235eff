"""What this process counts: Slack requests received, replies and their latency, model errors,
and whether it leads the scheduler. One registry per process (not prometheus_client's global
one), so that tests and embedded uses build as many as they like."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.registry import Collector

from bot.replies.observer import ReplyRecord

#: Reply outcomes (bot.replies.Outcome), each exported from zero so rates work from the start.
REPLY_OUTCOMES = ("answered", "duplicate", "failed")
#: `ModelFailure.kind`s: the model gave no usable reply.
MODEL_ERROR_KINDS = (
    "rate_limited",
    "timeout",
    "unreachable",
    "model_not_found",
    "unavailable",
    "rejected",
    "interrupted",
    "empty",
)
#: A whole reply waits on the model: seconds, from a quick stand-in to a slow long answer.
REPLY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
#: The first token is what a person waits for before text appears.
FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
#: A Slack type as a label value; anything else is counted as "other" (bounded labels).
_SLACK_TYPE = re.compile(r"[a-z][a-z0-9_]{0,47}")


def slack_request_type(body: dict[str, Any]) -> str:
    """What kind of request Slack sent: the event's type for Events API callbacks
    (`app_mention`, `message`, `reaction_added`...), `slash_command` for commands, else the
    interaction payload's type (`block_actions`, `view_submission`, `shortcut`...)."""
    if body.get("type") == "event_callback":
        kind = (body.get("event") or {}).get("type")
    elif "command" in body:
        kind = "slash_command"
    else:
        kind = body.get("type")
    return kind if isinstance(kind, str) and _SLACK_TYPE.fullmatch(kind) else "other"


class Metrics:
    """This process's metrics and the registry that /metrics serves.

    Wire it in at the composition root: `observe_reply` as the bot's reply observer,
    `slack_middleware` as a Bolt global middleware, `set_leader` as the scheduler's leadership
    callback, `watch(collector)` for collectors read at scrape time.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.slack_requests = Counter(
            "tuneloop_slack_events_received",
            "Requests from Slack that passed verification: Events API events by event type, "
            "interactions by payload type, slash commands as slash_command.",
            ["type"],
            registry=r,
        )
        self.replies = Counter(
            "tuneloop_replies",
            "Questions the bot handled, by outcome (answered, duplicate delivery, failed).",
            ["outcome"],
            registry=r,
        )
        self.reply_seconds = Histogram(
            "tuneloop_reply_duration_seconds",
            "Seconds from the model call to the whole reply (or the failure), by outcome.",
            ["outcome"],
            buckets=REPLY_BUCKETS,
            registry=r,
        )
        self.first_token_seconds = Histogram(
            "tuneloop_reply_first_token_seconds",
            "Seconds from the model call to the first piece of the reply's text.",
            buckets=FIRST_TOKEN_BUCKETS,
            registry=r,
        )
        self.model_errors = Counter(
            "tuneloop_model_errors",
            "Model calls that gave no usable reply, by kind (the person got an apology).",
            ["kind"],
            registry=r,
        )
        self.undelivered = Counter(
            "tuneloop_undelivered_replies",
            "Replies the model wrote but Slack refused to show (posting or updating failed).",
            registry=r,
        )
        self.leader = Gauge(
            "tuneloop_scheduler_leader",
            "1 while this process holds the scheduler lease and runs the retraining cycle.",
            registry=r,
        )
        for outcome in REPLY_OUTCOMES:
            self.replies.labels(outcome)
        for kind in MODEL_ERROR_KINDS:
            self.model_errors.labels(kind)

    def observe_reply(self, record: ReplyRecord) -> None:
        """The bot's reply observer (`build_app(observe_reply=...)`)."""
        self.replies.labels(record.outcome).inc()
        if record.seconds is not None:
            self.reply_seconds.labels(record.outcome).observe(record.seconds)
        if record.first_token_seconds is not None:
            self.first_token_seconds.observe(record.first_token_seconds)
        if record.failure == "undelivered":
            self.undelivered.inc()
        elif record.failure is not None:
            self.model_errors.labels(record.failure).inc()

    def slack_middleware(self, body: dict[str, Any], next_: Callable[[], None]) -> None:
        """A Bolt global middleware (`app.use(...)`; Bolt passes arguments by these names):
        counts each verified request, then lets it through."""
        self.slack_requests.labels(slack_request_type(body)).inc()
        next_()

    def set_leader(self, leading: bool) -> None:
        """The scheduler's `on_leadership` callback."""
        self.leader.set(1 if leading else 0)

    def watch(self, collector: Collector) -> None:
        """Add a collector read at every scrape (the store's figures, say)."""
        self.registry.register(collector)
