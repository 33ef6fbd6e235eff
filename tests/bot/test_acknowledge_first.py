"""Slash commands that read the store acknowledge before they read (Slack gives an
acknowledgement 3 seconds), and the App Home asks for the approved count once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest

import bot.listeners.commands.tuneloop as commands
from bot.home import retraining_summary
from tests.bot.conftest import Bot
from tests.bot.fakes import ActiveModel, RecordingControl


@pytest.mark.parametrize("verb", ["status", "stats", "queue"])
def test_reading_commands_acknowledge_before_they_read(
    bot: Bot, verb: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading, go_on = threading.Event(), threading.Event()
    read = commands._read

    def slow_read(deps: Any, which: str) -> str:
        reading.set()
        go_on.wait(timeout=30)  # held until the test has seen the acknowledgement
        return read(deps, which)

    monkeypatch.setattr(commands, "_read", slow_read)
    response = bot.driver.command(bot.reviewer, bot.channel, verb)
    # The HTTP response (the acknowledgement) came back while the read was still held.
    assert response.status == 200 and not response.text.strip()
    assert reading.wait(timeout=30) and not go_on.is_set()
    assert bot.ws.ephemerals_for(bot.reviewer) == []
    go_on.set()
    shown = bot.ws.wait_until(
        lambda: bot.ws.ephemerals_for(bot.reviewer), what=f"the answer to /tuneloop {verb}"
    )
    bot.settle()
    assert "the error is in the bot's log" not in shown[-1]["text"]


def test_help_is_still_answered_in_the_acknowledgement(bot: Bot) -> None:
    response = bot.driver.command(bot.alice, bot.channel, "help")
    assert response.status == 200 and "/tuneloop promote MODEL" in response.text


class CountingControl(RecordingControl):
    """A control whose status carries the approved count, and that counts the asks."""

    def __init__(self, active: ActiveModel, approved: int) -> None:
        super().__init__(active, approved=approved)
        self.asked: list[str] = []

    def status(self) -> Mapping[str, Any]:
        self.asked.append("status")
        return {**super().status(), "new_examples": self.approved}

    def approved_since_last_training(self) -> int:
        self.asked.append("approved")
        return self.approved


def test_the_summary_takes_the_approved_count_from_the_status_once() -> None:
    control = CountingControl(ActiveModel("gpt-4.1-mini-2025-04-14"), approved=7)
    summary = retraining_summary(control)
    assert summary.approved_since_training == 7
    assert control.asked == ["status"]
    assert "new_examples" not in summary.details  # shown once, not twice


def test_a_status_without_the_count_is_completed_by_asking() -> None:
    control = RecordingControl(ActiveModel("gpt-4.1-mini-2025-04-14"), approved=3)
    asked: list[str] = []
    ask: Callable[[], int] = control.approved_since_last_training
    control.approved_since_last_training = lambda: (asked.append("approved"), ask())[1]  # type: ignore[method-assign]
    assert retraining_summary(control).approved_since_training == 3
    assert asked == ["approved"]
