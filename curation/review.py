"""The review state machine: pending -> approved | rejected | needs_edit (-> pending).

Only reviewers decide. Every decision is a conditional UPDATE on the item's state, so of two
reviewers approving the same item at once exactly one wins and exactly one example is made;
the other is told who decided first.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from curation.db import Database
from curation.errors import (
    ChangedSinceSeenError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from curation.examples import NewExample, insert_example
from curation.fingerprints import exact_text
from curation.models import (
    Correction,
    ExampleSource,
    ReviewEvent,
    ReviewItem,
    ReviewKind,
    ReviewState,
)
from curation.models.base import utcnow
from curation.personal_data import PersonalDataPolicy
from curation.scrub import clean_for_storage
from curation.stats import kept_counts, review_counts
from curation.token_limit import TokenLimit

IsReviewer = Callable[[str], bool]


def reviewer_set(user_ids: Collection[str]) -> IsReviewer:
    """The plain policy: these user ids may decide."""
    allowed = frozenset(user_ids)
    return allowed.__contains__


@dataclass(frozen=True, slots=True)
class ReviewView:
    """What a reviewer needs to decide on one item."""

    id: int
    exchange_id: int
    kind: ReviewKind
    state: ReviewState
    question: str
    reply: str | None
    model: str | None
    correction: str | None
    correction_by: str | None
    opened_by: str
    opened_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    example_id: int | None
    thread_key: str
    #: Personal data found in the reply that approval would train (the correction, or the
    #: upvoted reply), as people read it: approval then needs `keep_personal_data` or an edit.
    personal_data: tuple[str, ...] = ()
    #: What the reviewer is shown: the id of the item's correction (0: none, the bot's reply).
    #: Corrections are append-only, so the id names the text exactly; a decision given with
    #: `seen=version` applies only while the item still shows that text.
    version: int = 0


class PersonalDataError(ValidationError):
    """A reply to be trained holds personal data that the allow list does not keep: a reviewer
    decides to keep it (`keep_personal_data`) or edits it out. `found`: what was found, as
    `ReviewView.personal_data` words it."""

    def __init__(self, message: str, problems: list[str], found: tuple[str, ...]) -> None:
        super().__init__(message, problems)
        self.found = found


@dataclass(frozen=True, slots=True)
class Approval:
    item: ReviewView
    example_id: int
    #: False when an identical example already existed (the item points at that one).
    example_created: bool


class Review:
    """Reviewer decisions, with the same rules for Slack, the command line and scripts."""

    def __init__(
        self,
        db: Database,
        *,
        is_reviewer: IsReviewer,
        eval_fraction: float,
        limit: TokenLimit | None = None,
        personal_data: PersonalDataPolicy | None = None,
    ) -> None:
        self._db = db
        self._is_reviewer = is_reviewer
        self._eval_fraction = eval_fraction
        #: The target model's per-example token limit, checked before an example is made.
        self._limit = limit
        #: What counts as personal data in a reply to be trained (None: not looked for).
        self._personal_data = personal_data

    def is_reviewer(self, user_id: str) -> bool:
        return bool(user_id) and self._is_reviewer(user_id)

    # --- reading ---------------------------------------------------------------------------------

    def list(
        self,
        state: ReviewState | Collection[ReviewState] | None = ReviewState.PENDING,
        limit: int = 50,
        *,
        after_id: int | None = None,
    ) -> list[ReviewView]:
        """Items in `state` (several states, or all when None), oldest first: a queue is
        served in order. `after_id` pages on: the items after that id (keyset paging, the
        same cost for every page)."""
        with self._db.read_session() as session:
            query = select(ReviewItem).order_by(ReviewItem.id).limit(limit)
            if isinstance(state, ReviewState):
                query = query.where(ReviewItem.state == state)
            elif state is not None:
                query = query.where(ReviewItem.state.in_(list(state)))
            if after_id is not None:
                query = query.where(ReviewItem.id > after_id)
            return [self._view(session, item) for item in session.scalars(query)]

    def counts(self) -> dict[str, int]:
        """Items in each state, from the counts the database keeps (no pass over the items)."""
        with self._db.read_session() as session:
            return review_counts(kept_counts(session))

    def get(self, item_id: int) -> ReviewView:
        with self._db.read_session() as session:
            return self._view(session, _get_item(session, item_id))

    def history(self, item_id: int) -> list[ReviewEvent]:
        with self._db.read_session() as session:
            _get_item(session, item_id)
            return list(
                session.scalars(
                    select(ReviewEvent)
                    .where(ReviewEvent.item_id == item_id)
                    .order_by(ReviewEvent.id)
                )
            )

    # --- deciding --------------------------------------------------------------------------------

    def approve(
        self,
        item_id: int,
        reviewer: str,
        *,
        reason: str | None = None,
        text: str | None = None,
        keep_personal_data: bool = False,
        seen: int | None = None,
    ) -> Approval:
        """Approve an item into an example. With `text`, the reviewer's own correction is
        recorded and becomes the target (the "Edit" button).

        `seen`: the item's `version` when the reviewer looked; if a newer correction has
        arrived since, ChangedSinceSeenError is raised and nothing changes (None: approve
        whatever the item holds now, for scripts that do not show text first).

        A target that holds personal data (not on the allow list) raises PersonalDataError,
        naming what was found, and nothing changes: the reviewer edits it out, or approves
        again with `keep_personal_data` (a reply that is meant to give it)."""
        self._require_reviewer(reviewer, "approve")
        with self._db.session() as session:
            item = _get_item(session, item_id)
            allowed = [ReviewState.PENDING]
            if text is not None:
                allowed.append(ReviewState.NEEDS_EDIT)
            # The version is checked by the same conditional UPDATE that decides, so a
            # correction committed a moment before still makes the approval fail.
            self._transition(
                session, item, allowed, ReviewState.APPROVED, reviewer, reason, seen=seen
            )
            if text is not None:
                item.correction_id = self._reviewer_correction(session, item, reviewer, text)
                item.kind = ReviewKind.CORRECTION
            new = self._example_for(session, item)
            if not keep_personal_data:
                self._refuse_personal_data(item.id, new.target)
            example, created = insert_example(
                session,
                new,
                approved_by=reviewer,
                eval_fraction=self._eval_fraction,
                limit=self._limit,
            )
            session.flush()
            item.example_id = example.id
            return Approval(self._view(session, item), example.id, created)

    def reject(
        self, item_id: int, reviewer: str, *, reason: str, seen: int | None = None
    ) -> ReviewView:
        """Reject an item; a reason is required, for the person whose signal it was. `seen`:
        as for `approve` (a correction that arrived since is not rejected unseen)."""
        self._require_reviewer(reviewer, "reject")
        _require_reason(reason, item_id)
        with self._db.session() as session:
            item = _get_item(session, item_id)
            self._transition(
                session,
                item,
                [ReviewState.PENDING, ReviewState.NEEDS_EDIT],
                ReviewState.REJECTED,
                reviewer,
                reason,
                seen=seen,
            )
            return self._view(session, item)

    def request_edit(self, item_id: int, reviewer: str, *, reason: str) -> ReviewView:
        """Send an item back: it needs a (better) correction before it can be approved."""
        self._require_reviewer(reviewer, "send back")
        _require_reason(reason, item_id)
        with self._db.session() as session:
            item = _get_item(session, item_id)
            self._transition(
                session, item, [ReviewState.PENDING], ReviewState.NEEDS_EDIT, reviewer, reason
            )
            return self._view(session, item)

    # --- internals -------------------------------------------------------------------------------

    def _view(self, session: Session, item: ReviewItem) -> ReviewView:
        return _view(session, item, self._personal_data)

    def _require_reviewer(self, user_id: str, action: str) -> None:
        if not self.is_reviewer(user_id):
            raise PermissionDeniedError(
                f"{user_id or 'an unknown user'} may not {action} review items: "
                "only configured reviewers decide"
            )

    def _refuse_personal_data(self, item_id: int, target: str) -> None:
        found = self._personal_data.describe([target]) if self._personal_data else []
        if found:
            raise PersonalDataError(
                f"review item {item_id}: the reply to be trained holds personal data; edit it "
                "out, or approve keeping it (keep_personal_data; a team's own public contacts "
                "belong on TUNELOOP_PII_ALLOW_LIST)",
                [f"review item {item_id}: personal_data in the reply: {f}" for f in found],
                tuple(found),
            )

    @staticmethod
    def _reviewer_correction(session: Session, item: ReviewItem, reviewer: str, text: str) -> int:
        cleaned = exact_text(text)  # the first line's indentation is content
        if not cleaned:
            raise ValidationError("the edited reply is empty", [f"review item {item.id}: text"])
        correction = Correction(
            exchange_id=item.exchange_id, author_id=reviewer, text=clean_for_storage(cleaned)
        )
        session.add(correction)
        session.flush()
        return correction.id

    @staticmethod
    def _transition(
        session: Session,
        item: ReviewItem,
        allowed: list[ReviewState],
        to_state: ReviewState,
        actor: str,
        reason: str | None,
        *,
        seen: int | None = None,
    ) -> None:
        """Move `item` to `to_state` only if it is still in an allowed state and, with `seen`,
        still shows the correction the reviewer saw (race-safe: one conditional UPDATE)."""
        from_state = item.state
        reason = clean_for_storage(reason) if reason else reason
        conditions = [ReviewItem.id == item.id, ReviewItem.state.in_(allowed)]
        if seen is not None:
            conditions.append(
                ReviewItem.correction_id.is_(None)
                if seen == 0
                else ReviewItem.correction_id == seen
            )
        result = session.execute(
            update(ReviewItem)
            .where(*conditions)
            .values(state=to_state, decided_by=actor, decided_at=utcnow(), decision_reason=reason)
            .execution_options(synchronize_session="fetch")
        )
        if result.rowcount != 1:
            session.refresh(item)
            if item.state in allowed and seen is not None:
                raise ChangedSinceSeenError(
                    f"review item {item.id} changed since you looked: a newer correction "
                    f"(version {item.correction_id or 0}; you saw version {seen}) is waiting; "
                    "look at it again before deciding",
                    current=item.correction_id or 0,
                )
            who = f" by {item.decided_by}" if item.decided_by else ""
            raise InvalidTransitionError(
                f"review item {item.id} is {item.state.value}{who}; "
                f"it cannot become {to_state.value} (allowed from: "
                f"{', '.join(s.value for s in allowed)})"
            )
        session.refresh(item)
        session.add(
            ReviewEvent(
                item_id=item.id,
                actor=actor,
                action=to_state.value,
                from_state=from_state.value,
                to_state=to_state.value,
                reason=reason,
            )
        )

    @staticmethod
    def _example_for(session: Session, item: ReviewItem) -> NewExample:
        exchange = item.exchange
        correction = session.get(Correction, item.correction_id) if item.correction_id else None
        if correction is not None:
            target, rejected, source = correction.text, exchange.reply, ExampleSource.CORRECTION
        elif item.kind is ReviewKind.UPVOTE and exchange.reply:
            target, rejected, source = exchange.reply, None, ExampleSource.UPVOTE
        else:
            raise ValidationError(
                f"review item {item.id} is a flag without a correction: nothing to train on; "
                "approve it with an edited reply, send it back, or reject it"
            )
        return NewExample(
            messages=[_as_context(m) for m in exchange.prompt_messages],
            target=target,
            rejected=rejected,
            source=source,
            thread_key=exchange.thread_key,
            exchange_id=exchange.id,
        )


def _as_context(message: dict[str, Any]) -> dict[str, Any]:
    """A turn of the thread before the reviewed reply. The bot's earlier answers there were
    never approved by this decision (one may be the very reply someone flagged): they are
    context, `"weight": 0`, and only the approved reply is trained."""
    if message.get("role") == "assistant":
        return {**message, "weight": 0}
    return dict(message)


def _require_reason(reason: str | None, item_id: int) -> None:
    if not reason or not reason.strip():
        raise ValidationError("a reason is required", [f"review item {item_id}: reason"])


def _get_item(session: Session, item_id: int) -> ReviewItem:
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFoundError(f"review item {item_id} does not exist")
    return item


def _view(
    session: Session, item: ReviewItem, personal_data: PersonalDataPolicy | None
) -> ReviewView:
    exchange = item.exchange
    correction = session.get(Correction, item.correction_id) if item.correction_id else None
    reply = correction.text if correction else exchange.reply
    found = personal_data.describe([reply]) if personal_data and reply else []
    return ReviewView(
        id=item.id,
        exchange_id=item.exchange_id,
        kind=item.kind,
        state=item.state,
        question=exchange.question,
        reply=exchange.reply,
        model=exchange.model,
        correction=correction.text if correction else None,
        correction_by=correction.author_id if correction else None,
        opened_by=item.opened_by,
        opened_at=item.opened_at,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        decision_reason=item.decision_reason,
        example_id=item.example_id,
        thread_key=exchange.thread_key,
        personal_data=tuple(found),
        version=item.correction_id or 0,
    )


__all__ = ["Approval", "PersonalDataError", "Review", "ReviewView", "reviewer_set"]
