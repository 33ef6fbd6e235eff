"""The store as one object to hand around: the database and the services over it."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from curation.capture import Capture
from curation.claims import ClaimRules
from curation.correction_limits import CorrectionLimits
from curation.db import Database
from curation.models.base import utcnow
from curation.personal_data import PersonalDataPolicy
from curation.review import IsReviewer, Review, reviewer_set
from curation.token_limit import TokenLimit


@dataclass(frozen=True)
class Store:
    db: Database
    capture: Capture
    review: Review
    eval_fraction: float

    @classmethod
    def build(
        cls,
        db: Database,
        *,
        reviewers: Collection[str] | IsReviewer,
        eval_fraction: float = 0.2,
        limit: TokenLimit | None = None,
        personal_data: PersonalDataPolicy | None = None,
        correction_limits: CorrectionLimits | None = None,
        clock: Callable[[], datetime] = utcnow,
        claims: ClaimRules | None = None,
    ) -> Store:
        """`limit`: the target model's per-example token limit, checked at approval;
        `personal_data`: what a reviewer must decide on in a reply before it is trained;
        `correction_limits`: corrections per person and per reply within a window; `clock`:
        the time corrections are stamped and counted with; `claims`: whose claims this
        process's exchanges are, and when a replica is dead."""
        is_reviewer = reviewers if callable(reviewers) else reviewer_set(reviewers)
        review = Review(
            db,
            is_reviewer=is_reviewer,
            eval_fraction=eval_fraction,
            limit=limit,
            personal_data=personal_data,
        )
        return cls(
            db=db,
            capture=Capture(db, claims, correction_limits=correction_limits, clock=clock),
            review=review,
            eval_fraction=eval_fraction,
        )
