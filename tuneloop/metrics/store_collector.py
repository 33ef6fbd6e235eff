"""What the database knows, read at each scrape: the review queue, feedback and corrections,
approved examples waiting for a run, the open cycle's stage, how cycles ended, the gate's
decisions and the active model.

These figures are the same on every process that reads the store (the bot and the scheduler
both serve them): aggregate them across instances with max(), not sum(). Counts come from the
counts the database keeps (curation.stats.kept_counts) and from the small cycle and decision
tables, so a scrape costs a few short reads at any size of the store. Feedback and corrections
are append-only, so their counts are true counters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from curation.db import Database
from curation.models import FeedbackKind, ReviewState
from curation.stats import kept_counts
from scheduler.records import CycleStage, Decision, RetrainCycle, Verdict

log = logging.getLogger("tuneloop.metrics")

#: The cycle's stage while none is open.
IDLE = "idle"
CYCLE_STAGES = (IDLE, *(stage.value for stage in CycleStage if stage is not CycleStage.DONE))


@dataclass(frozen=True)
class StoreFigures:
    """One scrape's reading of the store."""

    review_open: dict[str, int]
    feedback: dict[str, int]
    corrections: int
    stage: str
    cycle_outcomes: dict[str, int]
    decisions: dict[str, int]
    last_decision_at: float | None


def read_figures(session: Session) -> StoreFigures:
    """The store's figures in one read-only transaction."""
    counts = kept_counts(session)
    review = counts.get("review_items", {})
    feedback = counts.get("feedback", {})
    outcomes = session.execute(
        select(RetrainCycle.outcome, func.count())
        .where(RetrainCycle.is_open.is_(False), RetrainCycle.outcome.is_not(None))
        .group_by(RetrainCycle.outcome)
    )
    verdicts = session.execute(select(Decision.verdict, func.count()).group_by(Decision.verdict))
    stage = session.scalar(select(RetrainCycle.stage).where(RetrainCycle.is_open.is_(True)))
    last = session.scalar(select(func.max(Decision.decided_at)))
    return StoreFigures(
        review_open={s.value: review.get(s.value, 0) for s in ReviewState if s.is_open},
        feedback={kind.value: feedback.get(kind.value, 0) for kind in FeedbackKind},
        corrections=counts.get("corrections", {}).get("", 0),
        stage=stage.value if stage is not None else IDLE,
        cycle_outcomes={outcome.value: int(n) for outcome, n in outcomes},
        decisions={
            **{verdict.value: 0 for verdict in Verdict},
            **{verdict.value: int(n) for verdict, n in verdicts},
        },
        last_decision_at=last.timestamp() if last is not None else None,
    )


class StoreCollector:
    """A prometheus_client collector over the store. `active_model()` is the id the bot
    serves (the registry's lookup); `new_examples()` the approved examples the next run would
    take that no run trained on (the cycle runner's count). If the store cannot be read, the
    scrape still answers, with `tuneloop_store_up` 0."""

    def __init__(
        self,
        db: Database,
        *,
        active_model: Callable[[], str],
        new_examples: Callable[[], int],
    ) -> None:
        self._db = db
        self._active_model = active_model
        self._new_examples = new_examples
        self._was_up = True

    def collect(self) -> Iterator[Metric]:
        try:
            with self._db.read_session() as session:
                figures = read_figures(session)
            model, waiting = self._active_model(), self._new_examples()
        except Exception as error:  # a scrape must answer even when the database does not
            if self._was_up:
                log.warning("metrics: could not read the store: %s", error)
            self._was_up = False
            yield _gauge("tuneloop_store_up", "1 if this scrape could read the store.", 0)
            return
        self._was_up = True
        yield _gauge("tuneloop_store_up", "1 if this scrape could read the store.", 1)
        yield from _figures(figures, model, waiting)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled(
    family: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    documentation: str,
    label: str,
    values: dict[str, int],
) -> Metric:
    """One metric family with a sample per label value."""
    metric = family(name, documentation, labels=[label])
    for value, n in values.items():
        metric.add_metric([value], n)
    return metric


def _figures(figures: StoreFigures, model: str, waiting: int) -> Iterator[Metric]:
    yield _labelled(
        GaugeMetricFamily,
        "tuneloop_review_queue_items",
        "Review items waiting for a reviewer, by state (pending, needs_edit).",
        "state",
        figures.review_open,
    )
    yield _labelled(
        CounterMetricFamily,
        "tuneloop_feedback",
        "Feedback recorded on replies, by kind (one per person, reply and kind; store-wide).",
        "kind",
        figures.feedback,
    )
    yield CounterMetricFamily(
        "tuneloop_corrections",
        "Corrections people proposed for replies (store-wide).",
        value=figures.corrections,
    )
    yield _gauge(
        "tuneloop_new_approved_examples",
        "Approved examples that no retraining run has trained on yet (a run starts at "
        "TUNELOOP_MIN_NEW_EXAMPLES).",
        waiting,
    )
    yield _labelled(
        GaugeMetricFamily,
        "tuneloop_retrain_cycle_stage",
        "1 for the stage of the open retraining cycle (idle when none is open), 0 for others.",
        "stage",
        {name: int(name == figures.stage) for name in CYCLE_STAGES},
    )
    yield _labelled(
        CounterMetricFamily,
        "tuneloop_retrain_cycles",
        "Retraining cycles that ended, by outcome (store-wide).",
        "outcome",
        dict(sorted(figures.cycle_outcomes.items())),
    )
    yield _labelled(
        CounterMetricFamily,
        "tuneloop_gate_decisions",
        "Evaluation gate decisions, by verdict (cycles and `tuneloop eval`; store-wide).",
        "verdict",
        figures.decisions,
    )
    if figures.last_decision_at is not None:
        yield _gauge(
            "tuneloop_last_gate_decision_timestamp_seconds",
            "When the gate last decided (Unix time).",
            figures.last_decision_at,
        )

    active = InfoMetricFamily("tuneloop_active_model", "The model the bot answers with.")
    active.add_metric([], {"model": model})
    yield active
