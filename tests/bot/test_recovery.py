"""No acknowledged question lost, through the real Bolt app and the local workspace: a question
whose replica died is answered by the sweep (or apologised for when old), and Slack's retry of
its event is answered instead of being dropped as a duplicate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.conversation.recovery import Recovery
from curation.capture import Capture, ConversationRef
from curation.claims import ClaimRules, Replicas
from curation.models import ExchangeStatus
from curation.models.base import utcnow
from tests.bot.conftest import SYSTEM_PROMPT, Bot
from tuneloop.local_slack import payloads
from tuneloop.settings import load_settings

QUESTION = "How do I book annual leave?"


def _left_by_a_dead_replica(bot: Bot, *, asked_ago: timedelta) -> tuple[int, dict]:
    """Alice asks; a replica claims the question, then dies (its heartbeat stops)."""
    message = bot.ws.post(bot.channel, user=bot.alice, text=f"<@{bot.ws.bot.user_id}> {QUESTION}")
    then = utcnow() - asked_ago
    dead = ClaimRules(replica_id="host-a:1:dead0000", now=lambda: then)
    Replicas(bot.store.db, dead).heartbeat()
    ref = ConversationRef(
        bot.channel, message["ts"], message["ts"], bot.alice, bot.ws.team_id, "EvLost1"
    )
    prompt = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": QUESTION}]
    exchange_id, created = Capture(bot.store.db, dead).claim_exchange(ref, prompt)
    assert created
    return exchange_id, message


def _recovery(bot: Bot, **options: object) -> Recovery:
    return Recovery(
        capture=bot.store.capture,
        replicas=Replicas(bot.store.db, bot.store.capture.claims.rules),
        responder=bot.responder,
        client=bot.client,
        **options,
    )


def test_a_question_left_by_a_dead_replica_is_answered_by_the_sweep(bot: Bot) -> None:
    exchange_id, message = _left_by_a_dead_replica(bot, asked_ago=timedelta(minutes=5))
    recovery = _recovery(bot)
    [reply] = [future.result(timeout=30) for future in recovery.tick()]
    assert reply == "answered"
    [shown] = bot.ws.wait_for_bot_replies(bot.channel, message["ts"])
    assert shown["blocks"][-2]["type"] == "context_actions"  # feedback controls, as ever
    [exchange] = bot.exchanges()
    assert exchange.id == exchange_id and exchange.status is ExchangeStatus.ANSWERED
    assert exchange.claimed_by == bot.store.capture.replica_id
    assert recovery.tick() == []  # answered once: nothing left to take


def test_an_old_abandoned_question_gets_an_apology_not_a_stale_answer(bot: Bot) -> None:
    _, message = _left_by_a_dead_replica(bot, asked_ago=timedelta(hours=3))
    recovery = _recovery(bot, answer_within=timedelta(hours=1))
    assert [future.result(timeout=30) for future in recovery.tick()] == ["failed"]
    [apology] = bot.ws.thread(bot.channel, message["ts"])[1:]
    assert "I was restarted before I could answer this" in apology["text"]
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.FAILED and "abandoned by replica" in exchange.error


def test_slacks_retry_of_a_dead_replicas_event_is_answered_not_dropped(bot: Bot) -> None:
    exchange_id, message = _left_by_a_dead_replica(bot, asked_ago=timedelta(minutes=5))
    event = payloads.app_mention_event(bot.ws, bot.channel, message)
    _, response = bot.driver.deliver_event(event, event_id="EvLost1", retry_num=1)
    assert response.status == 200
    [reply] = bot.ws.wait_for_bot_replies(bot.channel, message["ts"])
    bot.settle()
    [exchange] = bot.exchanges()
    assert exchange.id == exchange_id and exchange.status is ExchangeStatus.ANSWERED
    assert reply["blocks"][-2]["type"] == "context_actions"


def test_a_retry_while_the_first_replica_lives_is_still_a_duplicate(bot: Bot) -> None:
    said = bot.ask(QUESTION)
    bot.replies(said)
    bot.settle()
    event = payloads.app_mention_event(bot.ws, bot.channel, bot.ws.message(bot.channel, said.ts))
    bot.driver.deliver_event(event, event_id=said.event_ids[0], retry_num=1)
    bot.settle()
    assert len(bot.ws.bot_replies(bot.channel, said.ts)) == 1
    assert len(bot.exchanges()) == 1


def test_a_timeout_shorter_than_two_heartbeats_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="TUNELOOP_REPLICA_TIMEOUT_SECONDS must be at least"):
        load_settings(replica_heartbeat_seconds=10, replica_timeout_seconds=15)
    assert load_settings(replica_heartbeat_seconds=5, replica_timeout_seconds=10)
