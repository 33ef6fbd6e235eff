"""Action, callback and block ids shared by the Block Kit builders and the listeners."""

from __future__ import annotations

# Reply controls
FEEDBACK_ACTION = "reply_feedback"
CORRECT_ACTION = "correct_answer"
FEEDBACK_UP = "up"
FEEDBACK_DOWN = "down"

# The correction modal and the message shortcut
CORRECTION_SHORTCUT = "correct_answer_shortcut"
CORRECTION_VIEW = "correction_modal"
CORRECTION_BLOCK = "correction"
CORRECTION_INPUT = "text"

# Reviewer decisions (App Home buttons and their modals)
REVIEW_APPROVE = "review_approve"
#: Approve a reply that holds personal data, knowingly (curation's `keep_personal_data`).
REVIEW_APPROVE_KEEPING = "review_approve_keep_personal_data"
REVIEW_EDIT = "review_edit"
REVIEW_REJECT = "review_reject"
REVIEW_REFRESH = "review_refresh"
EDIT_VIEW = "review_edit_modal"
REJECT_VIEW = "review_reject_modal"
EDIT_BLOCK = "edited_reply"
REASON_BLOCK = "reason"

# Messages that are not answers (history leaves them out)
APOLOGY_EVENT = "tuneloop_apology"

#: A Home card's actions block: `decide:<item id>:<version>`. The version (what the card
#: shows: curation's `ReviewView.version`) travels with every click on the card's buttons, so
#: a decision applies to exactly the text the reviewer was shown.
DECIDE_BLOCK_PREFIX = "decide"


def decide_block_id(item_id: int, version: int) -> str:
    """The block id of an item's buttons on the Home tab."""
    return f"{DECIDE_BLOCK_PREFIX}:{item_id}:{version}"


def seen_version(block_id: str | None) -> int:
    """The version a clicked card showed; -1 (matches no item) for a card without one (a Home
    tab published before versions existed), so such a click asks the reviewer to look again."""
    parts = (block_id or "").split(":")
    if len(parts) == 3 and parts[0] == DECIDE_BLOCK_PREFIX and parts[2].isdigit():
        return int(parts[2])
    return -1
