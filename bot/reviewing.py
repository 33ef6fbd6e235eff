"""Reviewer decisions from Slack, through curation's review rules (exactly as the command
line), with every refusal turned into a sentence for the person who clicked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from curation.errors import (
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from curation.store import Store

NOT_A_REVIEWER = (
    "Sorry, only tuneloop reviewers can do that. If you think you should be one, "
    "ask whoever runs tuneloop to add you (TUNELOOP_REVIEWERS or the reviewer user group)."
)


class DecisionRefused(Exception):
    """The decision was not made; the message says why, politely."""


@dataclass(frozen=True)
class Reviewing:
    store: Store

    def is_reviewer(self, user: str) -> bool:
        return self.store.review.is_reviewer(user)

    def approve(self, item_id: int, reviewer: str, *, text: str | None = None) -> str:
        with _refusals(item_id):
            approval = self.store.review.approve(item_id, reviewer, text=text)
        made = "" if approval.example_created else " (the same example already existed)"
        verb = "Edited and approved" if text is not None else "Approved"
        return f":white_check_mark: {verb} #{item_id}: example {approval.example_id}{made}."

    def reject(self, item_id: int, reviewer: str, *, reason: str) -> str:
        with _refusals(item_id):
            self.store.review.reject(item_id, reviewer, reason=reason)
        return f":no_entry_sign: Rejected #{item_id}."


@contextmanager
def _refusals(item_id: int) -> Iterator[None]:
    """Turns curation's errors into `DecisionRefused` with a message fit for Slack."""
    try:
        yield
    except PermissionDeniedError as error:
        raise DecisionRefused(NOT_A_REVIEWER) from error
    except NotFoundError as error:
        raise DecisionRefused(f"Item #{item_id} no longer exists.") from error
    except InvalidTransitionError as error:
        raise DecisionRefused(f"Already decided: {error}") from error
    except ValidationError as error:
        first = str(error).splitlines()[0]
        raise DecisionRefused(first[:1].upper() + first[1:] + ".") from error
