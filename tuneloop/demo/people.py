"""What the simulated people do in the local workspace, each through the real Slack surface:
mentions, the feedback buttons, "Correct this answer" and its modal, and the reviewer's App
Home Approve buttons. Nothing here writes to the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.blocks import ids
from tuneloop.demo.world import World

Json = dict[str, Any]


@dataclass(frozen=True)
class Asked:
    """A question in its own thread and the bot's finished answer."""

    question: str
    channel: str
    reply: Json

    @property
    def answer(self) -> str:
        return str(self.reply.get("text", ""))


def ask(world: World, user: str, question: str) -> Asked:
    """Mention the bot in the help channel and wait for its finished answer."""
    return _ask_together(world, [(user, question)])[0]


def ask_many(world: World, questions: list[tuple[str, str]]) -> list[Asked]:
    """Each (user, question) mentions the bot in its own thread and gets its finished answer
    (in the order asked).

    With the stand-in, one at a time: the workspace's fixed clock then gives every question
    the same timestamp on every run, and with it the thread's train/eval split (the figures
    are reproducible). A real model on CPU answers far slower, so there all are asked at once,
    as in a busy channel, and the server answers them in one batch.
    """
    if world.stand_in is not None:
        return [ask(world, user, question) for user, question in questions]
    return _ask_together(world, questions)


def _ask_together(world: World, questions: list[tuple[str, str]]) -> list[Asked]:
    said = [world.driver.mention(user, world.people.channel, text) for user, text in questions]
    for message in said:
        world.ws.wait_for_bot_replies(
            message.channel, message.thread_ts, timeout=world.reply_timeout_s
        )
    world.settle(world.reply_timeout_s)  # a posted-then-updated reply gets its buttons last
    answers = []
    for message, (_, text) in zip(said, questions, strict=True):
        [reply, *_] = world.ws.bot_replies(message.channel, message.thread_ts)
        answers.append(Asked(text, message.channel, reply))
    return answers


def thumbs_down(world: World, user: str, asked: Asked) -> None:
    world.driver.click_feedback(user, asked.channel, asked.reply, positive=False)
    world.settle()


def thumbs_up(world: World, user: str, asked: Asked) -> None:
    world.driver.click_feedback(user, asked.channel, asked.reply, positive=True)
    world.settle()


def correct(world: World, user: str, asked: Asked, text: str) -> None:
    """Click "Correct this answer" under the reply and submit the modal with `text`."""
    world.driver.click_button(user, asked.channel, asked.reply, ids.CORRECT_ACTION)
    modal = world.ws.wait_until(lambda: world.ws.top_modal(user), what="the correction modal")
    submitted = world.driver.submit(user, modal["id"], {ids.CORRECTION_BLOCK: text})
    if not submitted.closed:
        raise RuntimeError(f"the correction modal refused the text: {submitted.errors}")
    world.settle()


def approve_all(world: World, reviewer: str, limit: int = 500) -> int:
    """Open the reviewer's Home tab and click Approve on every item that offers it; return
    how many were approved."""
    world.driver.open_home(reviewer)
    world.settle()
    approved = 0
    for _ in range(limit):
        home = world.ws.home_of(reviewer)
        value = first_approvable(home or {})
        if value is None:
            return approved
        world.driver.click_in_view(reviewer, home or {}, ids.REVIEW_APPROVE, value)
        world.settle()
        approved += 1
    return approved


def first_approvable(view: Json) -> str | None:
    """The review item id of the first Approve button in a Home view, None when none."""
    for block in view.get("blocks", []):
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("action_id") == ids.REVIEW_APPROVE:
                return str(element.get("value"))
    return None


def decision_buttons(view: Json, item_id: str) -> list[str]:
    """The action ids of the buttons on item `item_id`'s card on a Home tab (none: no card)."""
    for block in view.get("blocks", []):
        if block.get("type") == "actions" and str(block.get("block_id", "")).startswith(
            f"{ids.DECIDE_BLOCK_PREFIX}:{item_id}:"
        ):
            return [str(element.get("action_id")) for element in block.get("elements", [])]
    return []


def home_notice(view: Json) -> str | None:
    """The notice at the top of a reviewer's Home tab (what their last click did)."""
    blocks = view.get("blocks", [])
    if len(blocks) > 1 and blocks[1].get("type") == "context":
        return " ".join(str(e.get("text", "")) for e in blocks[1].get("elements", []))
    return None
