"""Capture: exchanges, feedback and corrections, each write safe to repeat.

Slack retries events and sends an action on every click, so every write here is idempotent:
unique constraints decide, inside savepoints, and a repeat returns the row already stored.
Secrets are redacted before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, Update, bindparam, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from curation.claims import ClaimRules, Claims
from curation.correction_limits import CorrectionLimits, check_correction_limits
from curation.db import Database, upsert_insert
from curation.errors import NotFoundError, ValidationError
from curation.fingerprints import exact_text
from curation.models import (
    Correction,
    Exchange,
    ExchangeStatus,
    Feedback,
    FeedbackKind,
    ReviewItem,
    ReviewKind,
)
from curation.models.base import utcnow
from curation.review_queue import open_item_for, queue_signal
from curation.scrub import clean_for_storage, scrub_messages


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """Where a question was asked. `thread_ts` is the thread root (the message itself when it
    starts a thread); `event_id` is Slack's id for the delivery, when there is one."""

    channel_id: str
    message_ts: str
    thread_ts: str
    user_id: str
    team_id: str = ""
    event_id: str | None = None

    @property
    def thread_key(self) -> str:
        return f"{self.team_id}:{self.channel_id}:{self.thread_ts}"


@dataclass(frozen=True, slots=True)
class Reply:
    """A stored reply of the bot's: its exchange and text."""

    exchange_id: int
    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    reply: str
    model: str
    reply_ts: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int | None = None


#: The reply path's writes, built once: executed on a Core connection they skip statement
#: construction and the ORM's unit of work, which cost several times the SQL itself.
_EXCHANGES = Exchange.__table__
#: A repeated delivery (Slack retrying an event, or `app_mention` and `message` for one
#: message) always repeats the channel and the message ts, so that unique constraint is the
#: claim's arbiter. Naming it matters: a bare ON CONFLICT DO NOTHING also swallows a primary-key
#: collision (an id sequence behind the data, after a restore) and reports it as a duplicate.
DELIVERY_CONSTRAINT = "uq_exchanges_channel_id_message_ts"


@cache
def delivery_insert(dialect_name: str) -> Insert:
    """An INSERT into the exchanges that does nothing when the delivery constraint finds the
    question stored, for the dialect `dialect_name` (`engine.dialect.name`). Built on its first
    use and kept, so a SQLite store never imports the PostgreSQL dialect. Raises ValueError for
    a dialect other than PostgreSQL's or SQLite's."""
    if dialect_name == "postgresql":
        return upsert_insert("postgresql", _EXCHANGES).on_conflict_do_nothing(
            constraint=DELIVERY_CONSTRAINT
        )
    # SQLite's upsert names the columns of a unique index, not a constraint
    # (https://www.sqlite.org/lang_upsert.html).
    return upsert_insert(dialect_name, _EXCHANGES).on_conflict_do_nothing(
        index_elements=["channel_id", "message_ts"]
    )


@cache
def claim_statement(dialect_name: str) -> Insert:
    """The claim: `delivery_insert`, returning the new exchange's id (no row when the
    question is stored already)."""
    return delivery_insert(dialect_name).returning(_EXCHANGES.c.id)


_UPDATE_EXCHANGE = update(_EXCHANGES).where(_EXCHANGES.c.id == bindparam("exchange_id"))
#: The same for the reply path's writes, which must never bring a deleted question back.
_UPDATE_LIVE_EXCHANGE = _UPDATE_EXCHANGE.where(_EXCHANGES.c.status != ExchangeStatus.DELETED)
#: A reply shown whole: only while it is still being shown (pending) or kept (unsent) and this
#: replica (`holder`) holds its claim. Prebuilt: it runs once per message.
_MARK_DELIVERED = _UPDATE_EXCHANGE.where(
    _EXCHANGES.c.status.in_((ExchangeStatus.PENDING.value, ExchangeStatus.UNSENT.value)),
    _EXCHANGES.c.claimed_by == bindparam("holder"),
)
#: Attempts at a claim whose id collides with a stored row (the sequence is moved past the
#: data between attempts; another process may be doing the same).
_CLAIM_ATTEMPTS = 3

log = logging.getLogger(__name__)


