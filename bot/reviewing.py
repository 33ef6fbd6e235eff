"""Reviewer decisions from Slack, through curation's review rules (exactly as the command
line), with every refusal turned into a sentence for the person who clicked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from curation.errors import (
    ChangedSinceSeenError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from curation.review import PersonalDataError
from curation.store import Store

#: The Home card's button that approves a reply keeping its personal data.
KEEP_PERSONAL_DATA_LABEL = "Approve, keep personal data"

NOT_A_REVIEWER = (
    "Sorry, only tuneloop reviewers can do that. If you think you should be one, "
    "ask whoever runs tuneloop to add you (TUNELOOP_REVIEWERS or the reviewer user group)."
)


CHANGED_SINCE_SEEN = (
    "Changed since you looked: #{item_id} got a newer correction after your view was drawn, "
    "so nothing was decided. It is shown again here; look at it before deciding."
)


class DecisionRefused(Exception):
    """The decision was not made; the message says why, politely."""


class StaleView(DecisionRefused):
    """Refused because the item changed since the reviewer's view was drawn: show it again."""


@dataclass(frozen=True)
class Reviewing:
    store: Store

    def is_reviewer(self, user: str) -> bool:
        return self.store.review.is_reviewer(user)

    def approve(
        self,
        item_id: int,
        reviewer: str,
        *,
        text: str | None = None,
        keep_personal_data: bool = False,
        seen: int,
    ) -> str:
        """Approve `item_id` (with the reviewer's own `text`: Edit) as the reviewer saw it
        (`seen`: the version their card or modal showed); `keep_personal_data` trains a reply
        that holds personal data, knowingly. Returns the notice for the Home tab; raises
        DecisionRefused with what to do instead."""
        with _refusals(item_id, edited=text is not None):
            approval = self.store.review.approve(
                item_id, reviewer, text=text, keep_personal_data=keep_personal_data, seen=seen
            )
        made = "" if approval.example_created else " (the same example already existed)"
        verb = "Edited and approved" if text is not None else "Approved"
        kept = (
            ", keeping its personal data"
            if keep_personal_data and approval.item.personal_data
            else ""
        )
        return f":white_check_mark: {verb} #{item_id}{kept}: example {approval.example_id}{made}."

    def reject(self, item_id: int, reviewer: str, *, reason: str, seen: int) -> str:
        """Reject `item_id` as the reviewer saw it; raises DecisionRefused like `approve`."""
        with _refusals(item_id):
            self.store.review.reject(item_id, reviewer, reason=reason, seen=seen)
        return f":no_entry_sign: Rejected #{item_id}."


def personal_data_refusal(item_id: int, found: tuple[str, ...], *, edited: bool) -> str:
    """What a reviewer is told when the reply to be trained holds personal data: what was found
    (plain text, for a mrkdwn notice: escape it) and the two ways on."""
    what = "; ".join(found) or "personal data"
    if edited:
        return (
            f"Your edit of #{item_id} still holds personal data ({what}). Take it out, or, if "
            f"the reply is meant to give it, close this and use {KEEP_PERSONAL_DATA_LABEL} "
            "on the Home tab (that approves the reply as proposed)."
        )
    return (
        f"Not approved: the reply of #{item_id} holds personal data ({what}). If the reply is "
        f"meant to give it, use {KEEP_PERSONAL_DATA_LABEL}; otherwise use Edit to take it out."
    )


@contextmanager
def _refusals(item_id: int, *, edited: bool = False) -> Iterator[None]:
    """Turns curation's errors into `DecisionRefused` with a message fit for Slack."""
    try:
        yield
    except PersonalDataError as error:
        raise DecisionRefused(personal_data_refusal(item_id, error.found, edited=edited)) from error
    except PermissionDeniedError as error:
        raise DecisionRefused(NOT_A_REVIEWER) from error
    except ChangedSinceSeenError as error:
        raise StaleView(CHANGED_SINCE_SEEN.format(item_id=item_id)) from error
    except NotFoundError as error:
        raise DecisionRefused(f"Item #{item_id} no longer exists.") from error
    except InvalidTransitionError as error:
        raise DecisionRefused(f"Already decided: {error}") from error
    except ValidationError as error:
        first = str(error).splitlines()[0]
        raise DecisionRefused(first[:1].upper() + first[1:] + ".") from error
