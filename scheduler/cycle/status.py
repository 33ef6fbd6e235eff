"""What `tuneloop status` shows: the served model, the open cycle and its stage, recent
decisions. Plain data, so the command line can print it for people or as JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from curation.db import Database
from curation.export import Method
from scheduler.cycle.config import CycleConfig
from scheduler.cycle.trigger import new_example_count
from scheduler.records import (
    Decision,
    EvalItem,
    EvalRun,
    RetrainCycle,
    SchedulerLease,
    TrainingRun,
)
from scheduler.registry import Registry


def cycle_status(
    db: Database, registry: Registry, config: CycleConfig, *, recent: int = 5
) -> dict[str, Any]:
    """Reads the database only: no provider call, so it works when the provider is down."""
    active = registry.active()
    method = Method.DPO if config.method == "dpo" else Method.SFT
    new_examples = new_example_count(db, method)
    data: dict[str, Any] = {
        "active_model": {
            "model": active.model if active else config.base_model,
            "promoted": active is not None and active.origin != "base",
            "since": active.activated_at.isoformat() if active and active.activated_at else None,
        },
        "new_examples": new_examples,
        "min_new_examples": config.min_new_examples,
        "open_cycle": None,
    }
    with db.read_session() as session:
        cycle = session.scalar(select(RetrainCycle).where(RetrainCycle.is_open.is_(True)))
        if cycle is not None:
            data["open_cycle"] = _open_cycle(session, cycle)
        decisions = session.scalars(select(Decision).order_by(Decision.id.desc()).limit(recent))
        data["recent_decisions"] = [
            {
                "id": d.id,
                "cycle_id": d.cycle_id,
                "decided_at": d.decided_at.isoformat(),
                "candidate": d.candidate,
                "incumbent": d.incumbent,
                "verdict": d.verdict.value,
                "reason": d.reason,
                "win_rate": d.numbers.get("win_rate"),
                "win_rate_lower_bound": d.numbers.get("win_rate_lower_bound"),
            }
            for d in decisions
        ]
        closed = session.scalars(
            select(RetrainCycle)
            .where(RetrainCycle.is_open.is_(False))
            .order_by(RetrainCycle.id.desc())
            .limit(recent)
        )
        data["recent_cycles"] = [
            {
                "id": c.id,
                "outcome": c.outcome.value if c.outcome else None,
                "closed_at": c.closed_at.isoformat() if c.closed_at else None,
                "note": c.note,
            }
            for c in closed
        ]
        lease = session.get(SchedulerLease, "scheduler")
        data["scheduler"] = (
            {
                "leader": lease.holder,
                "expires_at": lease.expires_at.isoformat(),
                "token": lease.token,
            }
            if lease and lease.holder  # a released lease keeps its row, with no holder
            else None
        )
    return data


def _open_cycle(session: Any, cycle: RetrainCycle) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": cycle.id,
        "stage": cycle.stage.value,
        "trigger": cycle.trigger,
        "started_at": cycle.created_at.isoformat(),
        "note": cycle.note,
        "waiting_until": cycle.not_before.isoformat() if cycle.not_before else None,
        "dataset_version_id": cycle.dataset_version_id,
        "training": None,
        "evaluation": None,
    }
    training = session.scalar(select(TrainingRun).where(TrainingRun.cycle_id == cycle.id))
    if training is not None:
        info["training"] = {
            "status": training.status.value,
            "job_id": training.job_id,
            "model": training.model,
            "fine_tuned_model": training.fine_tuned_model,
            "estimated_cost_usd": training.estimated_cost_usd,
            "error": training.error_message,
        }
    info["evaluation"] = _evaluation(session, cycle.id)
    return info


def evaluation_progress(db: Database, cycle_id: int) -> dict[str, Any] | None:
    """A cycle's evaluation so far: candidate, incumbent, items stored ("answered") of those
    planned; None before it starts. Read from the store, so it shows the progress of a run
    that another process is doing (results are stored in batches, `EvalOptions.commit_every`)."""
    with db.read_session() as session:
        return _evaluation(session, cycle_id)


def cycle_decision(db: Database, cycle_id: int) -> dict[str, Any] | None:
    """The gate's decision on a cycle's candidate (verdict, reason, figures), or None when the
    cycle ended without one (a failed job, nothing to train)."""
    with db.read_session() as session:
        decision = session.scalar(select(Decision).where(Decision.cycle_id == cycle_id))
        if decision is None:
            return None
        return {
            "id": decision.id,
            "candidate": decision.candidate,
            "incumbent": decision.incumbent,
            "verdict": decision.verdict.value,
            "reason": decision.reason,
            "numbers": dict(decision.numbers),
            "thresholds": dict(decision.thresholds),
            "decided_at": decision.decided_at.isoformat(),
        }


def _evaluation(session: Any, cycle_id: int) -> dict[str, Any] | None:
    run = session.scalar(select(EvalRun).where(EvalRun.cycle_id == cycle_id))
    if run is None:
        return None
    answered = session.scalar(
        select(func.count()).select_from(EvalItem).where(EvalItem.eval_run_id == run.id)
    )
    return {
        "candidate": run.candidate,
        "incumbent": run.incumbent,
        "answered": answered,
        "planned": run.item_count,
    }
