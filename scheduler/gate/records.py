"""Between the gate and the database: stored eval items in, a Decision record out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.gate.policy import GateResult, ScoredItem
from scheduler.records import Decision, EvalItem, EvalRun


def scored_items(session: Session, eval_run_id: int) -> list[ScoredItem]:
    rows = session.scalars(select(EvalItem).where(EvalItem.eval_run_id == eval_run_id))
    return [
        ScoredItem(
            thread_key=row.thread_key,
            golden=row.golden,
            outcome=row.outcome,
            candidate_score=row.candidate_score,
            incumbent_score=row.incumbent_score,
        )
        for row in rows
    ]


def decision_record(
    run: EvalRun, result: GateResult, *, at: datetime, cycle_id: int | None = None
) -> Decision:
    return Decision(
        cycle_id=cycle_id,
        eval_run_id=run.id,
        candidate=run.candidate,
        incumbent=run.incumbent,
        verdict=result.verdict,
        reason=result.reason,
        numbers=result.numbers,
        thresholds=result.thresholds,
        decided_at=at,
    )
