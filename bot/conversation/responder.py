"""Answers questions on the reply workers, a thread pool of their own.

Bolt runs listeners on its listener executor and waits there for button and modal `ack()`s.
A model call can take many seconds, so replies run on separate workers: however many
conversations are waiting on the model, a click is acknowledged at once.

The responder also knows which questions it is answering right now, so a deleted question's
answer can be withdrawn mid-way, and it delivers again, later, a reply Slack would not take:
after `DeliveryOptions.redeliver_after_s`, each attempt counted in the store, until they are
spent. Exchanges taken over from a replica that died are answered on the same workers
(`resume`), and their kept replies delivered (`redeliver`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.conversation.delivery import (
    GAVE_UP_NOTICE,
    DeliveryOptions,
    SlackReplySink,
    StreamingSwitch,
    status_timers,
)
from bot.conversation.files import Attachments, FileReader, unreadable_reply
from bot.conversation.names import SlackNames
from bot.conversation.status import DelayedCalls
from bot.conversation.thread import question_turns
from bot.conversation.triggers import FollowUps, conversation_ref, thread_root
from bot.replies import Outcome, ReplyRequest, ReplyService, Turn
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
    #: Answer only if this message is for the bot by the thread rule (a reply in a thread the
    #: bot answered, without a mention: `bot.conversation.triggers.FollowUps`).
    only_as_follow_up: bool = False
    #: The asker's own team (a Slack Connect guest's team, not this workspace's).
    user_team_id: str = ""


@dataclass
class _InFlight:
    """The questions being answered in this process, by (channel, message ts)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    by_message: dict[tuple[str, str], threading.Event] = field(default_factory=dict)


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
        follow_ups: FollowUps,
        names: SlackNames,
        files: FileReader,
        store_calls: OutageRetry | None = None,
    ) -> None:
        self._replies = replies
        self._capture = capture
        self._workers = workers
        self._streaming = streaming
        self._delivery = delivery
        self._history_messages = history_messages
        self._follow_ups = follow_ups
        self._names = names
        self._files = files
        self._in_flight = _InFlight()
        self._later = DelayedCalls(workers)
        self._stored = store_calls or OutageRetry()
        status_timers()  # started with the bot, not by its first reply

    def submit(self, client: WebClient, question: Question) -> Future[Outcome | None]:
        withdrawn = self._track(question)
        return self._workers.submit(self._answer_safely, client, question, withdrawn)

    def withdraw(self, channel: str, message_ts: str) -> bool:
        """The question at (channel, ts) was deleted: stop answering it here. True when it
        was being answered (or waiting to be) in this process."""
        with self._in_flight.lock:
            withdrawn = self._in_flight.by_message.get((channel, message_ts))
        if withdrawn is None:
            return False
        withdrawn.set()
        return True

    def _track(self, question: Question) -> threading.Event:
        key = (str(question.event["channel"]), str(question.event["ts"]))
        with self._in_flight.lock:
            return self._in_flight.by_message.setdefault(key, threading.Event())

    def _untrack(self, question: Question) -> None:
        key = (str(question.event["channel"]), str(question.event["ts"]))
        with self._in_flight.lock:
            self._in_flight.by_message.pop(key, None)

    def _answer_safely(
        self, client: WebClient, question: Question, withdrawn: threading.Event
    ) -> Outcome | None:
        try:
            if withdrawn.is_set():
                return Outcome.WITHDRAWN
            return self.answer(client, question, withdrawn)
        except Exception:
            log.exception("answering message %s failed", question.event.get("ts"))
            return None
        finally:
            self._untrack(question)

    def answer(
        self,
        client: WebClient,
        question: Question,
        withdrawn: threading.Event | None = None,
    ) -> Outcome | None:
        event = question.event
        channel = str(event["channel"])
        if question.only_as_follow_up and not self._is_follow_up(question):
            return None
        turns = question_turns(
            client,
            event,
            bot_user_id=question.bot_user_id,
            max_messages=self._history_messages,
            readable=lambda text: self._names.readable(client, text),
            own_replies=lambda: self._stored(
                self._capture.thread_replies, question.team_id, channel, thread_root(event)
            ),
        )
        files = event.get("files") or []
        attachments = self._files.read(client.token, files) if files else Attachments()
        asked = turns[-1].content
        sink = self._sink(client, channel, thread_root(event), question)
        ref = conversation_ref(event, team_id=question.team_id, event_id=question.event_id)
        if not asked and not attachments.read:
            if attachments.unread:  # only files the bot cannot read: say so, briefly
                return self._replies.decline(
                    ref, attachments.text, unreadable_reply(attachments), sink
                )
            return None  # a bare mention: nothing was asked
        if attachments.text:
            turns[-1] = Turn("user", f"{asked}\n\n{attachments.text}".strip())
        request = ReplyRequest(
            ref, turns, notes=attachments.notes, withdrawn=withdrawn or threading.Event()
        )
        outcome = self._replies.answer(request, sink)
        if outcome is Outcome.UNSENT:
            user_id = str(event.get("user", ""))
            team_id = question.user_team_id or question.team_id
            later = _Later(client, ref.channel_id, ref.message_ts, ref.thread_ts, user_id, team_id)
            self._deliver_later(later, attempts=0)
        return outcome

    def _is_follow_up(self, question: Question) -> bool:
        event = question.event
        askers = self._stored(
            self._capture.thread_askers, question.team_id, str(event["channel"]), thread_root(event)
        )
        return bool(askers) and self._follow_ups.allows(
            event, askers, bot_user_id=question.bot_user_id
        )

    def resume(
        self, client: WebClient, exchange: Exchange, *, too_old: str | None = None
    ) -> Future[Outcome | None]:
        """Answer, in its thread, an exchange this replica took over from one that died; with
        `too_old` (the reason) apologise instead."""
        return self._workers.submit(self._resume_safely, client, exchange, too_old)

    def _resume_safely(
        self, client: WebClient, exchange: Exchange, too_old: str | None
    ) -> Outcome | None:
        sink = self._sink_for(
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
        self, client: WebClient, channel: str, thread_ts: str, question: Question
    ) -> SlackReplySink:
        user_id = str(question.event.get("user", ""))
        return self._sink_for(
            client, channel, thread_ts, user_id, question.user_team_id or question.team_id
        )

    def _sink_for(
        self, client: WebClient, channel: str, thread_ts: str, user_id: str, team_id: str
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

    # --- later delivery -------------------------------------------------------------------------
    def redeliver(
        self, client: WebClient, exchange: Exchange, *, too_old: str | None = None
    ) -> Future[Outcome | None]:
        """Deliver, in its thread, the kept reply of an unsent exchange this replica took over
        from one that died (after a restart, say); with `too_old` (the reason), or once its
        later deliveries are spent, give up instead (`_give_up`)."""
        later = _Later.of(client, exchange)
        spent = exchange.delivery_attempts >= len(self._delivery.redeliver_after_s)
        if too_old is None and spent:
            too_old = f"{exchange.delivery_attempts} later deliveries failed"
        if too_old is not None:
            return self._workers.submit(self._give_up_safely, later, exchange, too_old)
        return self._workers.submit(self._deliver_safely, later)

    def _deliver_later(self, later: _Later, attempts: int) -> None:
        """Try `later` again after the delay for its attempt number (`attempts` tried so
        far); or, once `DeliveryOptions.redeliver_after_s` is spent, give up."""
        delays = self._delivery.redeliver_after_s
        if attempts >= len(delays):
            exchange = self._capture.exchange_by_message(later.channel, later.message_ts)
            if exchange is not None:
                self._give_up(later, exchange, f"{attempts} later deliveries failed")
            return
        self._later.call_later(delays[attempts], lambda: self._deliver_safely(later))

    def _deliver_safely(self, later: _Later) -> Outcome | None:
        try:
            return self._deliver(later)
        except Exception:
            log.exception("delivering the kept reply to %s/%s failed", *later.where)
            return None

    def _give_up_safely(self, later: _Later, exchange: Exchange, reason: str) -> Outcome | None:
        try:
            return self._give_up(later, exchange, reason)
        except Exception:
            log.exception("giving up the kept reply to %s/%s failed", *later.where)
            return None

    def _deliver(self, later: _Later) -> Outcome | None:
        """One attempt: ANSWERED when Slack took the reply, UNSENT when it refused again (a
        next attempt is scheduled, or the reply given up), None when there was nothing to
        deliver here (delivered already, deleted, or another replica's now)."""
        exchange = self._capture.exchange_by_message(later.channel, later.message_ts)
        taken = self._capture.take_unsent(exchange.id) if exchange is not None else None
        if taken is None or taken.reply is None:
            return None
        sink = self._sink_for(
            later.client, later.channel, later.thread_ts, later.user_id, later.team_id
        )
        sink.adopt(taken.reply_message_ts or ([taken.reply_ts] if taken.reply_ts else []))
        sink.write(taken.reply)
        try:
            reply_ts = sink.finish(taken.id)
        except Exception as error:
            log.warning("delivering the reply to exchange %s failed again: %s", taken.id, error)
            self._capture.mark_unsent(
                taken.id, error=f"Slack refused the reply: {error}", message_ts=sink.message_ts
            )
            self._deliver_later(later, taken.delivery_attempts)
            return Outcome.UNSENT
        if not self._capture.mark_delivered(taken.id, reply_ts, sink.message_ts):
            log.info("exchange %s was no longer this replica's to deliver", taken.id)
        if taken.notice_ts is not None:
            try:
                later.client.chat_delete(channel=later.channel, ts=taken.notice_ts)
            except SlackApiError as error:
                log.info("the undelivered notice stays: %s", error.response.get("error"))
        log.info(
            "delivered the kept reply to exchange %s (attempt %d)",
            taken.id,
            taken.delivery_attempts,
        )
        return Outcome.ANSWERED

    def _give_up(self, later: _Later, exchange: Exchange, reason: str) -> Outcome | None:
        """Stop trying: the exchange becomes failed (its reply kept in the store), said once
        in the log by the replica holding it, and the notice in the thread says so."""
        if not self._capture.give_up_unsent(exchange.id, error=f"not delivered: {reason}"):
            return None  # delivered, deleted, or another replica's: nothing to give up
        log.error(
            "gave up delivering the reply to exchange %s (%s/%s): %s; it is kept in the store "
            "as failed, and the person is asked to ask again",
            exchange.id,
            *later.where,
            reason,
        )
        if exchange.notice_ts is not None:
            try:
                later.client.chat_update(
                    channel=later.channel, ts=exchange.notice_ts, text=GAVE_UP_NOTICE
                )
            except SlackApiError as error:
                log.warning("could not update the undelivered notice: %s", error)
        return Outcome.FAILED


@dataclass(frozen=True)
class _Later:
    """A reply to deliver again: where its question was asked, and to whom it streams."""

    client: WebClient
    channel: str
    message_ts: str
    thread_ts: str
    user_id: str
    team_id: str

    @property
    def where(self) -> tuple[str, str]:
        return self.channel, self.message_ts

    @classmethod
    def of(cls, client: WebClient, exchange: Exchange) -> _Later:
        return cls(
            client,
            exchange.channel_id,
            exchange.message_ts,
            exchange.thread_ts,
            exchange.user_id,
            exchange.team_id,
        )
