"""`/tuneloop ...`: reading commands for everyone, changing commands for reviewers only."""

from __future__ import annotations

from tests.bot.conftest import BOTH_TRANSPORTS, Bot
from tests.conftest import ask


def _answer(bot: Bot, user: str, text: str) -> str:
    """What the person sees: the acknowledgement, or what arrived at the response URL."""
    before = len(bot.ws.ephemerals_for(user))
    response = bot.driver.command(user, bot.channel, text)
    assert response.status == 200
    shown = bot.ws.wait_until(
        lambda: bot.ws.ephemerals_for(user)[before:], what=f"an answer to /tuneloop {text}"
    )
    bot.settle()
    return str(shown[-1]["text"])


@BOTH_TRANSPORTS
def test_help_is_the_default(bot: Bot) -> None:
    for text in ("", "help", "nonsense"):
        assert "/tuneloop promote MODEL" in _answer(bot, bot.alice, text)


@BOTH_TRANSPORTS
def test_status_shows_the_active_model_and_the_last_decision(bot: Bot) -> None:
    bot.control.decision = {"outcome": "promoted", "candidate": "ft:x", "incumbent": "base"}
    answer = _answer(bot, bot.alice, "status")
    assert f"`{bot.model.value}`" in answer
    assert "promoted" in answer and "`ft:x` vs `base`" in answer


def test_status_says_plainly_when_retraining_is_not_available(bot: Bot) -> None:
    bot.control.available = False
    assert "not available" in _answer(bot, bot.alice, "status")


def test_stats_counts_the_store(bot: Bot) -> None:
    ask(bot.store, "How do I book leave?", "Ask HR.", user=bot.alice)
    assert "*Questions:* 1 (1 answered, 0 failed)" in _answer(bot, bot.alice, "stats")


def test_queue_lists_pending_items_for_reviewers(bot: Bot) -> None:
    exchange_id = ask(bot.store, "How do I book leave?", "Ask HR.", user=bot.alice)
    bot.store.capture.add_correction(exchange_id, bot.bob, "Use Workday.")
    answer = _answer(bot, bot.reviewer, "queue")
    assert "1 waiting for review" in answer and "How do I book leave?" in answer


def test_reviewer_commands_refuse_everyone_else_politely(bot: Bot) -> None:
    for text in ("queue", "retrain", "promote gpt-4o-mini-2024-07-18", "rollback"):
        assert "only tuneloop reviewers" in _answer(bot, bot.alice, text)
    assert bot.control.requests == []


@BOTH_TRANSPORTS
def test_retrain_promote_and_rollback_go_to_the_retraining_control(bot: Bot) -> None:
    assert "will start" in _answer(bot, bot.reviewer, "retrain")
    promoted = _answer(bot, bot.reviewer, "promote gpt-4o-mini-2024-07-18 better on leave")
    assert "gpt-4o-mini-2024-07-18 is now the active model" in promoted
    assert "Rolled back" in _answer(bot, bot.reviewer, "rollback")
    assert bot.control.requests == [
        ("retrain", bot.reviewer),
        ("promote", "gpt-4o-mini-2024-07-18", bot.reviewer, "better on leave"),
        ("rollback", bot.reviewer, f"rolled back from Slack by {bot.reviewer}"),
    ]


def test_a_promotion_from_slack_is_used_for_the_next_reply(bot: Bot) -> None:
    _answer(bot, bot.reviewer, "promote gpt-4o-mini-2024-07-18")
    said = bot.ask("How do I book leave?")
    bot.replies(said)
    bot.settle()
    assert bot.exchanges()[-1].model == "gpt-4o-mini-2024-07-18"


def test_a_refusal_from_the_retraining_control_is_shown(bot: Bot) -> None:
    bot.control.refuse_with = "Retraining is not available yet."
    assert _answer(bot, bot.reviewer, "retrain") == ":warning: Retraining is not available yet."


def test_retrain_force_is_passed_on_and_anything_else_is_refused(bot: Bot) -> None:
    _answer(bot, bot.reviewer, "retrain --force")
    said = _answer(bot, bot.reviewer, "retrain now please")
    assert "takes only `--force`" in said
    assert bot.control.requests == [("retrain", bot.reviewer, "--force")]


def test_promote_without_a_model_asks_for_one(bot: Bot) -> None:
    assert "Say which model" in _answer(bot, bot.reviewer, "promote")


def test_promote_force_is_passed_on_wherever_it_is_written(bot: Bot) -> None:
    _answer(bot, bot.reviewer, "promote ft:x:acme::a --force it answers, trust me")
    _answer(bot, bot.reviewer, "promote --force ft:x:acme::b")
    assert bot.control.requests == [
        ("promote", "ft:x:acme::a", bot.reviewer, "it answers, trust me", "--force"),
        (
            "promote",
            "ft:x:acme::b",
            bot.reviewer,
            f"promoted from Slack by {bot.reviewer}",
            "--force",
        ),
    ]
