"""Clicks and modals are acknowledged while every reply worker waits on the model."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.blocks import ids
from tests.bot.conftest import Bot
from tests.bot.fakes import ScriptedModel


def test_acks_do_not_wait_behind_model_calls(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client(), reply_workers=4)
    first = bot.ask("How do I book leave?")
    [reply] = bot.replies(first)
    bot.settle()

    scripted.gate = threading.Event()
    questions = [bot.ask(f"Question number {i}?", user=bot.bob) for i in range(12)]
    for _ in range(4):  # every reply worker is now inside a model call
        assert scripted.waiting.acquire(timeout=10)
    try:
        clicked = bot.driver.click_feedback(bot.alice, first.channel, reply, positive=False)
        assert clicked.status == 200
        bot.ws.wait_until(lambda: bot.ws.ephemerals_for(bot.alice), what="the flag's nudge")

        opened = bot.driver.click_button(bot.alice, first.channel, reply, ids.CORRECT_ACTION)
        assert opened.status == 200
        modal = bot.ws.wait_until(lambda: bot.ws.top_modal(bot.alice), what="the modal")
        submitted = bot.driver.submit(bot.alice, modal["id"], {ids.CORRECTION_BLOCK: "Workday."})
        assert submitted.closed
    finally:
        scripted.gate.set()
    for said in questions:
        bot.replies(said)
    bot.settle()
    assert len(bot.exchanges()) == 13
