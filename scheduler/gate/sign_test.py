"""The exact sign test, as the gate applies it: are the conversation threads on which the two
models differ more often won by the candidate than chance (or the margin) allows?

Ties say nothing about which model is better and are dropped, as the sign test does; what is
left is a count of threads won out of threads decided, tested against a binomial with success
probability 0.5 (+ the gate's margin). The p-value is exact at any count, where a normal
approximation or a bootstrap of four wins is not: 4 wins out of 4 give p = 1/16 = 0.0625.
Items of one thread are not independent, so each thread counts once, by its net outcome.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

TEST_NAME = "exact one-sided sign test (binomial) over the threads where the models differ"


@dataclass(frozen=True, slots=True)
class SignTest:
    """Threads won by the candidate (`wins`) and by the incumbent (`losses`), and the chance of
    at least `wins` of them under the null win rate."""

    wins: int
    losses: int
    null_win_rate: float
    p_value: float

    @property
    def decided(self) -> int:
        return self.wins + self.losses


def binomial_upper_tail(successes: int, trials: int, probability: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, probability): in integers for 0.5, else in
    log space so that no term underflows however many trials there are."""
    if not 0 < probability < 1:
        raise ValueError("probability must be between 0 and 1")
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    if probability == 0.5:  # the plain sign test: exact, in integers
        tail = sum(math.comb(trials, k) for k in range(successes, trials + 1))
        return float(Fraction(tail, 2**trials))
    log_p, log_q = math.log(probability), math.log1p(-probability)
    logs = [
        math.lgamma(trials + 1)
        - math.lgamma(k + 1)
        - math.lgamma(trials - k + 1)
        + k * log_p
        + (trials - k) * log_q
        for k in range(successes, trials + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(x - top) for x in logs))


def thread_sign_test(
    outcomes: Iterable[tuple[str, float]], *, null_win_rate: float = 0.5
) -> SignTest:
    """`outcomes` are (thread key, value) pairs, 1 a win, 0.5 a tie, 0 a loss. A thread counts
    as won when its items won more than they lost, lost in the opposite case, and is left out
    when they balance."""
    net: dict[str, float] = {}
    for thread, value in outcomes:
        net[thread] = net.get(thread, 0.0) + (value - 0.5)
    wins = sum(1 for v in net.values() if v > 0)
    losses = sum(1 for v in net.values() if v < 0)
    return SignTest(
        wins, losses, null_win_rate, binomial_upper_tail(wins, wins + losses, null_win_rate)
    )
