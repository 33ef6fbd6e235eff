"""The App Home tab: for reviewers, the queue with Approve, Edit and Reject and where
retraining stands; for everyone else, what the bot is and how to help it learn.

A view holds at most 100 blocks (Slack's Block Kit limit); an item takes five, six when its
reply holds personal data, so the tab shows the oldest open items that fit and says how many
more wait (`tuneloop review list` shows all).

An item whose reply to be trained holds personal data shows what was found and offers
*Approve, keep personal data* in place of *Approve* (curation's `keep_personal_data`); *Edit*
takes it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks import ids
from bot.blocks.summary import RetrainingSummary, summary_lines
from bot.blocks.text import (
    SECTION_LIMIT,
    context,
    escape,
    mrkdwn,
    plain,
    quote,
    section,
    shorten,
    slack_date,
)
from bot.reviewing import KEEP_PERSONAL_DATA_LABEL
from curation.models import ReviewKind
from curation.review import ReviewView

Block = dict[str, Any]
#: Slack's limit on blocks in a Home tab view.
VIEW_BLOCKS = 100
#: A finding is shown up to this many characters (the reply above holds it whole).
FINDING_CHARS = 200
KIND_LABELS = {
    ReviewKind.CORRECTION: ":pencil2: correction",
    ReviewKind.FLAG: ":triangular_flag_on_post: flag",
    ReviewKind.UPVOTE: ":thumbsup: upvote",
}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "text": plain(text), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def personal_data_block(item: ReviewView) -> Block:
    """What was found in the reply to be trained, one finding a line, each as inline code with
    `verbatim` set: shown as written, never formatted, linked or parsed as a mention. Findings
    that would pass Slack's 3,000 characters of a section are counted, not shown."""
    head = (
        ":warning: *Personal data in the reply to be trained* "
        "(not on the team's allow list, `TUNELOOP_PII_ALLOW_LIST`)"
    )
    foot = (
        f"Approving trains the model to say it. *{KEEP_PERSONAL_DATA_LABEL}* if the reply is "
        "meant to give it; otherwise *Edit* it out."
    )
    lines = [head]
    used = len(head) + len(foot) + 60  # room for the "more" line
    for index, found in enumerate(item.personal_data):
        line = "• `" + escape(shorten(found, FINDING_CHARS).replace("`", "'")) + "`"
        if used + len(line) + 1 > SECTION_LIMIT:
            lines.append(f"…and {len(item.personal_data) - index} more")
            break
        lines.append(line)
        used += len(line) + 1
    lines.append(foot)
    text = mrkdwn("\n".join(lines), verbatim=True)
    return {"type": "section", "block_id": f"personal_data:{item.id}", "text": text}


def item_blocks(item: ReviewView) -> list[Block]:
    """One open item: question, reply, proposed correction, who and when, and the buttons."""
    value = str(item.id)
    text = (
        f"*#{item.id}* {KIND_LABELS.get(item.kind, item.kind.value)}"
        f"{' · _needs edit_' if item.state.value == 'needs_edit' else ''}\n"
        f"*Question*\n{quote(item.question, 700)}\n*Bot reply*\n{quote(item.reply or '', 900)}"
    )
    blocks: list[Block] = [{"type": "section", "block_id": f"item:{value}", **section(text)}]
    if item.correction:
        who = f" by <@{item.correction_by}>" if item.correction_by else ""
        blocks.append(section(f"*Proposed correction*{who}\n{quote(item.correction, 1200)}"))
    blocks.append(
        context(
            f"Opened by <@{item.opened_by}> · {slack_date(item.opened_at)}"
            + (f" · model `{escape(item.model)}`" if item.model else "")
        )
    )
    if item.personal_data:
        blocks.append(personal_data_block(item))
    buttons = []
    if item.correction or item.kind is ReviewKind.UPVOTE:
        if item.personal_data:
            buttons.append(_button(KEEP_PERSONAL_DATA_LABEL, ids.REVIEW_APPROVE_KEEPING, value))
        else:
            buttons.append(_button("Approve", ids.REVIEW_APPROVE, value, "primary"))
    buttons.append(
        _button("Edit" if item.correction or item.reply else "Write", ids.REVIEW_EDIT, value)
    )
    buttons.append(_button("Reject", ids.REVIEW_REJECT, value, "danger"))
    block_id = ids.decide_block_id(item.id, item.version)
    blocks.append({"type": "actions", "block_id": block_id, "elements": buttons})
    blocks.append({"type": "divider"})
    return blocks


def reviewer_home(
    summary: RetrainingSummary,
    items: Sequence[ReviewView],
    *,
    counts: Mapping[str, int],
    notice: str | None = None,
) -> Block:
    blocks: list[Block] = [{"type": "header", "text": plain("tuneloop review queue", 150)}]
    if notice:
        blocks.append(context(notice, verbatim=True))
    blocks.append(section("\n".join(summary_lines(summary))))
    waiting = counts.get("pending", 0) + counts.get("needs_edit", 0)
    blocks.append(
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*{waiting} waiting* · {counts.get('pending', 0)} pending, "
                f"{counts.get('needs_edit', 0)} need an edit · "
                f"{counts.get('approved', 0)} approved, {counts.get('rejected', 0)} rejected",
            },
            "accessory": _button("Refresh", ids.REVIEW_REFRESH, "refresh"),
        }
    )
    blocks.append({"type": "divider"})
    if not items:
        blocks.append(section("Nothing to review. :tada:"))
    shown = 0
    for item in items:
        more = item_blocks(item)
        if len(blocks) + len(more) + 1 > VIEW_BLOCKS:  # keep one for the "more waiting" line
            break
        blocks.extend(more)
        shown += 1
    if waiting > shown:
        blocks.append(
            context(f"{waiting - shown} more waiting; they appear here as these are decided.")
        )
    return {"type": "home", "blocks": blocks}


def visitor_home(notice: str | None = None) -> Block:
    blocks: list[Block] = [{"type": "header", "text": plain("tuneloop", 150)}]
    if notice:
        blocks.append(context(notice))
    blocks += [
        section(
            "I answer questions in Slack: mention me in a channel, or send me a direct message."
        ),
        section(
            "*Help me get better*\n• Click 👍 or 👎 under an answer.\n"
            "• React with :x: to a wrong answer.\n"
            "• Use *Correct this answer* to write what I should have said. "
            "A reviewer checks every correction before I learn from it."
        ),
        context("Reviewers see the review queue here."),
    ]
    return {"type": "home", "blocks": blocks}
