"""An answer Slack would not take outlives its process (issue 12, point 2): after a restart a
new replica's sweep delivers it, once, fenced like any claim (two replicas sweeping deliver
it once), and gives it up with one log line, and a note in the thread, when it is too old or
its later deliveries are spent. So does an answer whose process died while showing it: stored,
not yet shown whole. Through the real Bolt app and the local workspace; waits are
recorded, not slept, and the "restarted" replica's clock runs minutes ahead of the first's."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot import BotConfig
from bot.conversation.delivery import (
    GAVE_UP_NOTICE,
    UNDELIVERED_NOTICE,
    DeliveryOptions,
    SlackReplySink,
)
from bot.conversation.recovery import Recovery
from bot.replies import Outcome
from curation.claims import ClaimRules, Replicas
from curation.models import ExchangeStatus, FeedbackKind
from curation.models.base import utcnow
from curation.store import Store
from tests.bot.conftest import Bot
from tests.bot.fakes import ScriptedModel
from tests.conftest import REVIEWERS, UNLIMITED_CORRECTIONS

ANSWER = "Use Workday: Time Off, then pick the dates."
#: The first process never gets to its own later delivery: it "dies" with it scheduled.
NEVER_S = (3600.0, 3600.0)


def _config(waits: list[float], **options: Any) -> BotConfig:
    delivery = DeliveryOptions(
        sleep=waits.append, status_delay_s=0, rate_limit_budget_s=2.0, **options
    )
    return BotConfig(streaming=False, delivery=delivery)


def _left_unsent(make_bot: Callable[..., Bot], scripted: ScriptedModel) -> tuple[Bot, Any]:
    """Alice asks; Slack refuses the answer beyond the budget; it is kept, noticed, and its
    later delivery is scheduled in a process that is then gone."""
    scripted.reply = ANSWER
    first = make_bot(openai_client=scripted.client(), config=_config([], redeliver_after_s=NEVER_S))
    first.ws.faults.fail_next("chat.postMessage", "ratelimited", times=3)
    said = first.ask("How do I book leave?")
    first.settle()
    [exchange] = first.exchanges()
    assert exchange.status is ExchangeStatus.UNSENT and exchange.reply == ANSWER
    [notice] = first.ws.bot_replies(said.channel, said.ts)
    assert notice["text"] == UNDELIVERED_NOTICE
    return first, said


def _replica(
    first: Bot,
    make_bot: Callable[..., Bot],
    scripted: ScriptedModel,
    *,
    name: str,
    later_by: timedelta,
    **options: Any,
) -> tuple[Bot, Recovery]:
    """A new `tuneloop serve` on the same store and workspace, `later_by` after the first
    process stopped heartbeating (it never registered: its claims are judged by age)."""
    at: datetime = utcnow() + later_by
    rules = ClaimRules(replica_id=f"{name}:2:0000beef", now=lambda: at)
    store = Store.build(
        first.store.db,
        reviewers=REVIEWERS,
        correction_limits=UNLIMITED_CORRECTIONS,
        claims=rules,
    )
    options.setdefault("redeliver_after_s", NEVER_S)
    bot = make_bot(
        openai_client=scripted.client(),
        config=_config([], **options),
        workspace=first.ws,
        store=store,
    )
    recovery = Recovery(
        capture=store.capture,
        replicas=Replicas(store.db, rules),
        responder=bot.responder,
        client=bot.client,
    )
    return bot, recovery


def _outcomes(futures: list[Future[Outcome | None]]) -> list[Outcome | None]:
    return [future.result(timeout=30) for future in futures]


def test_a_kept_answer_is_delivered_by_the_sweep_after_a_restart(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    first, said = _left_unsent(make_bot, scripted)
    [notice] = first.ws.bot_replies(said.channel, said.ts)
    _, recovery = _replica(first, make_bot, scripted, name="host-b", later_by=timedelta(minutes=5))

    assert _outcomes(recovery.tick()) == [Outcome.ANSWERED]

    [reply] = first.ws.bot_replies(said.channel, said.ts)  # the notice made way
    assert reply["ts"] != notice["ts"]
    assert "".join(b["text"] for b in reply["blocks"] if b["type"] == "markdown") == ANSWER
    assert reply["blocks"][-1]["type"] == "actions"  # with its controls
    [exchange] = first.exchanges()
    assert exchange.status is ExchangeStatus.ANSWERED
    assert exchange.reply_ts == reply["ts"] and exchange.notice_ts is None
    assert exchange.claimed_by == "host-b:2:0000beef" and exchange.delivery_attempts == 1
    assert scripted.requests and len(scripted.requests) == 1  # the model was not asked again
    assert _outcomes(recovery.tick()) == []  # delivered once: nothing left to take


def test_two_replicas_sweeping_at_once_deliver_it_once(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    first, said = _left_unsent(make_bot, scripted)
    sweeps = [
        _replica(first, make_bot, scripted, name=name, later_by=timedelta(minutes=5))[1]
        for name in ("host-b", "host-c")
    ]
    start = threading.Barrier(len(sweeps))
    found: list[list[Future[Outcome | None]]] = [[] for _ in sweeps]

    def sweep(index: int) -> None:
        start.wait()
        found[index] = sweeps[index].tick()

    posted_before = len(first.ws.calls_to("chat.postMessage"))
    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(len(sweeps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(map(str, _outcomes([f for futures in found for f in futures]))) == ["answered"]
    [reply] = first.ws.bot_replies(said.channel, said.ts)
    assert reply["blocks"][-1]["type"] == "actions"
    assert len(first.ws.calls_to("chat.postMessage")) == posted_before + 1
    [exchange] = first.exchanges()
    assert exchange.status is ExchangeStatus.ANSWERED and exchange.delivery_attempts == 1


def test_a_kept_answer_found_too_late_is_given_up_with_a_log_line_and_a_note(
    make_bot: Callable[..., Bot], scripted: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    first, said = _left_unsent(make_bot, scripted)
    [notice] = first.ws.bot_replies(said.channel, said.ts)
    _, recovery = _replica(first, make_bot, scripted, name="host-b", later_by=timedelta(hours=3))

    with caplog.at_level(logging.ERROR, logger="tuneloop.bot.responder"):
        assert _outcomes(recovery.tick()) == [Outcome.FAILED]

    [gave_up] = [r for r in caplog.records if "gave up delivering" in r.getMessage()]
    assert "after it was asked" in gave_up.getMessage()
    [note] = first.ws.bot_replies(said.channel, said.ts)  # no stale answer, the note updated
    assert note["ts"] == notice["ts"] and note["text"] == GAVE_UP_NOTICE
    [exchange] = first.exchanges()
    assert exchange.status is ExchangeStatus.FAILED and exchange.reply == ANSWER  # kept
    assert exchange.error is not None and exchange.error.startswith("not delivered:")
    assert _outcomes(recovery.tick()) == []  # given up once, never taken again


def test_a_kept_answer_is_given_up_once_its_later_deliveries_are_spent(
    make_bot: Callable[..., Bot], scripted: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    first, said = _left_unsent(make_bot, scripted)
    _, recovery = _replica(
        first,
        make_bot,
        scripted,
        name="host-b",
        later_by=timedelta(minutes=5),
        redeliver_after_s=(60.0,),  # one later delivery, and Slack refuses it too
    )
    first.ws.faults.fail_next("chat.postMessage", "ratelimited", times=3)

    with caplog.at_level(logging.ERROR, logger="tuneloop.bot.responder"):
        assert _outcomes(recovery.tick()) == [Outcome.UNSENT]

    [gave_up] = [r for r in caplog.records if "gave up delivering" in r.getMessage()]
    assert "1 later deliveries failed" in gave_up.getMessage()
    [note] = first.ws.bot_replies(said.channel, said.ts)
    assert note["text"] == GAVE_UP_NOTICE
    [exchange] = first.exchanges()
    assert exchange.status is ExchangeStatus.FAILED and exchange.delivery_attempts == 1
    assert _outcomes(recovery.tick()) == []


def test_a_live_replicas_kept_answer_is_left_to_it(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    first, _ = _left_unsent(make_bot, scripted)
    Replicas(first.store.db, first.store.capture.claims.rules).heartbeat()  # it lives on
    _, recovery = _replica(first, make_bot, scripted, name="host-b", later_by=timedelta(0))
    assert _outcomes(recovery.tick()) == []
    [exchange] = first.exchanges()
    assert exchange.status is ExchangeStatus.UNSENT
    assert exchange.claimed_by == first.store.capture.replica_id


def test_a_long_answer_cut_short_by_slack_is_finished_in_its_own_messages(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    scripted.reply = "Open Workday, choose Time Off, pick the dates and submit. " * 250
    bot = make_bot(
        openai_client=scripted.client(),
        config=_config([], redeliver_after_s=(0.2,)),
    )
    # The first page is posted while the answer comes; its final update is refused.
    bot.ws.faults.fail_next("chat.update", "ratelimited", times=3)
    said = bot.ask("How do I book leave?")
    bot.settle()
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.UNSENT
    [partial, notice] = bot.ws.bot_replies(said.channel, said.ts)
    assert notice["text"] == UNDELIVERED_NOTICE

    def delivered() -> list[dict[str, Any]] | None:
        replies = bot.ws.bot_replies(said.channel, said.ts)
        controls = [m for m in replies if (m.get("blocks") or [{}])[-1].get("type") == "actions"]
        return replies if controls else None

    bot.ws.wait_until(delivered, what="the later delivery", channel=said.channel)
    bot.settle()
    first, last = bot.ws.bot_replies(said.channel, said.ts)  # no copy below the partial one
    assert first["ts"] == partial["ts"]
    shown = "".join(
        b["text"] for m in (first, last) for b in m["blocks"] if b["type"] == "markdown"
    )
    assert shown.strip() == scripted.reply.strip()
    [exchange] = bot.exchanges()
    assert exchange.status is ExchangeStatus.ANSWERED
    assert exchange.reply_message_ts == [first["ts"], last["ts"]]
    assert exchange.reply_ts == last["ts"] and exchange.notice_ts is None


class _Died(BaseException):
    """The process ends here: nothing after it runs (no error path, no log line)."""


@pytest.mark.parametrize("streaming", [False, True], ids=["posted", "streamed"])
def test_an_answer_whose_process_died_while_showing_it_is_shown_by_the_sweep(
    make_bot: Callable[..., Bot],
    scripted: ScriptedModel,
    monkeypatch: pytest.MonkeyPatch,
    streaming: bool,
) -> None:
    """The answer is stored; then, before Slack shows it whole, the process dies (killed, out
    of memory). A replica started later finds it unsent and shows it: in the message already
    streamed, if any (no copy under it), with its controls; the model is not asked again."""
    scripted.reply = (ANSWER + "\n\n") * 12 if streaming else ANSWER
    config = BotConfig(
        streaming=streaming, delivery=DeliveryOptions(sleep=lambda _: None, status_delay_s=0)
    )
    first = make_bot(openai_client=scripted.client(), config=config)

    def dies(self: SlackReplySink, exchange_id: int, notes: Any = ()) -> str | None:
        raise _Died

    monkeypatch.setattr(SlackReplySink, "finish", dies)
    said = first.ask("How do I book leave?")
    first.settle()
    [exchange] = first.exchanges()
    # Stored, still claimed and pending: not answered until Slack has shown it whole.
    assert exchange.status is ExchangeStatus.PENDING and exchange.reply == scripted.reply
    assert exchange.has_reply  # a click on controls drawn just before the end is taken
    shown = first.ws.bot_replies(said.channel, said.ts, finished=False)
    assert len(shown) == (1 if streaming else 0)  # the stream's message, left open
    monkeypatch.undo()

    _, recovery = _replica(first, make_bot, scripted, name="host-b", later_by=timedelta(minutes=5))
    assert _outcomes(recovery.tick()) == [Outcome.ANSWERED]

    [reply] = first.ws.bot_replies(said.channel, said.ts)
    if streaming:
        assert reply["ts"] == shown[0]["ts"]  # rewritten in place
    text = "".join(b["text"] for b in reply["blocks"] if b["type"] == "markdown")
    assert text.strip() == scripted.reply.strip()
    assert reply["blocks"][-1]["type"] == "actions"  # with its controls
    [exchange] = first.exchanges()
    assert exchange.status is ExchangeStatus.ANSWERED and exchange.reply_ts == reply["ts"]
    assert exchange.claimed_by == "host-b:2:0000beef"
    assert len(scripted.requests) == 1  # the model was not asked again
    assert _outcomes(recovery.tick()) == []


def test_a_click_while_the_answer_is_being_shown_is_taken(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    """Between storing the answer and recording it shown, the exchange is unsent; feedback
    on it (a click on controls just drawn, a reaction) is taken all the same."""
    first, _ = _left_unsent(make_bot, scripted)
    [exchange] = first.exchanges()
    _, item, created = first.store.capture.add_feedback(
        exchange.id, "UALICE", FeedbackKind.THUMBS_DOWN
    )
    assert created and item is not None