def _violated_constraint(error: IntegrityError) -> str | None:
    """The name of the constraint PostgreSQL reports as violated (psycopg's `diag`); None on
    SQLite, whose messages name columns instead."""
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def _move_sequence_past_data(connection: Connection) -> None:
    """Set the exchanges' id sequence after the largest stored id (PostgreSQL). A restore
    that loads rows without their sequence leaves it behind the data; every insert then
    collides with a stored row."""
    moved = connection.execute(
        sql_text(
            "SELECT setval(pg_get_serial_sequence('exchanges', 'id'), "
            "(SELECT COALESCE(MAX(id), 0) + 1 FROM exchanges), false)"
        )
    ).scalar()
    log.warning(
        "the exchanges' id sequence was behind the stored rows (a restore?); "
        "it now continues at %s",
        moved,
    )


def _insert_claim(connection: Connection, values: dict[str, Any]) -> int | None:
    """Insert a claimed exchange: its id, or None when the delivery constraint finds it
    stored. Raises IntegrityError for any other constraint."""
    claim = claim_statement(connection.dialect.name)
    attempt = 1
    while True:
        try:
            return connection.execute(claim, values).scalar()
        except IntegrityError as error:
            if _violated_constraint(error) != "pk_exchanges" or attempt == _CLAIM_ATTEMPTS:
                raise
        _move_sequence_past_data(connection)
        attempt += 1


