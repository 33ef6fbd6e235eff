"""Stages 3 and 4: evaluate the candidate against the served model, then let the gate decide."""

from __future__ import annotations

from datetime import timedelta

import openai
from sqlalchemy import select

from scheduler.cycle.context import (
    CycleContext,
    Progress,
    close_cycle,
    ensure_served,
    set_note,
    training_run_of,
)
from scheduler.evaluation import EvaluationPaused
from scheduler.gate import judge_candidate
from scheduler.gate.records import decision_record, scored_items
from scheduler.records import (
    CycleOutcome,
    CycleStage,
    EvalRun,
    ModelVersion,
    RetrainCycle,
    Verdict,
)
from scheduler.training.model_info import shutdown_date

#: How long a paused evaluation waits before the next poll asks again, when the provider
#: gave no `retry-after`.
PAUSE_SECONDS = 60.0


def eval_run_of(ctx: CycleContext, cycle_id: int) -> EvalRun | None:
    with ctx.db.read_session() as session:
        return session.scalar(select(EvalRun).where(EvalRun.cycle_id == cycle_id))


def evaluation_step(ctx: CycleContext, cycle: RetrainCycle) -> Progress:
    run = eval_run_of(ctx, cycle.id)
    if run is None:
        # The incumbent is fixed here, with the run: the promotion later refuses if the served
        # model changed in between.
        incumbent = ctx.registry.ensure_active(ctx.config.base_model)
        with ctx.db.session() as session:
            training = training_run_of(session, cycle.id)
            run = ctx.evaluator.create_run(
                session,
                candidate=training.fine_tuned_model or "",
                incumbent=incumbent,
                cycle_id=cycle.id,
                training_run_id=training.id,
                dataset_version_id=cycle.dataset_version_id,
            )
            session.get_one(
                RetrainCycle, cycle.id
            ).note = f"evaluating {run.candidate} against {incumbent} on {run.item_count} items"
    # Both must answer: after a restart of a self-hosted server, neither adapter is loaded.
    if not ensure_served(ctx, cycle.id, [run.candidate, run.incumbent]):
        return Progress.WAIT
    try:
        done = ctx.evaluator.run(run.id, db=ctx.db)
    except EvaluationPaused as paused:
        # The candidate is trained and paid for: wait for the provider, never decide on a
        # burst's errors. A tick resumes at once; a poll after the provider's hint.
        resume_at = ctx.now() + timedelta(seconds=paused.retry_after_s or PAUSE_SECONDS)
        note = (
            f"{paused}; the evaluation resumes with the missing items at the next poll "
            f"(TUNELOOP_EVAL_RETRY_WAIT_SECONDS bounds each wait)"
        )
        set_note(ctx, cycle.id, note, not_before=resume_at)
        return Progress.WAIT
    with ctx.db.session() as session:
        stored = session.get_one(RetrainCycle, cycle.id)
        stored.stage = CycleStage.DECIDE
        stored.note = (
            f"evaluated {done.candidate} against {done.incumbent} on "
            f"{done.summary.get('items', 0)} items; the gate decides"
        )
    return Progress.CONTINUE


def decision_step(ctx: CycleContext, cycle: RetrainCycle) -> Progress:
    run = eval_run_of(ctx, cycle.id)
    assert run is not None, "the decide stage follows a stored eval run"
    try:
        shutdown = shutdown_date(ctx.client, run.candidate)
    except openai.APIError as exc:
        set_note(ctx, cycle.id, f"could not read {run.candidate}'s shutdown date: {exc}")
        return Progress.WAIT
    with ctx.db.read_session() as session:
        items = scored_items(session, run.id)
    result = judge_candidate(items, ctx.config.gate, today=ctx.today(), shutdown_date=shutdown)
    with ctx.db.session() as session:
        session.add(decision_record(run, result, at=ctx.now(), cycle_id=cycle.id))
        version = session.scalar(select(ModelVersion).where(ModelVersion.model == run.candidate))
        if version is not None:
            version.shutdown_date = shutdown
        if result.verdict is Verdict.PROMOTE:
            stored = session.get_one(RetrainCycle, cycle.id)
            stored.stage = CycleStage.PROMOTE
            stored.note = result.reason
        else:
            ctx.registry.mark_rejected(session, run.candidate)
            outcome = (
                CycleOutcome.REJECTED
                if result.verdict is Verdict.REJECT
                else CycleOutcome.INSUFFICIENT_EVIDENCE
            )
            close_cycle(session, cycle.id, outcome, result.reason, ctx.now())
    return Progress.CONTINUE
