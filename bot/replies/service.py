"""The reply path, free of Slack: build the prompt, claim the exchange, call the model,
record what happened.

Secrets in the thread are redacted before the prompt is stored or sent to the model.

Order matters. The exchange is claimed before the model is called, so a retried or duplicated
delivery of the same message is refused by the store's unique constraints and never answered
twice. The reply is recorded before its feedback controls appear, so a click always finds it;
the exchange stays pending (still claimed) until Slack shows the reply whole, and is answered
then, so a process that dies between the two leaves it to another replica's recovery sweep,
which shows the stored reply, instead of a reply half shown or never seen. A model failure is
recorded (the question is kept) and apologised for. Slack's status call runs beside the model
call (the sink decides how), not before it.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.replies.apology import apology_for
from bot.replies.model_call import ModelCall, ModelFailure
from bot.replies.observer import ReplyObserver, ReplyRecord
from bot.replies.prompt import PromptBuilder
from bot.replies.sink import ReplySink
from bot.replies.turns import Turn
from curation.capture import Answer, Capture, ConversationRef
from curation.outage import OutageRetry, StoreUnavailable
from curation.scrub import scrub_messages

log = logging.getLogger("tuneloop.bot.replies")


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    DUPLICATE = "duplicate"  # another delivery of this message is (or was) answered
    FAILED = "failed"
    UNSENT = "unsent"  # answered, but Slack would not take it: kept for a later delivery
    WITHDRAWN = "withdrawn"  # the question was deleted: not answered, nothing left shown


@dataclass
class _Attempt:
    """What one answer did, for the observer: filled in as the reply path goes."""

    model: str = ""
    started: float | None = None
    first_piece: float | None = None
    ended: float | None = None
    failure: str | None = None


@dataclass(frozen=True)
class ReplyRequest:
    """A question in its conversation: where it was asked and the turns up to it.

    `notes` are shown under the reply (files the bot could not read, say). `withdrawn` is set
    when the question is deleted while it is being answered: the model call stops and what
    was shown is taken back."""

    ref: ConversationRef
    turns: Sequence[Turn]
    notes: Sequence[str] = ()
    withdrawn: threading.Event = field(default_factory=threading.Event)


class ReplyService:
    def __init__(
        self,
        capture: Capture,
        model_call: ModelCall,
        prompt: PromptBuilder,
        active_model: Callable[[], str],
        *,
        clock: Callable[[], float] = time.monotonic,
        observe: ReplyObserver | None = None,
        store_calls: OutageRetry | None = None,
    ) -> None:
        """`observe` is told of every question handled (see `ReplyRecord`); `clock` is in
        seconds (monotonic); `store_calls` rides out a database outage on the store calls
        (see `curation.outage`)."""
        self._capture = capture
        self._model_call = model_call
        self._prompt = prompt
        self._active_model = active_model
        self._clock = clock
        self._observe = observe
        self._stored = store_calls or OutageRetry()

    def answer(self, request: ReplyRequest, sink: ReplySink) -> Outcome:
        attempt = _Attempt()
        outcome = self._answer(request, sink, attempt)
        if self._observe is not None:
            self._tell(self._observe, outcome, attempt)
        return outcome

    def _answer(self, request: ReplyRequest, sink: ReplySink, attempt: _Attempt) -> Outcome:
        try:
            # Per message, so a promotion shows on the next reply; read from the store.
            model = attempt.model = self._stored(self._active_model)
            # The provider sees no secret the store would not keep: the prompt is scrubbed as
            # the store scrubs it, before it is stored or sent.
            messages = scrub_messages(self._prompt.build(request.turns, model))
            exchange_id, created = self._stored(self._capture.claim_exchange, request.ref, messages)
        except StoreUnavailable as error:
            log.error("could not record message %s: %s", request.ref.message_ts, error)
            self._apologise(sink, "store_unavailable")
            return Outcome.FAILED
        if not created:
            log.info("not answering %s again (exchange %s)", request.ref.message_ts, exchange_id)
            return Outcome.DUPLICATE
        return self._respond(
            exchange_id, model, messages, sink, attempt, request.notes, request.withdrawn
        )

    def resume(self, exchange_id: int, messages: list[dict[str, Any]], sink: ReplySink) -> Outcome:
        """Answer an exchange this replica took over from one that died, from the prompt
        stored with it, with the model served now."""
        log.info("answering exchange %s, abandoned by a replica that died", exchange_id)
        attempt = _Attempt()
        attempt.model = model = self._stored(self._active_model)
        outcome = self._respond(exchange_id, model, messages, sink, attempt)
        if self._observe is not None:
            self._tell(self._observe, outcome, attempt)
        return outcome

    def abandon(self, exchange_id: int, sink: ReplySink, *, reason: str) -> Outcome:
        """An exchange taken over too late to answer: record why, and tell the person."""
        self._stored(self._capture.fail_exchange, exchange_id, error=reason, model=None)
        self._apologise(sink, "abandoned")
        return Outcome.FAILED

    def _respond(
        self,
        exchange_id: int,
        model: str,
        messages: list[dict[str, Any]],
        sink: ReplySink,
        attempt: _Attempt,
        notes: Sequence[str] = (),
        withdrawn: threading.Event | None = None,
    ) -> Outcome:
        """Call the model for a claimed exchange, show the reply (with `notes` under it) and
        record it; stop, and take back what was shown, once `withdrawn` is set."""
        withdrawn = withdrawn or threading.Event()
        sink.thinking()
        started = attempt.started = self._clock()
        try:
            reply = self._model_call.stream(model, messages)
            pieces = iter(reply)
            for piece in pieces:
                if withdrawn.is_set():
                    pieces.close()  # closes the model's HTTP stream: it stops generating
                    break
                if attempt.first_piece is None:
                    attempt.first_piece = self._clock()
                sink.write(piece)
        except ModelFailure as failure:
            attempt.failure, attempt.ended = failure.kind, self._clock()
            latency_ms = self._elapsed_ms(started)
            log.error(
                "model %s failed for exchange %s after %d ms: %s",
                model,
                exchange_id,
                latency_ms,
                failure,
            )
            self._stored(
                self._capture.fail_exchange,
                exchange_id,
                error=str(failure),
                model=model,
                latency_ms=latency_ms,
            )
            self._apologise(sink, failure.kind)
            return Outcome.FAILED
        except Exception as error:  # not the model's fault: a bug on the way, say
            attempt.failure, attempt.ended = "undelivered", self._clock()
            return self._undelivered(exchange_id, model, self._elapsed_ms(started), error)
        if withdrawn.is_set():
            return self._withdraw(sink, exchange_id)
        latency_ms = self._elapsed_ms(started)
        attempt.ended = self._clock()
        answer = Answer(
            reply=reply.text,
            model=model,
            reply_ts=sink.settle(),
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            latency_ms=latency_ms,
        )
        try:
            stored = self._stored(
                self._capture.complete_exchange,
                exchange_id,
                answer,
                delivering=True,
                message_ts=sink.message_ts,
            )
            if not stored:
                return self._withdraw(sink, exchange_id)  # deleted meanwhile (another replica)
        except StoreUnavailable as error:
            # The reply is shown already; close it rather than leave it half-streamed.
            log.error("could not record the reply to exchange %s: %s", exchange_id, error)
        try:
            reply_ts = sink.finish(exchange_id, notes)
        except Exception as error:
            log.error("could not post the reply to exchange %s", exchange_id, exc_info=error)
            attempt.failure = "undelivered"
            notice_ts = sink.give_up()
            self._capture.mark_unsent(
                exchange_id,
                error=f"Slack refused the reply: {error}",
                message_ts=sink.message_ts,  # a later delivery rewrites these, not repeats them
                notice_ts=notice_ts,
            )
            return Outcome.UNSENT
        # Shown whole: answered, with the message that carries the controls (reactions find
        # it by that) and every message of a reply in several (a deletion takes all back).
        try:
            delivered = self._stored(
                self._capture.mark_delivered, exchange_id, reply_ts, sink.message_ts
            )
        except StoreUnavailable as error:
            log.error("could not record the delivery of exchange %s: %s", exchange_id, error)
        else:
            if not delivered:
                log.info("exchange %s was no longer this replica's to deliver", exchange_id)
        if withdrawn.is_set():  # deleted while the controls went up
            return self._withdraw(sink, exchange_id)
        return Outcome.ANSWERED

    def decline(self, ref: ConversationRef, question: str, reply: str, sink: ReplySink) -> Outcome:
        """Answer without the model: `reply` says why (a message holding only files the bot
        cannot read, say). Recorded as a failed exchange, once: a repeated delivery of the
        message gets no second reply."""
        exchange_id, created = self._capture.claim_exchange(
            ref, [{"role": "user", "content": question}]
        )
        if not created:
            return Outcome.DUPLICATE
        self._capture.fail_exchange(exchange_id, error=f"not answered: {reply}", model=None)
        self._apologise_with(sink, reply)
        return Outcome.FAILED

    @staticmethod
    def _withdraw(sink: ReplySink, exchange_id: int) -> Outcome:
        log.info("the question of exchange %s was deleted: reply withdrawn", exchange_id)
        sink.withdraw()
        return Outcome.WITHDRAWN

    def _undelivered(
        self, exchange_id: int, model: str, latency_ms: int, error: Exception
    ) -> Outcome:
        log.error("could not post the reply to exchange %s", exchange_id, exc_info=error)
        self._stored(
            self._capture.fail_exchange,
            exchange_id,
            error=f"the reply could not be posted: {error}",
            model=model,
            latency_ms=latency_ms,
        )
        return Outcome.FAILED

    @staticmethod
    def _tell(observe: ReplyObserver, outcome: Outcome, attempt: _Attempt) -> None:
        def since_start(at: float | None) -> float | None:
            if attempt.started is None or at is None:
                return None
            return max(0.0, at - attempt.started)

        record = ReplyRecord(
            outcome=outcome.value,
            model=attempt.model,
            seconds=since_start(attempt.ended),
            first_token_seconds=since_start(attempt.first_piece),
            failure=attempt.failure,
        )
        try:
            observe(record)
        except Exception:
            log.exception("the reply observer failed")

    def _elapsed_ms(self, started: float) -> int:
        return int((self._clock() - started) * 1000)

    @staticmethod
    def _apologise(sink: ReplySink, kind: str) -> None:
        ReplyService._apologise_with(sink, apology_for(kind))

    @staticmethod
    def _apologise_with(sink: ReplySink, text: str) -> None:
        try:
            sink.apologise(text)
        except Exception:
            log.exception("could not post the apology")
