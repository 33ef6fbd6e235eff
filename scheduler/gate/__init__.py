"""The gate: promote a candidate only on enough evidence that it is better and not worse where
it matters."""

from scheduler.gate.bootstrap import clustered_bootstrap_lower_bound
from scheduler.gate.policy import GatePolicy, GateResult, ScoredItem, judge_candidate

__all__ = [
    "GatePolicy",
    "GateResult",
    "ScoredItem",
    "clustered_bootstrap_lower_bound",
    "judge_candidate",
]
