"""The promotion rules, applied to graded eval items, with every figure and reason kept.

A candidate is promoted only if all hold:
- enough items were answered by both models, and the two differ (one wins) on at least
  `min_differing_items` of them (else: insufficient evidence, not a rejection, unless the
  candidate fails one of the checks below that need no win count: shutdown, golden set);
- its announced shutdown date, if any, is more than `shutdown_days` away;
- it is better beyond chance: an exact one-sided sign test over the conversation threads on
  which the models differ (ties dropped, each thread counted once by its net outcome) rejects a
  win rate of 0.5 + `margin` at 1 - `confidence` (`scheduler.gate.sign_test`). The test is exact
  at any count; the paired bootstrap's lower bound of the win rate is kept in the numbers, as a
  description, but decides nothing (with 4 wins, 0 losses and 40 ties it read 0.511 where the
  sign test gives p = 0.0625);
- on the golden set it scores no worse than the incumbent, within `golden_tolerance`;
- and its golden mean score reaches `golden_floor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from scheduler.gate.bootstrap import clustered_bootstrap_lower_bound
from scheduler.gate.sign_test import TEST_NAME, thread_sign_test
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
    #: Items on which one model won (wins + losses) below which nothing is decided.
    min_differing_items: int = 10
    max_error_fraction: float = 0.1
    shutdown_days: int = 30

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "null_win_rate": round(0.5 + self.margin, 4),
            "significance": round(1 - self.confidence, 4),
            "test": TEST_NAME,
        }


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
    #: A candidate that is worse where it matters is rejected however thin the evidence.
    rejected: list[str] = []
    #: Not shown to be better: a rejection when the evidence is enough, else part of its story.
    not_better: list[str] = []

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

    differing = numbers["wins"] + numbers["losses"]
    numbers["differing"] = differing
    if differing < policy.min_differing_items:
        insufficient.append(
            f"the models differ on {differing} items ({numbers['wins']} wins, "
            f"{numbers['losses']} losses, {numbers['ties']} ties), at least "
            f"{policy.min_differing_items} are needed"
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
        sign = thread_sign_test(values, null_win_rate=0.5 + policy.margin)
        numbers["test"] = TEST_NAME
        numbers["threads_won"], numbers["threads_lost"] = sign.wins, sign.losses
        numbers["p_value"] = sign.p_value
        significance = 1 - policy.confidence
        if not sign.p_value < significance:
            not_better.append(
                f"not clearly better: {TEST_NAME}: {sign.wins} of {sign.decided} threads prefer "
                f"the candidate, p = {sign.p_value:.4g} against a win rate of "
                f"{sign.null_win_rate:.3f}, not below {significance:.3g}"
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

    if rejected:
        verdict, failed = Verdict.REJECT, rejected + insufficient + not_better
    elif insufficient:
        verdict, failed = Verdict.INSUFFICIENT_EVIDENCE, insufficient + not_better
    elif not_better:
        verdict, failed = Verdict.REJECT, not_better
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
            f"promote: {numbers['test']}: {numbers['threads_won']} of "
            f"{numbers['threads_won'] + numbers['threads_lost']} threads prefer the candidate, "
            f"p = {numbers['p_value']:.4g}; win rate {numbers['win_rate']:.3f} over "
            f"{numbers['answered']} items in {numbers['threads']} threads ({numbers['wins']} "
            f"wins, {numbers['losses']} losses, {numbers['ties']} ties); golden mean "
            f"{numbers['golden_mean_candidate']:.3f} against {numbers['golden_mean_incumbent']:.3f}"
        )
    headline = "insufficient evidence" if verdict is Verdict.INSUFFICIENT_EVIDENCE else "reject"
    return f"{headline}: " + "; ".join(failed)
