"""What a person in Slack sees when something breaks: a short sentence and an error id, never
the exception's text (database hosts, ports, URLs with passwords). The details are in the log
under the same id. Through the real Bolt app and the local workspace."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.bot.conftest import Bot

INTERNALS = (
    'connection to server at "db.internal" (10.0.0.7), port 5432 failed: '
    "postgresql://tuneloop:hunter2@db.internal:5432/tuneloop"
)
LEAKS = ("db.internal", "10.0.0.7", "5432", "hunter2", "OperationalError", "postgresql")


def _outage(*_: Any, **__: Any) -> Any:
    raise OperationalError("SELECT 1", {}, Exception(INTERNALS))


def _error_id(text: str, caplog: pytest.LogCaptureFixture) -> str:
    found = re.search(r"error id `([0-9a-f]{8})`", text)
    assert found, text
    assert [word for word in LEAKS if word in text] == [], text
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info, "the details are logged under the id"
    return found.group(1)


def test_a_failing_command_shows_an_error_id_not_the_error(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bot.store.review, "list", _outage)
    bot.driver.command(bot.reviewer, bot.channel, "queue")
    [shown] = bot.ws.wait_until(lambda: bot.ws.ephemerals_for(bot.reviewer))
    bot.settle()
    assert shown["text"].startswith(":warning: `/tuneloop queue` failed (error id `")
    _error_id(shown["text"], caplog)


def test_an_unavailable_retraining_status_shows_an_error_id(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bot.control, "status", _outage)
    bot.driver.command(bot.alice, bot.channel, "status")
    [shown] = bot.ws.wait_until(lambda: bot.ws.ephemerals_for(bot.alice))
    bot.settle()
    assert "Retraining status is unavailable (error id `" in shown["text"]
    _error_id(shown["text"], caplog)


def test_a_click_that_fails_tells_the_person_with_an_error_id(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    said = bot.ask("How do I book leave?")
    [reply] = bot.answered(said)
    monkeypatch.setattr(bot.store.capture, "add_feedback", _outage)
    bot.driver.click_feedback(bot.bob, bot.channel, reply, positive=False)
    [shown] = bot.ws.wait_until(lambda: bot.ws.ephemerals_for(bot.bob))
    bot.settle()
    assert shown["text"].startswith(":warning: Sorry, that did not work (error id `")
    _error_id(shown["text"], caplog)
    assert [r for r in caplog.records if INTERNALS in r.getMessage()] == []  # not Bolt's line
