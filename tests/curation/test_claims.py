"""Claims that outlive their process: a pending exchange whose replica died is found and taken
over exactly once, and a retried delivery of it is answered, not dropped as a duplicate;
a live replica's claims are never taken."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from curation.capture import Capture, ConversationRef
from curation.claims import ClaimRules, Replicas
from curation.db import Database
from curation.models import Exchange

T0 = datetime(2026, 11, 21, 9, tzinfo=UTC)
TIMEOUT = timedelta(seconds=60)
PROMPT = [{"role": "user", "content": "How do I reset my password?"}]


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


def _replica(db: Database, name: str, clock: Clock) -> tuple[Capture, Replicas]:
    rules = ClaimRules(replica_id=name, timeout=TIMEOUT, now=clock)
    return Capture(db, rules), Replicas(db, rules)


def _ref(ts: str = "1700000000.000100", event_id: str = "Ev1") -> ConversationRef:
    return ConversationRef("C1", ts, ts, "UALICE", "T1", event_id)


def _owner(db: Database, exchange_id: int) -> str | None:
    with db.read_session() as session:
        return session.get_one(Exchange, exchange_id).claimed_by


def test_a_claim_names_its_replica_and_a_live_replicas_claim_is_a_duplicate(db: Database) -> None:
    clock = Clock()
    (a, a_rows), (b, _) = _replica(db, "a", clock), _replica(db, "b", clock)
    a_rows.heartbeat()
    exchange_id, created = a.claim_exchange(_ref(), PROMPT)
    assert created and _owner(db, exchange_id) == "a"
    clock.at += TIMEOUT * 3  # a is slow, but heartbeating
    a_rows.heartbeat()
    assert b.claim_exchange(_ref(), PROMPT) == (exchange_id, False)
    assert a.claim_exchange(_ref(), PROMPT) == (exchange_id, False)  # never our own
    assert b.claims.abandoned() == [] and _owner(db, exchange_id) == "a"


def test_a_retry_of_a_dead_replicas_claim_is_answered_by_the_one_that_gets_it(
    db: Database,
) -> None:
    clock = Clock()
    (a, a_rows), (b, _) = _replica(db, "a", clock), _replica(db, "b", clock)
    a_rows.heartbeat()
    exchange_id, _ = a.claim_exchange(_ref(), PROMPT)
    clock.at += timedelta(seconds=30)
    assert b.claim_exchange(_ref(), PROMPT) == (exchange_id, False)  # not silent long enough
    clock.at += TIMEOUT  # a was killed 90 s ago: its heartbeat is 90 s old
    assert b.claim_exchange(_ref(), PROMPT) == (exchange_id, True)
    assert _owner(db, exchange_id) == "b"
    assert b.claim_exchange(_ref(), PROMPT) == (exchange_id, False)  # now a live duplicate


def test_an_unregistered_replica_is_judged_by_the_age_of_its_claim(db: Database) -> None:
    clock = Clock()
    (a, _), (b, b_rows) = _replica(db, "cli-import", clock), _replica(db, "b", clock)
    b_rows.heartbeat()
    exchange_id, _ = a.claim_exchange(_ref(), PROMPT)
    assert b.claims.abandoned() == []  # a fresh claim: its process may well be answering
    clock.at += TIMEOUT + timedelta(seconds=1)
    [claim] = b.claims.abandoned()
    assert (claim.exchange_id, claim.claimed_by) == (exchange_id, "cli-import")


def test_a_stopped_replicas_leftovers_are_taken_once_they_are_old(db: Database) -> None:
    clock = Clock()
    (a, a_rows), (b, b_rows) = _replica(db, "a", clock), _replica(db, "b", clock)
    a_rows.heartbeat()
    b_rows.heartbeat()
    first, _ = a.claim_exchange(_ref(), PROMPT)
    a_rows.retire()
    assert b.claims.abandoned() == []
    clock.at += TIMEOUT * 2
    b_rows.heartbeat()
    assert [c.exchange_id for c in b.claims.abandoned()] == [first]


def test_only_one_of_racing_replicas_takes_an_abandoned_claim(db: Database) -> None:
    clock = Clock()
    dead, dead_rows = _replica(db, "dead", clock)
    dead_rows.heartbeat()
    ids = [dead.claim_exchange(_ref(f"17000000{i}.0001", f"Ev{i}"), PROMPT)[0] for i in range(5)]
    clock.at += TIMEOUT * 2
    takers = [_replica(db, f"r{i}", clock) for i in range(6)]
    for _, rows in takers:
        rows.heartbeat()
    barrier = threading.Barrier(len(takers))
    won: list[tuple[str, int]] = []

    def take(capture: Capture) -> None:
        barrier.wait()
        for exchange_id in ids:
            if capture.claims.take_over(exchange_id, "dead"):
                won.append((capture.replica_id, exchange_id))

    threads = [threading.Thread(target=take, args=(capture,)) for capture, _ in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(exchange_id for _, exchange_id in won) == ids  # each exactly once
    for replica, exchange_id in won:
        assert _owner(db, exchange_id) == replica


def test_answered_and_failed_exchanges_are_never_abandoned(db: Database) -> None:
    clock = Clock()
    (a, _), (b, _) = _replica(db, "a", clock), _replica(db, "b", clock)
    from curation.capture import Answer

    answered, _ = a.claim_exchange(_ref("1.1", "E1"), PROMPT)
    a.complete_exchange(answered, Answer("Use the reset page.", "m"))
    failed, _ = a.claim_exchange(_ref("1.2", "E2"), PROMPT)
    a.fail_exchange(failed, error="timeout", model="m")
    clock.at += TIMEOUT * 10
    assert b.claims.abandoned() == []
    assert b.claim_exchange(_ref("1.1", "E1"), PROMPT) == (answered, False)