def _insert_unique(session: Session, row: Any) -> IntegrityError | None:
    """Add `row`; the refusal (and nothing written) when a constraint says no. The caller
    looks the row up by its unique key and re-raises the refusal when it is not there: then
    another constraint refused (a foreign key, an id sequence behind the data)."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as refusal:
        return refusal
    return None


class Capture:
    """The writes that people's conversations and clicks cause. Exchanges are claimed for
    `claims.replica_id` (a fresh id per process unless given; see `curation.claims`).
    `correction_limits`: how many corrections one person, and one reply, may get within a
    window (counted from the store); `clock`: the time corrections are stamped and counted
    with (injected in tests)."""

    def __init__(
        self,
        db: Database,
        claims: ClaimRules | None = None,
        *,
        correction_limits: CorrectionLimits | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self.claims = Claims(db, claims or ClaimRules())
        self._limits = correction_limits or CorrectionLimits()
        self._clock = clock

    @property
    def replica_id(self) -> str:
        return self.claims.rules.replica_id

    # --- exchanges ----------------------------------------------------------------------------

    def claim_exchange(
        self, ref: ConversationRef, prompt_messages: list[dict[str, Any]]
    ) -> tuple[int, bool]:
        """Record that a question is being answered, claimed by this replica. Returns
        (exchange id, created).

        `created` is False for a retried or duplicate delivery (same event id, or same channel
        and message ts): the caller must not answer again. A delivery whose stored claim was
        abandoned by a dead replica (see `curation.claims`) takes the claim over and is
        answered: `created` is True.
        """
        now = self.claims.rules.now()
        values = dict(
            event_id=ref.event_id,
            team_id=ref.team_id,
            channel_id=ref.channel_id,
            thread_ts=ref.thread_ts,
            message_ts=ref.message_ts,
            user_id=ref.user_id,
            thread_key=ref.thread_key,
            prompt_messages=scrub_messages(prompt_messages),
            status=ExchangeStatus.PENDING,
            created_at=now,
            claimed_by=self.replica_id,
            claimed_at=now,
        )
        exchange_id, created = self._claim(ref, values)
        if created or not self.claims.take_over(
            exchange_id,
            self.claims.owner(exchange_id),
            values={"prompt_messages": values["prompt_messages"]},
        ):
            return exchange_id, created
        log.warning(
            "exchange %s (%s/%s) was claimed by a replica that died; answering it here",
            exchange_id,
            ref.channel_id,
            ref.message_ts,
        )
        return exchange_id, True

    def _claim(self, ref: ConversationRef, values: dict[str, Any]) -> tuple[int, bool]:
        with self._db.statements() as connection:
            # One statement on the hot path: the delivery constraint decides, and a repeated
            # delivery inserts nothing and returns no row.
            try:
                exchange_id = _insert_claim(connection, values)
            except IntegrityError:
                # Not the arbiter: a stored row with this event id but another message (Slack
                # never sends one). A repeat all the same, if that row is there.
                existing = connection.execute(
                    select(Exchange.id).where(Exchange.event_id == ref.event_id)
                ).scalar()
                if ref.event_id is None or existing is None:
                    raise
                return existing, False
            if exchange_id is not None:
                return exchange_id, True
            existing = connection.execute(
                select(Exchange.id).where(
                    Exchange.channel_id == ref.channel_id, Exchange.message_ts == ref.message_ts
                )
            ).scalar()
            if existing is None:
                # Only a delete between the two statements gets here; nothing deletes
                # exchanges on the reply path, so say so loudly rather than not answer.
                raise RuntimeError(
                    f"claim of {ref.channel_id}/{ref.message_ts} met a stored delivery that is gone"
                )
            return existing, False

    def complete_exchange(
        self,
        exchange_id: int,
        answer: Answer,
        *,
        delivering: bool = False,
        message_ts: Sequence[str] = (),
    ) -> bool:
        """Store the reply of a claimed exchange. False (and nothing stored) when its
        question was deleted meanwhile: the reply must not be shown either.

        `delivering`: the reply is about to be shown in Slack. It is stored, and the exchange
        stays pending (claimed by this replica) until `mark_delivered`: if the process dies in
        between, the recovery sweep of another replica (or of the next start) finds a pending
        exchange with its reply and delivers that, rather than leave it half shown or unseen
        (or ask the model again). `message_ts`: the messages of it Slack shows already (a
        long streamed reply), which such a delivery rewrites instead of repeating. (Its status
        changes once, as before: the counts' triggers and the partial indexes do no more.)"""
        values: dict[str, Any] = {}
        if len(message_ts) > 1:
            values["reply_message_ts"] = list(message_ts)
        return self._update_live(
            exchange_id,
            reply=clean_for_storage(answer.reply),
            model=answer.model,
            reply_ts=answer.reply_ts,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            latency_ms=answer.latency_ms,
            error=None,
            answered_at=utcnow(),
            **values,
            **({} if delivering else {"status": ExchangeStatus.ANSWERED}),
        )

    def fail_exchange(
        self, exchange_id: int, *, error: str, model: str | None, latency_ms: int | None = None
    ) -> None:
        """The model failed: keep the question, with the error, for later (unless the
        question was deleted meanwhile)."""
        self._update_live(
            exchange_id,
            status=ExchangeStatus.FAILED,
            error=clean_for_storage(error)[:2000],
            model=model,
            latency_ms=latency_ms,
        )

    def mark_unsent(
        self,
        exchange_id: int,
        *,
        error: str,
        message_ts: Sequence[str] = (),
        notice_ts: str | None = None,
    ) -> bool:
        """The reply is stored but Slack would not take it: keep it for a later delivery.
        `message_ts`: the messages of it Slack shows already (a later delivery rewrites them
        rather than posting the reply twice); `notice_ts`: the notice left meanwhile. False
        (nothing written) when the question was deleted."""
        values: dict[str, Any] = {
            "status": ExchangeStatus.UNSENT,
            "error": clean_for_storage(error)[:2000],
        }
        if message_ts:
            values["reply_message_ts"] = list(message_ts)
        if notice_ts is not None:
            values["notice_ts"] = notice_ts
        return self._update_live(exchange_id, **values)

    def _held_unsent(self, exchange_id: int) -> Update:
        """UPDATE of `exchange_id` while it is unsent and this replica holds its claim (the
        fence of every later-delivery write, as `Claims.take_over` fences a take-over)."""
        return update(_EXCHANGES).where(
            _EXCHANGES.c.id == exchange_id,
            _EXCHANGES.c.status == ExchangeStatus.UNSENT,
            _EXCHANGES.c.claimed_by == self.replica_id,
        )

    def take_unsent(self, exchange_id: int) -> Exchange | None:
        """Count one delivery attempt of an unsent reply this replica holds, and return it;
        None when it is no longer unsent (delivered, deleted) or no longer this replica's
        (taken over by another: the claim fences it, as `Claims.take_over` does). It stays
        unsent until `mark_delivered` (a click on its controls finds it all the same), so a
        process that dies during the attempt leaves it to the recovery sweep; a delivery
        that fails calls `mark_unsent` again."""
        with self._db.statements() as connection:
            taken = connection.execute(
                self._held_unsent(exchange_id).values(
                    error=None, delivery_attempts=_EXCHANGES.c.delivery_attempts + 1
                )
            ).rowcount
        return self.exchange(exchange_id) if taken == 1 else None

    def give_up_unsent(self, exchange_id: int, *, error: str) -> bool:
        """Stop delivering an unsent reply (tried too often, or too late to be of use): it
        becomes failed, with `error`, and keeps its reply. True when this replica made the
        change (it held the claim and the reply was still unsent): then, and only then, the
        caller says so."""
        with self._db.statements() as connection:
            changed = connection.execute(
                self._held_unsent(exchange_id).values(
                    status=ExchangeStatus.FAILED, error=clean_for_storage(error)[:2000]
                )
            ).rowcount
        return changed == 1

    def mark_delivered(
        self, exchange_id: int, reply_ts: str | None, message_ts: Sequence[str] = ()
    ) -> bool:
        """A reply this replica holds (being shown, or unsent) is shown whole in Slack: it is
        answered, with the ts of the message that carries its controls (`reply_ts`, kept as
        stored when None) and, for a reply in several messages, every one of them
        (`message_ts`, oldest first); a notice left meanwhile is gone. False (nothing written)
        when it was not this replica's to deliver any more (taken over, deleted, given up)."""
        values: dict[str, Any] = {
            "status": ExchangeStatus.ANSWERED,
            "reply_message_ts": list(message_ts) if len(message_ts) > 1 else None,
            "notice_ts": None,
        }
        if reply_ts is not None:
            values["reply_ts"] = reply_ts
        params = {"exchange_id": exchange_id, "holder": self.replica_id, **values}
        with self._db.statements() as connection:
            changed = connection.execute(_MARK_DELIVERED, params).rowcount
        return changed == 1

    def _update_live(self, exchange_id: int, **values: Any) -> bool:
        """`_update`, unless the question is deleted: then False and nothing written."""
        with self._db.statements() as connection:
            result = connection.execute(
                _UPDATE_LIVE_EXCHANGE, {"exchange_id": exchange_id, **values}
            )
            if result.rowcount == 1:
                return True
            if connection.execute(select(Exchange.id).where(Exchange.id == exchange_id)).first():
                return False
            raise NotFoundError(f"exchange {exchange_id} does not exist")

    def _update(self, exchange_id: int, **values: Any) -> None:
        """One prebuilt UPDATE: no read before the write, and no row read back."""
        with self._db.statements() as connection:
            result = connection.execute(_UPDATE_EXCHANGE, {"exchange_id": exchange_id, **values})
            if result.rowcount != 1:
                raise NotFoundError(f"exchange {exchange_id} does not exist")

    def record_exchange(
        self, ref: ConversationRef, prompt_messages: list[dict[str, Any]], answer: Answer
    ) -> tuple[Exchange, bool]:
        """Claim and complete in one call (imports, tests). Idempotent like `claim_exchange`."""
        exchange_id, created = self.claim_exchange(ref, prompt_messages)
        if created:
            self.complete_exchange(exchange_id, answer)
        return self.exchange(exchange_id), created

    def set_reply_ts(self, exchange_id: int, reply_ts: str, message_ts: Sequence[str] = ()) -> None:
        """Remember the ts of the posted reply (the message with its controls), so reactions
        on it find the exchange; and, for a reply shown in several messages, every one of
        them (`message_ts`, oldest first), so a deleted question takes all of them back."""
        if len(message_ts) > 1:
            self._update(exchange_id, reply_ts=reply_ts, reply_message_ts=list(message_ts))
        else:
            self._update(exchange_id, reply_ts=reply_ts)

    def exchange(self, exchange_id: int) -> Exchange:
        with self._db.read_session() as session:
            return self._get(session, exchange_id)

    def exchange_by_message(self, channel_id: str, message_ts: str) -> Exchange | None:
        """The exchange of the question at (channel, ts), if the bot took it."""
        with self._db.read_session() as session:
            return session.scalar(
                select(Exchange).where(
                    Exchange.channel_id == channel_id, Exchange.message_ts == message_ts
                )
            )

    def exchange_by_reply(self, channel_id: str, reply_ts: str) -> Exchange | None:
        """The exchange whose reply is the message at (channel, ts), if it is one of ours."""
        with self._db.read_session() as session:
            return session.scalar(
                select(Exchange).where(
                    Exchange.channel_id == channel_id, Exchange.reply_ts == reply_ts
                )
            )

    def thread_replies(self, team_id: str, channel_id: str, thread_ts: str) -> dict[str, Reply]:
        """The bot's replies in this thread as stored (the model's text, secrets redacted), by
        the ts of every Slack message that shows one: a thread read back from Slack gives the
        text as posted (pages of a long reply, links rewritten) and escaped as Slack escapes."""
        key = ConversationRef(channel_id, thread_ts, thread_ts, "", team_id).thread_key
        shown = (ExchangeStatus.ANSWERED, ExchangeStatus.UNSENT)
        query = select(
            Exchange.id, Exchange.reply, Exchange.reply_ts, Exchange.reply_message_ts
        ).where(Exchange.thread_key == key, Exchange.status.in_(shown))
        replies: dict[str, Reply] = {}
        with self._db.read_session() as session:
            for exchange_id, reply, reply_ts, message_ts in session.execute(query):
                if reply is None:
                    continue
                for ts in [*(message_ts or ()), *([reply_ts] if reply_ts else [])]:
                    replies[ts] = Reply(exchange_id, reply)
        return replies

    def thread_has_exchange(self, team_id: str, channel_id: str, thread_ts: str) -> bool:
        """Whether the bot already answered in this thread (then no mention is needed)."""
        return bool(self.thread_askers(team_id, channel_id, thread_ts))

    def thread_askers(self, team_id: str, channel_id: str, thread_ts: str) -> set[str]:
        """The people whose questions the bot took in this thread (deleted ones aside)."""
        key = ConversationRef(channel_id, thread_ts, thread_ts, "", team_id).thread_key
        with self._db.read_session() as session:
            return set(
                session.scalars(
                    select(Exchange.user_id)
                    .where(Exchange.thread_key == key, Exchange.status != ExchangeStatus.DELETED)
                    .distinct()
                )
            )

    @staticmethod
    def _get(session: Session, exchange_id: int) -> Exchange:
        exchange = session.get(Exchange, exchange_id)
        if exchange is None:
            raise NotFoundError(f"exchange {exchange_id} does not exist")
        return exchange

    # --- feedback and corrections --------------------------------------------------------------

    def add_feedback(
        self, exchange_id: int, user_id: str, kind: FeedbackKind
    ) -> tuple[Feedback, ReviewItem | None, bool]:
        """Record one person's signal. Returns (feedback, open review item, created).

        Repeats (the same person clicking again) change nothing. Thumbs-down and flags queue the
        exchange for review as bad; a thumbs-up queues it as a candidate positive example.
        """
        with self._db.session() as session:
            exchange = self._get(session, exchange_id)
            if not exchange.has_reply:
                raise ValidationError(f"exchange {exchange_id} has no reply to give feedback on")
            feedback = Feedback(exchange_id=exchange_id, user_id=user_id, kind=kind)
            refusal = _insert_unique(session, feedback)
            if refusal is not None:
                existing = session.scalar(
                    select(Feedback).where(
                        Feedback.exchange_id == exchange_id,
                        Feedback.user_id == user_id,
                        Feedback.kind == kind,
                    )
                )
                if existing is None:
                    raise refusal
                return existing, open_item_for(session, exchange_id), False
            review_kind = ReviewKind.FLAG if kind.is_negative else ReviewKind.UPVOTE
            item = queue_signal(session, exchange_id, review_kind, user_id)
            return feedback, item, True

    def add_correction(
        self,
        exchange_id: int,
        author_id: str,
        text: str,
        *,
        idempotency_key: str | None = None,
    ) -> tuple[Correction, ReviewItem | None, bool]:
        """Propose a better reply. Append-only; the exchange's reply is never changed.

        Returns (correction, open review item, created); with an `idempotency_key` (a Slack
        view id, say) a repeated submission returns the first correction. Raises
        RateLimitedError past the correction limits (a repeat is never counted again).
        """
        # Trimmed as the store compares texts: the first line's indentation is content.
        cleaned = exact_text(text) if isinstance(text, str) else ""
        if not cleaned:
            raise ValidationError("the correction is empty", [f"exchange {exchange_id}: text"])
        with self._db.session() as session:
            exchange = self._get(session, exchange_id)
            if exchange.reply is not None and cleaned == exact_text(exchange.reply):
                raise ValidationError(
                    "the correction is the same as the bot's reply",
                    [f"exchange {exchange_id}: text"],
                )
            if idempotency_key is not None:
                existing = session.scalar(
                    select(Correction).where(Correction.idempotency_key == idempotency_key)
                )
                if existing is not None:
                    return existing, open_item_for(session, existing.exchange_id), False
            now = self._clock()
            check_correction_limits(
                session, self._limits, exchange_id=exchange_id, author_id=author_id, now=now
            )
            correction = Correction(
                exchange_id=exchange_id,
                author_id=author_id,
                text=clean_for_storage(cleaned),
                idempotency_key=idempotency_key,
                created_at=now,
            )
            refusal = _insert_unique(session, correction)
            if refusal is not None:
                existing = session.scalar(
                    select(Correction).where(Correction.idempotency_key == idempotency_key)
                )
                if existing is None:
                    raise refusal
                return existing, None, False
            session.flush()
            item = queue_signal(
                session, exchange_id, ReviewKind.CORRECTION, author_id, correction.id
            )
            return correction, item, True
