"""The promotion rules, applied to graded eval items, with every figure and reason kept.

A candidate is promoted only if all hold:
- enough items were answered by both models (else: insufficient evidence, not a rejection);
- its announced shutdown date, if any, is more than `shutdown_days` away;
- the 95% paired-bootstrap lower bound of its win rate (ties count half, resampled by thread)
  is above 0.5 + `margin`;
- on the golden set it scores no worse than the incumbent, within `golden_tolerance`;
- and its golden mean score reaches `golden_floor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from scheduler.gate.bootstrap import clustered_bootstrap_lower_bound
from scheduler.records import ItemOutcome, Verdict


@dataclass(frozen=True)
class GatePolicy:
    margin: float = 0.0
    confidence: float = 0.95
    bootstrap_samples: int = 2000
    bootstrap_seed: int = 0
    golden_tolerance: float = 0.02
    #: Under the similarity grader an off-topic answer scores about 0.3-0.4 against a reference.
    golden_floor: float = 0.4
    min_items: int = 30
    max_error_fraction: float = 0.1
    shutdown_days: int = 30

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "required_lower_bound": round(0.5 + self.margin, 4)}


@dataclass(frozen=True)
class ScoredItem:
    thread_key: str
    golden: bool
    outcome: ItemOutcome
    candidate_score: float | None
    incumbent_score: float | None


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    reason: str
    numbers: dict[str, Any]
    thresholds: dict[str, Any]
    failed_checks: list[str] = field(default_factory=list)


def judge_candidate(
    items: Sequence[ScoredItem],
    policy: GatePolicy,
    *,
    today: date,
    shutdown_date: date | None,
) -> GateResult:
    answered = [item for item in items if item.outcome is not ItemOutcome.ERROR]
    errors = len(items) - len(answered)
    counts = {o.value: sum(1 for i in answered if i.outcome is o) for o in ItemOutcome}
    numbers: dict[str, Any] = {
        "items": len(items),
        "answered": len(answered),
        "errors": errors,
        "threads": len({item.thread_key for item in answered}),
        "wins": counts[ItemOutcome.WIN.value],
        "losses": counts[ItemOutcome.LOSS.value],
        "ties": counts[ItemOutcome.TIE.value],
        "today": today.isoformat(),
        "shutdown_date": shutdown_date.isoformat() if shutdown_date else None,
        "days_to_shutdown": (shutdown_date - today).days if shutdown_date else None,
    }
    insufficient: list[str] = []
    rejected: list[str] = []

    if len(answered) < policy.min_items:
        insufficient.append(
            f"{len(answered)} answered eval items, at least {policy.min_items} are needed"
        )
    if items and errors / len(items) > policy.max_error_fraction:
        insufficient.append(
            f"{errors} of {len(items)} items got no answer "
            f"(more than {policy.max_error_fraction:.0%})"
        )

    if shutdown_date is not None and (shutdown_date - today).days <= policy.shutdown_days:
        rejected.append(
            f"the candidate shuts down on {shutdown_date.isoformat()}, "
            f"{(shutdown_date - today).days} days from now (the limit is more than "
            f"{policy.shutdown_days} days)"
        )

    if answered:
        values = [(i.thread_key, i.outcome.value_for_win_rate) for i in answered]
        win_rate = sum(v for _, v in values) / len(values)
        lower = clustered_bootstrap_lower_bound(
            values,
            confidence=policy.confidence,
            samples=policy.bootstrap_samples,
            seed=policy.bootstrap_seed,
        )
        numbers["win_rate"] = round(win_rate, 4)
        numbers["win_rate_lower_bound"] = round(lower, 4)
        required = 0.5 + policy.margin
        if not lower > required:
            rejected.append(
                f"not clearly better: win rate {win_rate:.3f}, its {policy.confidence:.0%} lower "
                f"bound {lower:.3f} is not above {required:.3f}"
            )

    golden = [
        i
        for i in answered
        if i.golden and i.candidate_score is not None and i.incumbent_score is not None
    ]
    numbers["golden_items"] = len(golden)
    if not golden:
        insufficient.append("no golden items were answered (import seeds/golden.jsonl)")
    else:
        candidate_mean = sum(i.candidate_score or 0.0 for i in golden) / len(golden)
        incumbent_mean = sum(i.incumbent_score or 0.0 for i in golden) / len(golden)
        numbers["golden_mean_candidate"] = round(candidate_mean, 4)
        numbers["golden_mean_incumbent"] = round(incumbent_mean, 4)
        numbers["golden_delta"] = round(candidate_mean - incumbent_mean, 4)
        if candidate_mean < incumbent_mean - policy.golden_tolerance:
            rejected.append(
                f"regression on the golden set: mean score {candidate_mean:.3f} against the "
                f"incumbent's {incumbent_mean:.3f} (tolerance {policy.golden_tolerance:.3f})"
            )
        if candidate_mean < policy.golden_floor:
            rejected.append(
                f"below the golden floor: mean score {candidate_mean:.3f} is under "
                f"{policy.golden_floor:.3f}"
            )

    if insufficient:
        verdict, failed = Verdict.INSUFFICIENT_EVIDENCE, insufficient + rejected
    elif rejected:
        verdict, failed = Verdict.REJECT, rejected
    else:
        verdict, failed = Verdict.PROMOTE, []
    return GateResult(
        verdict=verdict,
        reason=_reason(verdict, failed, numbers),
        numbers=numbers,
        thresholds=policy.as_dict(),
        failed_checks=failed,
    )


def _reason(verdict: Verdict, failed: list[str], numbers: dict[str, Any]) -> str:
    if verdict is Verdict.PROMOTE:
        return (
            f"promote: win rate {numbers['win_rate']:.3f} (lower bound "
            f"{numbers['win_rate_lower_bound']:.3f}) over {numbers['answered']} items in "
            f"{numbers['threads']} threads; golden mean {numbers['golden_mean_candidate']:.3f} "
            f"against {numbers['golden_mean_incumbent']:.3f}"
        )
    headline = "insufficient evidence" if verdict is Verdict.INSUFFICIENT_EVIDENCE else "reject"
    return f"{headline}: " + "; ".join(failed)
