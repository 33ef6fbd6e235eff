"""Secrets pasted into Slack (a question, a thread reply, a correction) reach neither the
database nor the model provider's request, through the real Bolt app and local workspace."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.blocks import ids
from tests.bot.conftest import Bot
from tests.bot.fakes import ScriptedModel
from tests.secret_cases import all_cases, stored_text

CASES = all_cases()


def test_secrets_in_questions_and_corrections_reach_no_store_and_no_provider(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    bot = make_bot(openai_client=scripted.client())
    for n, (name, text, _) in enumerate(CASES):
        said = bot.ask(f"Is this safe to share? {text}")
        [reply] = bot.replies(said)
        bot.settle()
        fixer = bot.ws.add_user(f"fixer{n}")  # one each: corrections are rate-limited
        with bot.ws.lock:
            bot.ws.channel(said.channel).members.add(fixer)
        bot.driver.click_button(fixer, said.channel, reply, ids.CORRECT_ACTION)
        modal = bot.ws.wait_until(lambda u=fixer: bot.ws.top_modal(u), what="the modal")
        submitted = bot.driver.submit(
            fixer, modal["id"], {ids.CORRECTION_BLOCK: f"Never paste this ({name}): {text}"}
        )
        assert submitted.closed, submitted.errors
        bot.settle()
    sent = json.dumps(scripted.requests)
    stored = stored_text(bot.store.db)
    assert len(scripted.requests) == len(CASES)
    for name, _, secret in CASES:
        assert secret not in sent, f"{name} reached the model provider"
        assert secret not in stored, f"{name} reached the database"
    assert "[REDACTED:" in sent and "[REDACTED:" in stored
