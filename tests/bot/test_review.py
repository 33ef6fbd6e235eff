"""Reviewers in Slack: the App Home queue, Approve / Edit / Reject through curation's rules,
and polite refusals for everyone else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bot import BotConfig
from bot.blocks import ids
from bot.replies import TokenBudget
from curation.models import Example, FeedbackKind, ReviewState
from tests.bot.conftest import BOTH_TRANSPORTS, Bot
from tests.conftest import REVIEWERS, ask


def _corrected(bot: Bot, question: str = "How do I book leave?") -> int:
    """An exchange with a proposed correction, queued for review; returns the item id."""
    exchange_id = ask(bot.store, question, "Ask your manager.", user=bot.alice)
    _, item, _ = bot.store.capture.add_correction(exchange_id, bot.bob, "Use Workday > Time Off.")
    assert item is not None
    return item.id


def _flagged(bot: Bot) -> int:
    exchange_id = ask(bot.store, "Is the VPN down?", "No idea.", user=bot.alice)
    _, item, _ = bot.store.capture.add_feedback(exchange_id, bot.bob, FeedbackKind.FLAG)
    assert item is not None
    return item.id


def _home(bot: Bot, user: str) -> dict[str, Any]:
    assert bot.driver.open_home(user).status == 200
    bot.settle()
    home = bot.ws.home_of(user)
    assert home is not None
    return home


def _texts(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e, dict)]
    return "\n".join(str(p) for p in parts)


def _buttons(view: dict[str, Any], item_id: int) -> list[str]:
    for block in view["blocks"]:
        if block.get("block_id", "").startswith(f"decide:{item_id}:"):
            return [e["action_id"] for e in block["elements"]]
    return []


@BOTH_TRANSPORTS
def test_a_reviewers_home_shows_the_queue_and_where_retraining_stands(bot: Bot) -> None:
    item_id = _corrected(bot)
    bot.control.approved = 7
    bot.control.decision = {"outcome": "rejected", "note": "the candidate scored lower"}
    home = _home(bot, bot.reviewer)
    text = _texts(home)
    assert "How do I book leave?" in text and "Ask your manager." in text
    assert "Use Workday &gt; Time Off." in text and f"<@{bot.bob}>" in text
    assert f"Opened by <@{bot.bob}>" in text and "<!date^" in text
    assert "Approved since the last training:* 7" in text
    assert "rejected" in text and "the candidate scored lower" in text
    assert bot.model.value in text
    assert _buttons(home, item_id) == [ids.REVIEW_APPROVE, ids.REVIEW_EDIT, ids.REVIEW_REJECT]


@BOTH_TRANSPORTS
def test_approve_from_the_home_tab_makes_an_example(bot: Bot) -> None:
    item_id = _corrected(bot)
    home = _home(bot, bot.reviewer)
    response = bot.driver.click_in_view(bot.reviewer, home, ids.REVIEW_APPROVE, str(item_id))
    assert response.status == 200
    bot.settle()
    item = bot.store.review.get(item_id)
    assert (item.state, item.decided_by) == (ReviewState.APPROVED, bot.reviewer)
    with bot.store.db.read_session() as session:
        [example] = session.scalars(select(Example).where(Example.golden.is_(False)))
    assert example.target == "Use Workday > Time Off."
    refreshed = bot.ws.home_of(bot.reviewer)
    assert f"Approved #{item_id}" in _texts(refreshed)
    assert _buttons(refreshed, item_id) == []  # decided items leave the queue


@BOTH_TRANSPORTS
def test_edit_opens_a_modal_and_approves_the_reviewers_text(bot: Bot) -> None:
    item_id = _corrected(bot)
    home = _home(bot, bot.reviewer)
    bot.driver.click_in_view(bot.reviewer, home, ids.REVIEW_EDIT, str(item_id))
    modal = bot.ws.wait_until(lambda: bot.ws.top_modal(bot.reviewer), what="the edit modal")
    [field] = [b for b in modal["blocks"] if b["type"] == "input"]
    assert field["element"]["initial_value"] == "Use Workday > Time Off."

    empty = bot.driver.submit(bot.reviewer, modal["id"], {ids.EDIT_BLOCK: ""})
    assert empty.errors == {ids.EDIT_BLOCK: "Please write the corrected answer."}
    text = "Book leave in Workday > Time Off; your manager approves it."
    done = bot.driver.submit(bot.reviewer, modal["id"], {ids.EDIT_BLOCK: text})
    assert done.closed
    bot.settle()
    approved = bot.store.review.get(item_id)
    assert (approved.state, approved.correction) == (ReviewState.APPROVED, text)
    assert "Edited and approved" in _texts(bot.ws.home_of(bot.reviewer))


def test_an_edit_over_the_token_limit_is_refused_in_the_modal(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot(config=BotConfig(budget=TokenBudget(correction_tokens=10)))
    item_id = _corrected(bot)
    bot.driver.click_in_view(bot.reviewer, _home(bot, bot.reviewer), ids.REVIEW_EDIT, str(item_id))
    modal = bot.ws.wait_until(lambda: bot.ws.top_modal(bot.reviewer), what="the edit modal")
    submitted = bot.driver.submit(bot.reviewer, modal["id"], {ids.EDIT_BLOCK: "word " * 30})
    assert "the limit is 10" in submitted.errors[ids.EDIT_BLOCK]
    assert bot.store.review.get(item_id).state is ReviewState.PENDING


def test_a_flag_without_a_correction_is_written_not_approved(bot: Bot) -> None:
    item_id = _flagged(bot)
    home = _home(bot, bot.reviewer)
    assert _buttons(home, item_id) == [ids.REVIEW_EDIT, ids.REVIEW_REJECT]
    bot.driver.click_in_view(bot.reviewer, home, ids.REVIEW_EDIT, str(item_id))
    modal = bot.ws.wait_until(lambda: bot.ws.top_modal(bot.reviewer), what="the edit modal")
    bot.driver.submit(bot.reviewer, modal["id"], {ids.EDIT_BLOCK: "Check status.fernhill.example"})
    bot.settle()
    assert bot.store.review.get(item_id).state is ReviewState.APPROVED


def test_reject_needs_a_reason_and_records_it(bot: Bot) -> None:
    item_id = _corrected(bot)
    bot.driver.click_in_view(
        bot.reviewer, _home(bot, bot.reviewer), ids.REVIEW_REJECT, str(item_id)
    )
    modal = bot.ws.wait_until(lambda: bot.ws.top_modal(bot.reviewer), what="the reject modal")
    blank = bot.driver.submit(bot.reviewer, modal["id"], {ids.REASON_BLOCK: "  "})
    assert blank.errors == {ids.REASON_BLOCK: "Please give a reason."}
    done = bot.driver.submit(bot.reviewer, modal["id"], {ids.REASON_BLOCK: "The reply was right."})
    assert done.closed
    bot.settle()
    item = bot.store.review.get(item_id)
    assert (item.state, item.decision_reason) == (ReviewState.REJECTED, "The reply was right.")


def test_a_second_reviewer_is_told_the_item_was_already_decided(bot: Bot) -> None:
    other = bot.ws.add_user("sam", user_id=REVIEWERS[1])
    item_id = _corrected(bot)
    stale_home = _home(bot, other)
    bot.driver.click_in_view(
        bot.reviewer, _home(bot, bot.reviewer), ids.REVIEW_APPROVE, str(item_id)
    )
    bot.driver.click_in_view(other, stale_home, ids.REVIEW_APPROVE, str(item_id))
    bot.settle()
    assert "Already decided" in _texts(bot.ws.home_of(other))
    assert bot.store.review.get(item_id).decided_by == bot.reviewer


def test_a_non_reviewer_sees_a_guide_and_is_politely_refused(bot: Bot) -> None:
    item_id = _corrected(bot)
    visitor_home = _home(bot, bot.bob)
    assert "Correct this answer" in _texts(visitor_home)
    assert _buttons(visitor_home, item_id) == []

    reviewers_view = _home(bot, bot.reviewer)  # a stale or shared view: the click still counts
    for action in (ids.REVIEW_APPROVE, ids.REVIEW_EDIT, ids.REVIEW_REJECT):
        assert bot.driver.click_in_view(bot.bob, reviewers_view, action, str(item_id)).status == 200
    bot.settle()
    assert "only tuneloop reviewers" in _texts(bot.ws.home_of(bot.bob))
    assert bot.ws.top_modal(bot.bob) is None
    assert bot.store.review.get(item_id).state is ReviewState.PENDING


def test_opening_the_agent_pane_offers_suggested_prompts(bot: Bot) -> None:
    channel, thread_ts, response = bot.driver.start_assistant_thread(bot.alice)
    assert response.status == 200
    bot.settle()
    prompts = bot.ws.suggested_prompts[(channel, thread_ts)]
    assert prompts[0]["title"] == BotConfig().suggested_prompts[0][0]
