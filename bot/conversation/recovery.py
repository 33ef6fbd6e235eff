"""No acknowledged question lost: this replica's heartbeat, and the sweep that answers
questions abandoned by replicas that died.

At start-up and then every `heartbeat_s`, the replica heartbeats its row and sweeps the store
for pending exchanges whose replica is dead (`curation.claims`): it takes each one over (one
replica wins each) and answers it in its thread from the stored prompt, on the reply workers.
A question older than `answer_within` gets an apology instead: an answer an hour late to a
question the person may have solved or asked again would only confuse.

A pending exchange whose reply is stored already (its replica died while showing it) is not
answered again: its reply is delivered as a kept one, below. The same sweep finds unsent
exchanges (the reply is stored, Slack would not take it) whose replica died with their later
deliveries still scheduled: it takes each over (fenced like a pending claim: one replica wins)
and delivers the kept reply, once. One older than
`answer_within`, or whose later deliveries (`DeliveryOptions.redeliver_after_s`, counted in
the store) are spent, is given up with one log line and the thread's notice says so.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from datetime import timedelta

from slack_sdk import WebClient

from bot.conversation.responder import Responder
from bot.replies import Outcome
from curation.capture import Capture
from curation.claims import Replicas
from curation.models import Exchange, ExchangeStatus

log = logging.getLogger("tuneloop.bot.recovery")

#: Replica rows silent for this many timeouts are deleted (their claims are judged by age).
FORGET_AFTER_TIMEOUTS = 10


class Recovery:
    def __init__(
        self,
        *,
        capture: Capture,
        replicas: Replicas,
        responder: Responder,
        client: WebClient,
        heartbeat_s: float = 10.0,
        answer_within: timedelta = timedelta(hours=1),
    ) -> None:
        self._capture = capture
        self._replicas = replicas
        self._responder = responder
        self._client = client
        self._heartbeat_s = heartbeat_s
        self._answer_within = answer_within
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Heartbeat and sweep once now (questions left by a previous run of this bot are
        answered at start-up), then on a background thread every `heartbeat_s`."""
        self.tick()
        self._thread = threading.Thread(target=self._run, name="tuneloop-recovery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop heartbeating and sweeping (the replica's row stays until `retire`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def retire(self) -> None:
        """Remove this replica's row once its answers are done (a clean shutdown)."""
        try:
            self._replicas.retire()
        except Exception:
            log.exception("could not remove this replica's row; it times out instead")

    def tick(self) -> list[Future[Outcome | None]]:
        """One heartbeat and one sweep; a failure (the database is down) is logged and the
        next tick tries again."""
        try:
            self._replicas.heartbeat()
            return self.sweep()
        except Exception as error:
            log.warning("recovery sweep failed (%s); trying again", type(error).__name__)
            return []

    def sweep(self) -> list[Future[Outcome | None]]:
        """Take over every abandoned exchange this replica can win, and answer each (or
        apologise for the old ones). Returns the replies under way."""
        claims = self._capture.claims
        rules = claims.rules
        under_way: list[Future[Outcome | None]] = []
        for abandoned in claims.abandoned():
            if not claims.take_over(abandoned.exchange_id, abandoned.claimed_by):
                continue  # another replica took it first
            age = rules.now() - abandoned.created_at
            too_old = None
            if age > self._answer_within:
                too_old = (
                    f"abandoned by replica {abandoned.claimed_by} and found "
                    f"{int(age.total_seconds())} s after it was asked: apologised instead"
                )
            exchange = self._capture.exchange(abandoned.exchange_id)
            if exchange.reply is not None:
                # Its replica died while showing the reply: deliver that, as a kept one.
                under_way.append(self._deliver_kept(exchange, abandoned.claimed_by, too_old))
                continue
            log.warning(
                "exchange %s was left unanswered by replica %s; %s",
                abandoned.exchange_id,
                abandoned.claimed_by,
                "apologising" if too_old else "answering it",
            )
            under_way.append(self._responder.resume(self._client, exchange, too_old=too_old))
        under_way += self._sweep_unsent()
        self._replicas.forget_dead(rules.timeout * FORGET_AFTER_TIMEOUTS)
        return under_way

    def _deliver_kept(
        self, exchange: Exchange, replica: str, too_old: str | None
    ) -> Future[Outcome | None]:
        """A pending exchange taken over with its reply stored: its replica died while showing
        it. The reply becomes unsent (with the messages Slack already shows, to be rewritten)
        and is delivered, or given up, as any kept reply: the model is not asked again."""
        log.warning(
            "the reply to exchange %s was being shown by replica %s when it died; delivering it",
            exchange.id,
            replica,
        )
        shown = exchange.reply_message_ts or ([exchange.reply_ts] if exchange.reply_ts else [])
        self._capture.mark_unsent(
            exchange.id, error=f"replica {replica} died while showing it", message_ts=shown
        )
        kept = self._capture.exchange(exchange.id)
        return self._responder.redeliver(self._client, kept, too_old=too_old)

    def _sweep_unsent(self) -> list[Future[Outcome | None]]:
        """Take over every unsent reply whose replica died (its timers for later deliveries
        died with it), and deliver each (or give it up when it is too old, or its later
        deliveries are spent: `Responder.redeliver`)."""
        claims = self._capture.claims
        rules = claims.rules
        under_way: list[Future[Outcome | None]] = []
        for abandoned in claims.abandoned(status=ExchangeStatus.UNSENT):
            if not claims.take_over(
                abandoned.exchange_id, abandoned.claimed_by, status=ExchangeStatus.UNSENT
            ):
                continue  # another replica took it first
            age = rules.now() - abandoned.created_at
            too_old = None
            if age > self._answer_within:
                too_old = (
                    f"left unsent by replica {abandoned.claimed_by} and found "
                    f"{int(age.total_seconds())} s after it was asked"
                )
            log.warning(
                "the reply to exchange %s was left undelivered by replica %s; %s",
                abandoned.exchange_id,
                abandoned.claimed_by,
                "giving it up: too old" if too_old else "delivering it",
            )
            exchange = self._capture.exchange(abandoned.exchange_id)
            under_way.append(self._responder.redeliver(self._client, exchange, too_old=too_old))
        return under_way

    def _run(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            self.tick()
