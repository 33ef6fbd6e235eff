"""Review integrity through the real Bolt app and the local workspace: a reviewer's click
applies to exactly the correction their card showed, corrections are rate-limited, and the
correction modal shows a conversation only to its members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.blocks import ids
from curation.correction_limits import CorrectionLimits
from curation.db import Database
from curation.models import Correction, Example, ReviewItem, ReviewState
from curation.store import Store
from tests.bot.conftest import Bot
from tests.bot.test_review import _buttons, _home, _texts
from tests.conftest import REVIEWERS

CHANGED = "Changed since you looked"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db: Database, clock: Clock) -> Store:
    """The bot's store, with small correction limits and a clock the test moves."""
    limits = CorrectionLimits(per_person=3, per_reply=2, window=timedelta(minutes=10))
    return Store.build(db, reviewers=REVIEWERS, correction_limits=limits, clock=clock)


def _answered(bot: Bot, question: str = "How do I book leave?") -> tuple[str, dict[str, Any]]:
    said = bot.ask(question)
    [reply] = bot.replies(said)
    bot.settle()
    return said.channel, reply


def _open_correction(bot: Bot, channel: str, reply: dict[str, Any], user: str) -> dict[str, Any]:
    assert bot.driver.click_button(user, channel, reply, ids.CORRECT_ACTION).status == 200
    return bot.ws.wait_until(lambda: bot.ws.top_modal(user), what="the correction modal")


def _correct(bot: Bot, channel: str, reply: dict[str, Any], user: str, text: str) -> Any:
    """Open the correction modal, submit `text`, and close the modal if it refused."""
    modal = _open_correction(bot, channel, reply, user)
    submitted = bot.driver.submit(user, modal["id"], {ids.CORRECTION_BLOCK: text})
    bot.settle()
    if not submitted.closed:
        bot.ws.close_modal(user, modal["id"])
    return submitted


def _rows(bot: Bot, model: type) -> list[Any]:
    with bot.store.db.read_session() as session:
        return list(session.scalars(select(model).order_by(model.id)))


# --- a click applies to what the card showed ----------------------------------------------------


def test_a_correction_sent_after_the_reviewer_looked_is_never_approved_unseen(bot: Bot) -> None:
    channel, reply = _answered(bot)
    assert _correct(bot, channel, reply, bot.alice, "Book leave in Workday > Time Off.").closed
    [item] = _rows(bot, ReviewItem)
    stale = _home(bot, bot.reviewer)
    assert "Book leave in Workday &gt; Time Off." in _texts(stale)
    # Bob, not a reviewer, replaces the text after the reviewer opened the Home tab.
    swapped = "Leave needs no booking: just take the days off."
    assert _correct(bot, channel, reply, bot.bob, swapped).closed

    bot.driver.click_in_view(bot.reviewer, stale, ids.REVIEW_APPROVE, str(item.id))
    bot.settle()
    refreshed = bot.ws.home_of(bot.reviewer)
    assert CHANGED in _texts(refreshed)
    assert swapped in _texts(refreshed)  # drawn again, showing the new text
    assert bot.store.review.get(item.id).state is ReviewState.PENDING
    assert _rows(bot, Example) == []

    # What the reviewer approves from the fresh card is exactly what that card showed.
    bot.driver.click_in_view(bot.reviewer, refreshed, ids.REVIEW_APPROVE, str(item.id))
    bot.settle()
    [example] = _rows(bot, Example)
    assert example.target == swapped


def test_edit_on_a_stale_card_opens_no_modal_and_redraws_the_home_tab(bot: Bot) -> None:
    channel, reply = _answered(bot)
    _correct(bot, channel, reply, bot.alice, "Book leave in Workday.")
    [item] = _rows(bot, ReviewItem)
    stale = _home(bot, bot.reviewer)
    _correct(bot, channel, reply, bot.bob, "Ask HR by email.")
    for action in (ids.REVIEW_EDIT, ids.REVIEW_REJECT):
        bot.driver.click_in_view(bot.reviewer, stale, action, str(item.id))
        bot.settle()
        assert bot.ws.top_modal(bot.reviewer) is None
        assert CHANGED in _texts(bot.ws.home_of(bot.reviewer))
    assert bot.store.review.get(item.id).state is ReviewState.PENDING


