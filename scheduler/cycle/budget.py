"""The cost check: an estimated training cost against a per-run and a monthly budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.records import TrainingRun


@dataclass(frozen=True)
class BudgetCheck:
    ok: bool
    message: str
    figures: dict[str, float]


def spent_this_month(session: Session, now: datetime) -> float:
    """Estimated cost of this calendar month's (UTC) training runs that reached the provider."""
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    total = session.scalar(
        select(func.coalesce(func.sum(TrainingRun.estimated_cost_usd), 0.0)).where(
            TrainingRun.created_at >= month_start, TrainingRun.job_id.is_not(None)
        )
    )
    return float(total or 0.0)


def check_budget(
    estimate_usd: float, *, spent_usd: float, per_run_usd: float, per_month_usd: float
) -> BudgetCheck:
    figures = {
        "estimated_cost_usd": round(estimate_usd, 4),
        "budget_per_run_usd": per_run_usd,
        "spent_this_month_usd": round(spent_usd, 4),
        "budget_per_month_usd": per_month_usd,
    }
    if estimate_usd > per_run_usd:
        return BudgetCheck(
            False,
            f"over budget: the run would cost about ${estimate_usd:.2f}, over the per-run "
            f"budget of ${per_run_usd:.2f} (TUNELOOP_BUDGET_PER_RUN_USD)",
            figures,
        )
    if spent_usd + estimate_usd > per_month_usd:
        return BudgetCheck(
            False,
            f"over budget: ${spent_usd:.2f} spent this month plus about ${estimate_usd:.2f} "
            f"for this run is over the monthly budget of ${per_month_usd:.2f} "
            "(TUNELOOP_BUDGET_PER_MONTH_USD)",
            figures,
        )
    return BudgetCheck(
        True,
        f"about ${estimate_usd:.2f}, within budget (${spent_usd:.2f} spent this month)",
        figures,
    )
