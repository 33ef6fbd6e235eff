"""Answers questions on the reply workers, a thread pool of their own.

Bolt runs listeners on its listener executor and waits there for button and modal `ack()`s.
A model call can take many seconds, so replies run on separate workers: however many
conversations are waiting on the model, a click is acknowledged at once. Exchanges taken over
from a replica that died are answered on the same workers (`resume`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from bot.conversation.delivery import DeliveryOptions, SlackReplySink, StreamingSwitch
from bot.conversation.thread import question_turns
from bot.conversation.triggers import conversation_ref, thread_root
from bot.replies import Outcome, ReplyRequest, ReplyService
from curation.capture import Capture
from curation.models import Exchange
from curation.outage import OutageRetry

log = logging.getLogger("tuneloop.bot.responder")


@dataclass(frozen=True)
class Question:
    """A message to answer, with what Bolt knew about it."""

    event: Mapping[str, Any]
    team_id: str
    event_id: str | None
    bot_user_id: str
    #: Answer only if the bot already answered in this thread (a reply without a mention).
    only_in_known_thread: bool = False


class Responder:
    def __init__(
        self,
        *,
        replies: ReplyService,
        capture: Capture,
        workers: Executor,
        streaming: StreamingSwitch,
        delivery: DeliveryOptions,
        history_messages: int,
        store_calls: OutageRetry | None = None,
    ) -> None:
        self._replies = replies
        self._capture = capture
        self._workers = workers
        self._streaming = streaming
        self._delivery = delivery
        self._history_messages = history_messages
        self._stored = store_calls or OutageRetry()

    def submit(self, client: WebClient, question: Question) -> Future[Outcome | None]:
        return self._workers.submit(self._answer_safely, client, question)

    def _answer_safely(self, client: WebClient, question: Question) -> Outcome | None:
        try:
            return self.answer(client, question)
        except Exception:
            log.exception("answering message %s failed", question.event.get("ts"))
            return None

    def answer(self, client: WebClient, question: Question) -> Outcome | None:
        event = question.event
        channel = str(event["channel"])
        if question.only_in_known_thread and not self._stored(
            self._capture.thread_has_exchange, question.team_id, channel, thread_root(event)
        ):
            return None
        turns = question_turns(
            client, event, bot_user_id=question.bot_user_id, max_messages=self._history_messages
        )
        if not turns[-1].content:
            return None  # a bare mention: nothing was asked
        user = str(event.get("user", ""))
        sink = self._sink(client, channel, thread_root(event), user, question.team_id)
        ref = conversation_ref(event, team_id=question.team_id, event_id=question.event_id)
        return self._replies.answer(ReplyRequest(ref, turns), sink)

    def resume(
        self, client: WebClient, exchange: Exchange, *, too_old: str | None = None
    ) -> Future[Outcome | None]:
        """Answer, in its thread, an exchange this replica took over from one that died; with
        `too_old` (the reason) apologise instead."""
        return self._workers.submit(self._resume_safely, client, exchange, too_old)

    def _resume_safely(
        self, client: WebClient, exchange: Exchange, too_old: str | None
    ) -> Outcome | None:
        sink = self._sink(
            client, exchange.channel_id, exchange.thread_ts, exchange.user_id, exchange.team_id
        )
        try:
            if too_old is not None:
                return self._replies.abandon(exchange.id, sink, reason=too_old)
            return self._replies.resume(exchange.id, exchange.prompt_messages, sink)
        except Exception:
            log.exception("answering exchange %s again failed", exchange.id)
            return None

    def _sink(
        self, client: WebClient, channel: str, thread_ts: str, user_id: str, team_id: str = ""
    ) -> SlackReplySink:
        return SlackReplySink(
            client,
            channel=channel,
            thread_ts=thread_ts,
            user_id=user_id,
            team_id=team_id,
            streaming=self._streaming,
            options=self._delivery,
        )