def test_an_open_edit_modal_refuses_a_changed_item_and_the_home_tab_shows_it(bot: Bot) -> None:
    channel, reply = _answered(bot)
    _correct(bot, channel, reply, bot.alice, "Book leave in Workday.")
    [item] = _rows(bot, ReviewItem)
    home = _home(bot, bot.reviewer)
    assert _buttons(home, item.id)[0] == ids.REVIEW_APPROVE
    bot.driver.click_in_view(bot.reviewer, home, ids.REVIEW_EDIT, str(item.id))
    modal = bot.ws.wait_until(lambda: bot.ws.top_modal(bot.reviewer), what="the edit modal")
    _correct(bot, channel, reply, bot.bob, "Ask HR by email.")  # while the modal is open
    submitted = bot.driver.submit(
        bot.reviewer, modal["id"], {ids.EDIT_BLOCK: "Book leave in Workday > Time Off."}
    )
    bot.settle()
    assert CHANGED in submitted.errors[ids.EDIT_BLOCK]
    assert "Ask HR by email." in _texts(bot.ws.home_of(bot.reviewer))
    assert bot.store.review.get(item.id).state is ReviewState.PENDING
    assert [c.author_id for c in _rows(bot, Correction)] == [bot.alice, bot.bob]


# --- rate limits ----------------------------------------------------------------------------


def test_corrections_past_the_limits_are_refused_inside_the_modal(bot: Bot, clock: Clock) -> None:
    channel, reply = _answered(bot)
    assert _correct(bot, channel, reply, bot.alice, "First try.").closed
    assert _correct(bot, channel, reply, bot.bob, "Second try.").closed
    third = _correct(bot, channel, reply, bot.alice, "Third try.")  # per reply: 2
    assert "2 corrections on this answer" in third.errors[ids.CORRECTION_BLOCK]
    assert "try again in 10 minutes" in third.errors[ids.CORRECTION_BLOCK]
    for question in ("How do I reset my password?", "Where is the wiki?"):
        other_channel, other = _answered(bot, question)
        assert _correct(bot, other_channel, other, bot.alice, f"Answer to {question}").closed
    channel4, fourth = _answered(bot, "Who approves expenses?")
    refused = _correct(bot, channel4, fourth, bot.alice, "My manager.")  # per person: 3
    assert "3 corrections from you" in refused.errors[ids.CORRECTION_BLOCK]
    assert len(_rows(bot, Correction)) == 4
    clock.now += timedelta(minutes=10)
    assert _correct(bot, channel4, fourth, bot.alice, "My manager.").closed


# --- the modal shows a conversation to its members only ---------------------------------------


def test_someone_outside_the_conversation_is_shown_nothing_of_it(bot: Bot) -> None:
    channel, reply = _answered(bot, "Can I see Dana's salary review?")
    eve = bot.ws.add_user("eve")  # in the workspace, not in the channel
    for open_modal in (
        lambda: bot.driver.click_button(eve, channel, reply, ids.CORRECT_ACTION),
        lambda: bot.driver.shortcut(eve, channel, reply, ids.CORRECTION_SHORTCUT),
    ):
        assert open_modal().status == 200
        modal = bot.ws.wait_until(lambda: bot.ws.top_modal(eve), what="the modal")
        shown = str(modal)
        assert "Only people in the conversation" in shown
        assert "salary" not in shown and reply["text"] not in shown and "submit" not in modal
        bot.ws.close_modal(eve, modal["id"])
    assert bot.ws.calls_to("conversations.members")


def test_a_private_channel_and_a_member_who_left_are_refused(bot: Bot) -> None:
    private = bot.ws.add_channel("hr-private", members=[bot.alice], private=True)
    said = bot.driver.mention(bot.alice, private, "Who is on the redundancy list?")
    [reply] = bot.replies(said)
    bot.settle()
    outsider_modal = _open_correction(bot, private, reply, bot.bob)
    assert "redundancy" not in str(outsider_modal) and "submit" not in outsider_modal

    modal = _open_correction(bot, private, reply, bot.alice)
    assert "redundancy" in str(modal)
    with bot.ws.lock:
        bot.ws.channel(private).members.discard(bot.alice)  # removed while the modal is open
    submitted = bot.driver.submit(bot.alice, modal["id"], {ids.CORRECTION_BLOCK: "Ask HR."})
    assert "Only people in the conversation" in submitted.errors[ids.CORRECTION_BLOCK]
    assert _rows(bot, Correction) == []


def test_members_of_a_large_channel_are_found_past_the_first_page(bot: Bot) -> None:
    channel, reply = _answered(bot)
    with bot.ws.lock:
        bot.ws.channel(channel).members.update(f"UCROWD{n:05d}" for n in range(2500))
    late = bot.ws.add_user("zed", user_id="UZZZZZZZZ")  # sorts last: on the third page
    with bot.ws.lock:
        bot.ws.channel(channel).members.add(late)
    modal = _open_correction(bot, channel, reply, late)
    assert modal["callback_id"] == ids.CORRECTION_VIEW
    assert len(bot.ws.calls_to("conversations.members")) >= 3
