"""The gate: promote a candidate only on enough evidence that it is better and not worse where
it matters."""

from scheduler.gate.bootstrap import clustered_bootstrap_lower_bound
from scheduler.gate.policy import GatePolicy, GateResult, ScoredItem, judge_candidate
from scheduler.gate.sign_test import SignTest, binomial_upper_tail, thread_sign_test

__all__ = [
    "GatePolicy",
    "GateResult",
    "ScoredItem",
    "SignTest",
    "binomial_upper_tail",
    "clustered_bootstrap_lower_bound",
    "judge_candidate",
    "thread_sign_test",
]
