"""Stage 2: start the fine-tuning job (once), follow it, and wait until the new model answers.

Every provider answer is recorded before the next call, so a restart picks up from the stored
job id; a restart before the id was stored is covered by the trainer finding the job by its
metadata.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import openai

from scheduler.cycle.budget import spent_this_month
from scheduler.cycle.context import (
    CycleContext,
    Progress,
    close_cycle,
    ensure_served,
    set_note,
    training_run_of,
)
from scheduler.records import CycleOutcome, CycleStage, RetrainCycle, TrainingRun, TrainingStatus
from scheduler.training import (
    JobReport,
    JobStatus,
    TrainingRateLimited,
    TrainingRequest,
    TrainingTransientError,
    TrainingUnavailable,
)
from scheduler.training.model_info import model_answers

#: With no retry-after, a rate limit (often a daily one) waits for the next scheduled run; this
#: only stops the minutely poll from asking in the meantime.
RATE_LIMIT_HOLD = timedelta(hours=24)

#: The error code of a job a backend refused to create because its provider's price estimate
#: was over what the budget leaves (`TrainingRequest.cost_limit_usd`).
OVER_BUDGET = "over_budget"

_IN_FLIGHT = {TrainingStatus.VALIDATING_FILES, TrainingStatus.QUEUED, TrainingStatus.RUNNING}


def training_step(ctx: CycleContext, cycle: RetrainCycle) -> Progress:
    with ctx.db.read_session() as session:
        run = training_run_of(session, cycle.id)
    if run.status is TrainingStatus.PREPARING:
        return _start(ctx, cycle, run)
    if run.status in _IN_FLIGHT:
        assert run.job_id is not None
        try:
            report = ctx.trainer.poll(run.job_id)
        except (TrainingRateLimited, TrainingTransientError) as exc:
            set_note(ctx, cycle.id, f"could not read job {run.job_id}: {exc}; will try again")
            return Progress.WAIT
        return _apply(ctx, cycle, run, report)
    if run.status is TrainingStatus.LOADING:
        return _await_model(ctx, cycle, run)
    if run.status is TrainingStatus.READY:  # stage not moved on before a crash
        with ctx.db.session() as session:
            session.get_one(RetrainCycle, cycle.id).stage = CycleStage.EVALUATE
        return Progress.CONTINUE
    with ctx.db.session() as session:  # FAILED or CANCELLED but the cycle not closed
        outcome = _failure_outcome(run.status, run.error_code)
        close_cycle(session, cycle.id, outcome, _failure_note(run), ctx.now())
    return Progress.CONTINUE


def _cost_limit(ctx: CycleContext) -> float:
    """What the budget leaves for the run being started: the per-run budget, or what the month
    has left after the runs that reached the provider (this one has no job yet)."""
    with ctx.db.read_session() as session:
        spent = spent_this_month(session, ctx.now())
    return min(ctx.config.budget_per_run_usd, ctx.config.budget_per_month_usd - spent)


def _request(run: TrainingRun, eval_path: Path, cost_limit_usd: float | None) -> TrainingRequest:
    uploaded = {
        kind: file_id
        for kind, file_id in (("train", run.train_file_id), ("eval", run.eval_file_id))
        if file_id
    }
    return TrainingRequest(
        dataset_version_id=run.dataset_version_id,
        train_path=Path(run.train_file),
        eval_path=eval_path,
        train_sha256=run.train_sha256,
        model=run.model,
        method="dpo" if run.method == "dpo" else "supervised",
        suffix=run.suffix,
        seed=run.seed,
        n_epochs=run.hyperparameters.get("n_epochs"),
        learning_rate_multiplier=run.hyperparameters.get("learning_rate_multiplier"),
        uploaded=uploaded,
        cost_limit_usd=cost_limit_usd,
    )


def _start(ctx: CycleContext, cycle: RetrainCycle, run: TrainingRun) -> Progress:
    def record_upload(kind: str, file_id: str) -> None:
        with ctx.db.session() as session:
            setattr(session.get_one(TrainingRun, run.id), f"{kind}_file_id", file_id)

    request = _request(run, Path(run.train_file).parent / "eval.jsonl", _cost_limit(ctx))
    try:
        report = ctx.trainer.start(request, record_upload)
    except TrainingUnavailable as exc:
        with ctx.db.session() as session:
            stored = session.get_one(TrainingRun, run.id)
            stored.status = TrainingStatus.FAILED
            stored.error_code, stored.error_message = exc.code, str(exc)
            stored.finished_at = ctx.now()
            close_cycle(session, cycle.id, CycleOutcome.UNAVAILABLE, str(exc), ctx.now())
        return Progress.CONTINUE
    except TrainingRateLimited as exc:
        until = exc.retry_at or ctx.now() + RATE_LIMIT_HOLD
        note = f"{exc}; the job will be created at the next scheduled run"
        set_note(ctx, cycle.id, note, not_before=until)
        return Progress.WAIT
    except TrainingTransientError as exc:
        set_note(ctx, cycle.id, f"{exc}; will try again")
        return Progress.WAIT
    return _apply(ctx, cycle, run, report)


def _apply(ctx: CycleContext, cycle: RetrainCycle, run: TrainingRun, report: JobReport) -> Progress:
    """Record what the provider said; move on, close the cycle, or wait."""
    with ctx.db.session() as session:
        stored = session.get_one(TrainingRun, run.id)
        before = stored.status
        stored.job_id = report.job_id or stored.job_id
        stored.train_file_id = report.files.get("train", stored.train_file_id)
        stored.eval_file_id = report.files.get("eval", stored.eval_file_id)
        if report.estimated_cost_usd is not None:  # the provider's estimate beats the table's
            stored.estimated_cost_usd = report.estimated_cost_usd
        if report.status is JobStatus.SUCCEEDED:
            stored.status = TrainingStatus.LOADING
            stored.fine_tuned_model = report.fine_tuned_model
            stored.trained_tokens = report.trained_tokens
            stored.artifact_sha256 = report.artifact_sha256
            stored.succeeded_at = ctx.now()
            ctx.registry.record_candidate(
                session,
                model=report.fine_tuned_model or "",
                base_model=stored.base_model,
                training_run_id=stored.id,
                dataset_version_id=stored.dataset_version_id,
            )
        elif report.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            stored.status = TrainingStatus(report.status.value)
            stored.error_code = report.error_code
            stored.error_message = report.error_message
            stored.finished_at = ctx.now()
            outcome = _failure_outcome(stored.status, stored.error_code)
            close_cycle(session, cycle.id, outcome, _failure_note(stored), ctx.now())
            return Progress.CONTINUE
        else:
            stored.status = TrainingStatus(report.status.value)
        cycle_row = session.get_one(RetrainCycle, cycle.id)
        progress = f" ({report.progress})" if report.progress else ""
        job = stored.job_id or "(files processing)"
        cycle_row.note = f"fine-tuning job {job}: {stored.status}{progress}"
        cycle_row.not_before = None
        changed = stored.status is not before
    # A change (job created, started, succeeded) is worth another look at once; no change
    # means the provider is still working.
    return Progress.CONTINUE if changed else Progress.WAIT


def _await_model(ctx: CycleContext, cycle: RetrainCycle, run: TrainingRun) -> Progress:
    """A new model may answer model_not_found for a while: ask until it answers or times out."""
    model = run.fine_tuned_model or ""
    # A self-hosted adapter answers only once the serving side has loaded it (a failure to
    # load is noted on the cycle and counts against the same timeout).
    served = ensure_served(ctx, cycle.id, [model])
    try:
        ready = served and model_answers(ctx.client, model)
    except openai.APIError as exc:
        set_note(ctx, cycle.id, f"could not reach {model}: {exc}; will try again")
        return Progress.WAIT
    now = ctx.now()
    if ready:
        with ctx.db.session() as session:
            stored = session.get_one(TrainingRun, run.id)
            stored.status = TrainingStatus.READY
            stored.finished_at = now
            cycle_row = session.get_one(RetrainCycle, cycle.id)
            cycle_row.stage = CycleStage.EVALUATE
            cycle_row.note = f"{model} is trained and answering; evaluating"
        return Progress.CONTINUE
    waited = now - (run.succeeded_at or now)
    if waited > ctx.config.model_ready_timeout:
        with ctx.db.session() as session:
            stored = session.get_one(TrainingRun, run.id)
            stored.status = TrainingStatus.FAILED
            stored.error_code = "model_not_found"
            stored.error_message = (
                f"{model} still answered model_not_found {int(waited.total_seconds() // 60)} "
                "minutes after its job succeeded"
            )
            stored.finished_at = now
            close_cycle(session, cycle.id, CycleOutcome.TRAINING_FAILED, stored.error_message, now)
        return Progress.CONTINUE
    if served:
        note = f"{model} succeeded but is not served yet (model_not_found); waiting"
        set_note(ctx, cycle.id, note)
    return Progress.WAIT


def _failure_outcome(status: TrainingStatus, error_code: str | None = None) -> CycleOutcome:
    if status is TrainingStatus.CANCELLED:
        return CycleOutcome.CANCELLED
    if error_code == OVER_BUDGET:  # the provider's estimate was over what the budget leaves
        return CycleOutcome.OVER_BUDGET
    return CycleOutcome.TRAINING_FAILED


def _failure_note(run: TrainingRun) -> str:
    if run.error_code == OVER_BUDGET and run.error_message:
        return run.error_message
    if run.status is TrainingStatus.CANCELLED:
        return f"fine-tuning job {run.job_id} was cancelled"
    return (
        f"fine-tuning job {run.job_id or '(not created)'} failed: "
        f"{run.error_code or 'unknown_error'}: {run.error_message or 'no message'}"
    )
