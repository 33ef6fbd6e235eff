"""Whose conversation is it (field case "Thread takeover"): in a thread the bot answered, a
message that mentions someone else is for them, not the bot; the asker goes on without a
mention; who else may is TUNELOOP_SLACK_FOLLOW_UPS (`BotConfig.follow_ups`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot import BotConfig
from bot.conversation.triggers import FollowUpRule
from tests.bot.conftest import Bot


def _answered_thread(bot: Bot) -> str:
    said = bot.ask("Can I carry over unused leave?")
    bot.answered(said)
    return said.ts


def test_people_talking_to_each_other_in_the_thread_are_left_alone(bot: Bot) -> None:
    thread = _answered_thread(bot)
    bot.driver.say(
        bot.bob, bot.channel, f"<@{bot.alice}> you need manager approval first", thread_ts=thread
    )
    bot.driver.say(bot.alice, bot.channel, f"thanks <@{bot.bob}>!", thread_ts=thread)
    bot.driver.say(bot.bob, bot.channel, "<!here> anyone from HR around?", thread_ts=thread)
    bot.settle()
    assert len(bot.ws.bot_replies(bot.channel, thread)) == 1
    assert len(bot.exchanges()) == 1


def test_the_asker_goes_on_without_a_mention_and_others_mention_the_bot(bot: Bot) -> None:
    thread = _answered_thread(bot)
    follow_up = bot.driver.say(bot.alice, bot.channel, "And sick days?", thread_ts=thread)
    bot.answered(follow_up, 2)
    bot.driver.say(bot.bob, bot.channel, "Does that apply to contractors?", thread_ts=thread)
    bot.settle()
    assert len(bot.exchanges()) == 2  # Bob did not ask the bot
    asked = bot.ask("Does that apply to contractors?", user=bot.bob, thread_ts=thread)
    bot.answered(asked, 3)
    assert [e.user_id for e in bot.exchanges()] == [bot.alice, bot.alice, bot.bob]
    # Bob asked the bot here now, so he too goes on without a mention.
    more = bot.driver.say(bot.bob, bot.channel, "And interns?", thread_ts=thread)
    bot.answered(more, 4)


@pytest.mark.parametrize(
    ("rule", "answered"),
    [(FollowUpRule.ANYONE, [True, True]), (FollowUpRule.MENTION, [False, False])],
)
def test_the_rule_is_configurable(
    make_bot: Callable[..., Bot], rule: FollowUpRule, answered: list[bool]
) -> None:
    bot = make_bot(config=BotConfig(follow_ups=rule))
    thread = _answered_thread(bot)
    bot.driver.say(bot.alice, bot.channel, "And sick days?", thread_ts=thread)
    bot.settle()
    bot.driver.say(bot.bob, bot.channel, "Does that apply to contractors?", thread_ts=thread)
    bot.settle()
    asked = [e.user_id for e in bot.exchanges()[1:]]
    assert [bot.alice in asked, bot.bob in asked] == answered
