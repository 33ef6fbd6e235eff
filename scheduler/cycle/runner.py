"""The cycle's driver: decide whether a cycle is due, then move the open one as far as it can
go, one recorded stage at a time.

`tick` and `poll` are safe to call from any number of processes and at any time: the open
cycle is found from the database, each stage reads its inputs from the records the previous
one stored, and a partial unique index allows only one open cycle. The scheduler's lease keeps
two scheduler processes from advancing one cycle at the same time, and its fencing token (the
`fence` a leader passes in) refuses the writes of a leader that lost the lease while it worked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime

import openai
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from curation.db import Database
from curation.model_specs import ModelTable
from curation.models.base import utcnow
from scheduler.cycle.config import CycleConfig
from scheduler.cycle.context import CycleContext, ModelServing, Progress, keep_served
from scheduler.cycle.evaluation_stage import decision_step, evaluation_step
from scheduler.cycle.export_stage import export_method, export_step
from scheduler.cycle.promotion_stage import promotion_step
from scheduler.cycle.training_stage import training_step
from scheduler.cycle.trigger import new_example_count
from scheduler.errors import CycleBusyError
from scheduler.evaluation import Evaluator
from scheduler.notify import CycleEvent, Notifier, log_notifier, safely
from scheduler.records import CycleStage, Decision, RetrainCycle
from scheduler.registry import Registry
from scheduler.training import Trainer

log = logging.getLogger(__name__)

Step = Callable[[CycleContext, RetrainCycle], Progress]
#: Runs at the start of each write transaction of the cycle, inside it, and raises to refuse
#: it: a leader's fencing check (`scheduler.service.lease.Fence.check`).
WriteFence = Callable[[Session], None]

STAGES: dict[CycleStage, Step] = {
    CycleStage.EXPORT: export_step,
    CycleStage.TRAIN: training_step,
    CycleStage.EVALUATE: evaluation_step,
    CycleStage.DECIDE: decision_step,
    CycleStage.PROMOTE: promotion_step,
}


@dataclass(frozen=True)
class CycleReport:
    """Where things stand after a tick, for the command line and the log."""

    cycle_id: int | None
    started: bool
    stage: str | None
    outcome: str | None
    note: str
    waiting_until: datetime | None = None

    @property
    def decided(self) -> bool:
        return self.outcome is not None

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["waiting_until"] = self.waiting_until.isoformat() if self.waiting_until else None
        return data


#: Hears a report on the open cycle after each stage step that moved it on.
OnStep = Callable[[CycleReport], None]


class CycleRunner:
    def __init__(
        self,
        db: Database,
        *,
        client: openai.OpenAI,
        trainer: Trainer,
        evaluator: Evaluator,
        registry: Registry,
        models: ModelTable,
        config: CycleConfig,
        notifier: Notifier = log_notifier,
        now: Callable[[], datetime] = utcnow,
        today: Callable[[], date] | None = None,
        serving: ModelServing | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self._notifier = notifier
        self.ctx = CycleContext(
            db=db,
            client=client,
            trainer=trainer,
            evaluator=evaluator,
            registry=registry,
            models=models,
            config=config,
            now=now,
            today=today or (lambda: now().date()),
            serving=serving,
        )

    # --- entry points -------------------------------------------------------------------------
    def open_cycle(self) -> RetrainCycle | None:
        with self.db.read_session() as session:
            return session.scalar(select(RetrainCycle).where(RetrainCycle.is_open.is_(True)))

    def new_examples(self) -> int:
        return new_example_count(self.db, export_method(self.ctx))

    def tick(
        self,
        *,
        force: bool = False,
        trigger: str = "schedule",
        requested_by: str | None = None,
        on_step: OnStep | None = None,
        fence: WriteFence | None = None,
    ) -> CycleReport:
        """Resume the open cycle, or start one if enough new examples arrived (or `force`),
        and take it as far as it can go now (`on_step`: see `advance`).

        A tick ignores a rate-limit wait (429s wait "for the next cycle"); `poll` honours it.
        With a `fence`, every write is checked by it (raises `LeaseLost` once it refuses).
        """
        report = self.begin(force=force, trigger=trigger, requested_by=requested_by, fence=fence)
        if report.cycle_id is None:
            return report
        return self.advance(
            report.cycle_id,
            respect_wait=False,
            started=report.started,
            on_step=on_step,
            fence=fence,
        )

    def begin(
        self,
        *,
        force: bool = False,
        trigger: str = "schedule",
        requested_by: str | None = None,
        fence: WriteFence | None = None,
    ) -> CycleReport:
        """Open a cycle if one is due (or `force`) without advancing it: the open one if there
        is one, a new one, or none with the reason."""
        cycle = self.open_cycle()
        if cycle is not None:
            return self._report(cycle, started=False)
        new = self.new_examples()
        threshold = self.config.min_new_examples
        if not force and new < threshold:
            return CycleReport(
                None,
                False,
                None,
                None,
                f"no run: {new} new approved examples since the last run, a run starts at "
                f"{threshold} (TUNELOOP_MIN_NEW_EXAMPLES); `tuneloop retrain --now` starts "
                "one anyway",
            )
        db = self.db if fence is None else self.db.guarded(fence)
        cycle, started = self._open(db, trigger, requested_by or self.config.actor, new)
        return self._report(cycle, started)

    def report(self, cycle_id: int) -> CycleReport:
        """Where a cycle stands, from the database alone."""
        cycle = self._load(cycle_id)
        return self._report(cycle, False, waiting_until=cycle.not_before)

    def poll(self, *, fence: WriteFence | None = None) -> CycleReport | None:
        """Advance the open cycle if there is one, honouring a rate-limit wait."""
        cycle = self.open_cycle()
        if cycle is None:
            return None
        return self.advance(cycle.id, respect_wait=True, fence=fence)

    def advance(
        self,
        cycle_id: int,
        *,
        respect_wait: bool = True,
        started: bool = False,
        on_step: OnStep | None = None,
        fence: WriteFence | None = None,
    ) -> CycleReport:
        """Run stages until the cycle ends or has to wait for the provider. `on_step` hears
        where the open cycle stands after each step that moved it on (the returned report
        says where it ended). With a `fence`, each stage's writes are checked by it first:
        `LeaseLost` stops the cycle here, with nothing of the refused transaction written, for
        the new leader to resume."""
        ctx = self.ctx if fence is None else replace(self.ctx, db=self.ctx.db.guarded(fence))
        was_open = False
        while True:
            cycle = self._load(cycle_id)
            if not cycle.is_open:
                break
            if was_open and on_step is not None:
                on_step(self._report(cycle, started))
            was_open = True
            if respect_wait and cycle.not_before and self.ctx.now() < cycle.not_before:
                return self._report(cycle, started, waiting_until=cycle.not_before)
            log.info("cycle %s: %s", cycle.id, cycle.stage)
            if STAGES[cycle.stage](ctx, cycle) is Progress.WAIT:
                return self._report(self._load(cycle_id), started)
        if was_open:
            self.sync_serving()
            self._notify(cycle)
        return self._report(cycle, started)

    def sync_serving(self) -> None:
        """Keep the served model and its rollback target loaded, and nothing else (a rejected
        candidate's adapter is unloaded). Called when a cycle ends and when the registry
        changes; a failure is logged, and the next call (or a reply's reload) repairs it."""
        if self.ctx.serving is not None:
            keep_served(self.ctx.serving, self.ctx.registry)

    # --- helpers ------------------------------------------------------------------------------
    def _open(
        self, db: Database, trigger: str, requested_by: str, new: int
    ) -> tuple[RetrainCycle, bool]:
        try:
            with db.session() as session:
                cycle = RetrainCycle(
                    trigger=trigger,
                    requested_by=requested_by,
                    strategy=self.config.strategy,
                    method=self.config.method,
                    new_examples=new,
                    created_at=self.ctx.now(),
                    note=f"started ({trigger}) with {new} new approved examples",
                )
                session.add(cycle)
            log.info("cycle %s started (%s, %d new examples)", cycle.id, trigger, new)
            return cycle, True
        except IntegrityError:
            other = self.open_cycle()  # another process opened one at the same moment
            if other is None:
                raise CycleBusyError("could not open a retraining cycle; try again") from None
            return other, False

    def _load(self, cycle_id: int) -> RetrainCycle:
        with self.db.read_session() as session:
            return session.get_one(RetrainCycle, cycle_id)

    def _report(
        self, cycle: RetrainCycle, started: bool, waiting_until: datetime | None = None
    ) -> CycleReport:
        return CycleReport(
            cycle_id=cycle.id,
            started=started,
            stage=cycle.stage.value,
            outcome=cycle.outcome.value if cycle.outcome else None,
            note=cycle.note or "",
            waiting_until=waiting_until,
        )

    def _notify(self, cycle: RetrainCycle) -> None:
        with self.db.read_session() as session:
            decision = session.scalar(select(Decision).where(Decision.cycle_id == cycle.id))
        event = CycleEvent(
            cycle_id=cycle.id,
            outcome=cycle.outcome.value if cycle.outcome else "",
            note=cycle.note or "",
            candidate=decision.candidate if decision else None,
            incumbent=decision.incumbent if decision else None,
            verdict=decision.verdict.value if decision else None,
            numbers=dict(decision.numbers) if decision else {},
        )
        safely(self._notifier, event)
