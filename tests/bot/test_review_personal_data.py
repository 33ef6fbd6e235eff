"""A reply to be trained that holds personal data, decided on the App Home: the card shows
what was found and offers *Approve, keep personal data* and *Edit*; a plain Approve (a card
published before the rule, or by an older bot) is refused with what to do, and stores nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot import BotConfig
from bot.blocks import ids
from bot.blocks.home import VIEW_BLOCKS
from curation.db import Database
from curation.models import Example, ReviewState
from curation.personal_data import PersonalDataPolicy
from curation.store import Store
from tests.bot.conftest import Bot
from tests.bot.test_review import _buttons, _home, _texts
from tests.conftest import REVIEWERS, ask

EMAIL = "ana_silva@fernhill.example"
PROPOSED = f"Payroll is run by Ana: write to {EMAIL}, or ask the help desk."
ALLOWED = "it-help@fernhill.example"


@pytest.fixture
def store(db: Database) -> Store:
    """The bot's store with the personal-data rule on, and a team address on the allow list."""
    policy = PersonalDataPolicy(allow_list=(ALLOWED,))
    return Store.build(db, reviewers=REVIEWERS, eval_fraction=0.2, personal_data=policy)


def _proposed(bot: Bot, text: str = PROPOSED, question: str = "Who runs payroll?") -> int:
    exchange_id = ask(bot.store, question, "No idea.", user=bot.alice)
    _, item, _ = bot.store.capture.add_correction(exchange_id, bot.bob, text)
    assert item is not None
    return item.id


def _block(view: dict[str, Any], block_id: str) -> dict[str, Any] | None:
    return next((b for b in view["blocks"] if b.get("block_id") == block_id), None)


def _trained(bot: Bot) -> list[str]:
    with bot.store.db.read_session() as session:
        return list(session.scalars(select(Example.target).where(Example.golden.is_(False))))


def _approvals(bot: Bot, item_id: int) -> list[str]:
    """Who approved the item, from its review history."""
    history = bot.store.review.history(item_id)
    return [e.actor for e in history if e.to_state == ReviewState.APPROVED.value]


def test_the_card_shows_the_personal_data_found_and_the_two_choices(bot: Bot) -> None:
    item_id = _proposed(bot)
    team_contact = _proposed(bot, f"Write to {ALLOWED}.", question="Who fixes laptops?")
    home = _home(bot, bot.reviewer)

    finding = _block(home, f"personal_data:{item_id}")
    assert finding is not None
    # Shown as written: inline code (no italics from the underscores), and verbatim (no
    # mailto link), never as markup.
    assert finding["text"]["verbatim"] is True
    assert f"• `email '{EMAIL}'`" in finding["text"]["text"]
    assert "Approve, keep personal data" in finding["text"]["text"]
    assert _buttons(home, item_id) == [
        ids.REVIEW_APPROVE_KEEPING,
        ids.REVIEW_EDIT,
        ids.REVIEW_REJECT,
    ]
    # The team's own address is on the allow list: no decision to make.
    assert _block(home, f"personal_data:{team_contact}") is None
    assert _buttons(home, team_contact)[0] == ids.REVIEW_APPROVE


def test_approve_keeping_personal_data_stores_the_example(bot: Bot) -> None:
    item_id = _proposed(bot)
    home = _home(bot, bot.reviewer)
    clicked = bot.driver.click_in_view(bot.reviewer, home, ids.REVIEW_APPROVE_KEEPING, str(item_id))
    assert clicked.status == 200
    bot.settle()
    item = bot.store.review.get(item_id)
    assert (item.state, item.decided_by) == (ReviewState.APPROVED, bot.reviewer)
    assert _trained(bot) == [PROPOSED]
    assert _approvals(bot, item_id) == [bot.reviewer]  # the store's audit trail
    refreshed = bot.ws.home_of(bot.reviewer)
    assert f"Approved #{item_id}, keeping its personal data" in _texts(refreshed)
    assert _buttons(refreshed, item_id) == []


def test_plain_approve_of_such_an_item_is_refused_saying_what_to_do(bot: Bot) -> None:
    item_id = _proposed(bot)
    home = _home(bot, bot.reviewer)
    # A card published before the rule (or by an older bot) still has the plain button.
    [decide] = [b for b in home["blocks"] if b.get("block_id", "").startswith(f"decide:{item_id}:")]
    decide["elements"][0]["action_id"] = ids.REVIEW_APPROVE
    clicked = bot.driver.click_in_view(bot.reviewer, home, ids.REVIEW_APPROVE, str(item_id))
    assert clicked.status == 200
    bot.settle()

    refreshed = bot.ws.home_of(bot.reviewer)
    assert refreshed is not None
    [notice] = refreshed["blocks"][1]["elements"]
    assert (
        f"Not approved: the reply of #{item_id} holds personal data (email '{EMAIL}')"
        in (notice["text"])
    )
    assert "use Approve, keep personal data; otherwise use Edit" in notice["text"]
    assert notice["verbatim"] is True
    assert bot.store.review.get(item_id).state is ReviewState.PENDING
    assert _approvals(bot, item_id) == []
    assert _trained(bot) == []
    assert _buttons(refreshed, item_id)[0] == ids.REVIEW_APPROVE_KEEPING


def test_edit_takes_the_personal_data_out_or_is_told_it_is_still_there(bot: Bot) -> None:
    item_id = _proposed(bot)
    bot.driver.click_in_view(bot.reviewer, _home(bot, bot.reviewer), ids.REVIEW_EDIT, str(item_id))
    modal = bot.ws.wait_until(lambda: bot.ws.top_modal(bot.reviewer), what="the edit modal")
    still = bot.driver.submit(bot.reviewer, modal["id"], {ids.EDIT_BLOCK: f"Ask {EMAIL}."})
    assert f"still holds personal data (email '{EMAIL}')" in still.errors[ids.EDIT_BLOCK]
    assert _trained(bot) == []

    clean = "Payroll is run by the people team: ask in #people-team."
    assert bot.driver.submit(bot.reviewer, modal["id"], {ids.EDIT_BLOCK: clean}).closed
    bot.settle()
    assert bot.store.review.get(item_id).state is ReviewState.APPROVED
    assert _trained(bot) == [clean]


def test_a_full_queue_of_such_items_stays_within_block_kits_limits(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot(config=BotConfig(home_queue_items=30))
    many = " ".join(f"person.{n:03d}.with_a_long_mailbox_name@fernhill.example" for n in range(70))
    item_ids = [_proposed(bot, many, question=f"Who is on team {n}?") for n in range(30)]
    home = _home(bot, bot.reviewer)  # the local workspace refuses a view Slack would refuse

    assert len(home["blocks"]) <= VIEW_BLOCKS
    shown = [i for i in item_ids if _block(home, f"personal_data:{i}") is not None]
    assert 0 < len(shown) < len(item_ids)
    assert f"{len(item_ids) - len(shown)} more waiting" in _texts(home)
    finding = _block(home, f"personal_data:{shown[0]}")
    assert finding is not None and len(finding["text"]["text"]) <= 3000
    # Findings past the section's limit are counted, not shown.
    assert re.search(r"^…and \d+ more$", finding["text"]["text"], re.MULTILINE)
