"""The reply path, free of Slack: build the prompt, claim the exchange, call the model,
record what happened.

Order matters. The exchange is claimed before the model is called, so a retried or duplicated
delivery of the same message is refused by the store's unique constraints and never answered
twice. The reply is recorded before its feedback controls appear, so a click always finds an
answered exchange. A model failure is recorded (the question is kept) and apologised for.
Slack's status call runs beside the model call (the sink decides how), not before it.

The store's writes ride out a database outage (`store_calls`, bounded): the question waits in
this process and is answered once the store is back, or the person gets an apology when the
outage outlasts the bound. An exchange abandoned by a replica that died is answered here by
`resume` (from its stored prompt), or apologised for by `abandon` when it is too old.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.replies.apology import apology_for
from bot.replies.model_call import ModelCall, ModelFailure
from bot.replies.prompt import PromptBuilder
from bot.replies.sink import ReplySink
from bot.replies.turns import Turn
from curation.capture import Answer, Capture, ConversationRef
from curation.outage import OutageRetry, StoreUnavailable

log = logging.getLogger("tuneloop.bot.replies")


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    DUPLICATE = "duplicate"  # another delivery of this message is (or was) answered
    FAILED = "failed"


@dataclass(frozen=True)
class ReplyRequest:
    """A question in its conversation: where it was asked and the turns up to it."""

    ref: ConversationRef
    turns: Sequence[Turn]


class ReplyService:
    def __init__(
        self,
        capture: Capture,
        model_call: ModelCall,
        prompt: PromptBuilder,
        active_model: Callable[[], str],
        *,
        clock: Callable[[], float] = time.monotonic,
        store_calls: OutageRetry | None = None,
    ) -> None:
        self._capture = capture
        self._model_call = model_call
        self._prompt = prompt
        self._active_model = active_model
        self._clock = clock
        self._stored = store_calls or OutageRetry()

    def answer(self, request: ReplyRequest, sink: ReplySink) -> Outcome:
        try:
            # Per message, so a promotion shows on the next reply; read from the store.
            model = self._stored(self._active_model)
            messages = self._prompt.build(request.turns, model)
            exchange_id, created = self._stored(self._capture.claim_exchange, request.ref, messages)
        except StoreUnavailable as error:
            log.error("could not record message %s: %s", request.ref.message_ts, error)
            self._apologise(sink, "store_unavailable")
            return Outcome.FAILED
        if not created:
            log.info("not answering %s again (exchange %s)", request.ref.message_ts, exchange_id)
            return Outcome.DUPLICATE
        return self._respond(exchange_id, model, messages, sink)

    def resume(self, exchange_id: int, messages: list[dict[str, Any]], sink: ReplySink) -> Outcome:
        """Answer an exchange this replica took over from one that died, from the prompt
        stored with it, with the model served now."""
        log.info("answering exchange %s, abandoned by a replica that died", exchange_id)
        return self._respond(exchange_id, self._stored(self._active_model), messages, sink)

    def abandon(self, exchange_id: int, sink: ReplySink, *, reason: str) -> Outcome:
        """An exchange taken over too late to answer: record why, and tell the person."""
        self._stored(self._capture.fail_exchange, exchange_id, error=reason, model=None)
        self._apologise(sink, "abandoned")
        return Outcome.FAILED

    def _respond(
        self, exchange_id: int, model: str, messages: list[dict[str, Any]], sink: ReplySink
    ) -> Outcome:
        """Call the model for a claimed exchange, show the reply and record it."""
        sink.thinking()
        started = self._clock()
        try:
            reply = self._model_call.stream(model, messages)
            for piece in reply:
                sink.write(piece)
        except ModelFailure as failure:
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
        except Exception as error:  # Slack refused the reply while it was being written
            return self._undelivered(exchange_id, model, self._elapsed_ms(started), error)
        latency_ms = self._elapsed_ms(started)
        answer = Answer(
            reply=reply.text,
            model=model,
            reply_ts=sink.settle(),
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            latency_ms=latency_ms,
        )
        try:
            self._stored(self._capture.complete_exchange, exchange_id, answer)
        except StoreUnavailable as error:
            # The reply is shown already; close it rather than leave it half-streamed.
            log.error("could not record the reply to exchange %s: %s", exchange_id, error)
        try:
            reply_ts = sink.finish(exchange_id)
        except Exception as error:
            return self._undelivered(exchange_id, model, latency_ms, error)
        if reply_ts is not None and reply_ts != answer.reply_ts:
            self._stored(self._capture.set_reply_ts, exchange_id, reply_ts)  # reactions find it
        return Outcome.ANSWERED

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

    def _elapsed_ms(self, started: float) -> int:
        return int((self._clock() - started) * 1000)

    @staticmethod
    def _apologise(sink: ReplySink, kind: str) -> None:
        try:
            sink.apologise(apology_for(kind))
        except Exception:
            log.exception("could not post the apology")
