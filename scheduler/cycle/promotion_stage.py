"""Stage 5: promote the winner, in the same transaction that closes the cycle."""

from __future__ import annotations

from sqlalchemy import select

from scheduler.cycle.context import CycleContext, Progress, close_cycle
from scheduler.errors import StaleIncumbentError
from scheduler.records import CycleOutcome, Decision, RetrainCycle


def promotion_step(ctx: CycleContext, cycle: RetrainCycle) -> Progress:
    with ctx.db.read_session() as session:
        decision = session.scalars(select(Decision).where(Decision.cycle_id == cycle.id)).one()
    try:
        with ctx.db.session() as session:
            ctx.registry.promote(
                decision.candidate,
                actor=ctx.config.actor,
                reason=decision.reason,
                expected_active=decision.incumbent,
                decision_id=decision.id,
                eval_run_id=decision.eval_run_id,
                dataset_version_id=cycle.dataset_version_id,
                session=session,
            )
            note = f"promoted {decision.candidate} (was {decision.incumbent}): {decision.reason}"
            close_cycle(session, cycle.id, CycleOutcome.PROMOTED, note, ctx.now())
    except StaleIncumbentError as exc:
        with ctx.db.session() as session:
            close_cycle(session, cycle.id, CycleOutcome.STALE, f"not promoted: {exc}", ctx.now())
    return Progress.CONTINUE
