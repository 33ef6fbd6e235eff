"""The gate's statistics and rules, on hand-made items (no models needed)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from math import comb

import pytest

from scheduler.gate import (
    GatePolicy,
    ScoredItem,
    binomial_upper_tail,
    clustered_bootstrap_lower_bound,
    judge_candidate,
    thread_sign_test,
)
from scheduler.records import ItemOutcome, Verdict

TODAY = date(2026, 11, 21)
W, L, T, E = ItemOutcome.WIN, ItemOutcome.LOSS, ItemOutcome.TIE, ItemOutcome.ERROR


def _items(
    outcomes: list[ItemOutcome],
    *,
    golden_every: int = 2,
    threads: int | None = None,
    candidate: float = 0.8,
    incumbent: float = 0.6,
) -> list[ScoredItem]:
    return [
        ScoredItem(
            thread_key=f"t{i % threads if threads else i}",
            golden=i % golden_every == 0,
            outcome=o,
            candidate_score=None if o is E else candidate,
            incumbent_score=None if o is E else incumbent,
        )
        for i, o in enumerate(outcomes)
    ]


def test_the_bootstrap_is_deterministic_and_exact_at_the_extremes() -> None:
    values = [(f"t{i}", v) for i, v in enumerate([1.0, 0.5, 0.0, 1.0] * 10)]
    assert clustered_bootstrap_lower_bound(values) == clustered_bootstrap_lower_bound(values)
    assert clustered_bootstrap_lower_bound([("a", 1.0), ("b", 1.0)]) == 1.0
    with pytest.raises(ValueError):
        clustered_bootstrap_lower_bound([])


def test_clustering_by_thread_widens_the_interval() -> None:
    outcomes = [1.0] * 24 + [0.0] * 16
    independent = [(f"t{i}", v) for i, v in enumerate(outcomes)]
    # The same items, but each thread holds four items that agree with each other.
    clustered = [(f"t{i // 4}", v) for i, v in enumerate(outcomes)]
    assert clustered_bootstrap_lower_bound(clustered) < clustered_bootstrap_lower_bound(independent)


def test_a_clearly_better_candidate_is_promoted_with_every_number() -> None:
    result = judge_candidate(
        _items([W] * 30 + [T] * 10), GatePolicy(), today=TODAY, shutdown_date=date(2027, 1, 14)
    )
    assert result.verdict is Verdict.PROMOTE, result.reason
    assert result.reason.startswith(
        "promote: exact one-sided sign test (binomial) over the threads where the models differ: "
        "30 of 30 threads prefer the candidate, p = 9.313e-10; win rate 0.875"
    )
    n = result.numbers
    assert (n["wins"], n["ties"], n["losses"], n["answered"], n["threads"]) == (30, 10, 0, 40, 40)
    assert n["p_value"] == 0.5**30 and n["differing"] == 30
    assert n["win_rate_lower_bound"] > 0.5 and n["days_to_shutdown"] == 54
    assert n["golden_mean_candidate"] == 0.8 and n["golden_delta"] == 0.2
    assert result.thresholds["null_win_rate"] == 0.5
    assert result.thresholds["test"] == n["test"] and "sign test" in n["test"]


def test_a_worse_candidate_is_rejected_with_its_reasons() -> None:
    result = judge_candidate(
        _items([L] * 25 + [W] * 15, candidate=0.5, incumbent=0.7),
        GatePolicy(golden_floor=0.6),
        today=TODAY,
        shutdown_date=None,
    )
    assert result.verdict is Verdict.REJECT
    assert "not clearly better" in result.reason
    assert "regression on the golden set" in result.reason
    assert "below the golden floor" in result.reason
    assert len(result.failed_checks) == 3


def test_the_margin_raises_the_bar() -> None:
    items = _items([W] * 30 + [L] * 10)
    assert judge_candidate(items, GatePolicy(), today=TODAY, shutdown_date=None).verdict is (
        Verdict.PROMOTE
    )
    strict = judge_candidate(items, GatePolicy(margin=0.2), today=TODAY, shutdown_date=None)
    assert strict.verdict is Verdict.REJECT and "against a win rate of 0.700" in strict.reason


def test_few_items_are_insufficient_evidence_not_a_rejection() -> None:
    result = judge_candidate(
        _items([W] * 10), GatePolicy(min_items=30), today=TODAY, shutdown_date=None
    )
    assert result.verdict is Verdict.INSUFFICIENT_EVIDENCE
    assert result.reason.startswith("insufficient evidence: 10 answered eval items")


def test_many_unanswered_items_are_insufficient_evidence() -> None:
    result = judge_candidate(
        _items([W] * 30 + [E] * 10), GatePolicy(), today=TODAY, shutdown_date=None
    )
    assert result.verdict is Verdict.INSUFFICIENT_EVIDENCE
    assert "10 of 40 items got no answer" in result.reason


def test_no_golden_items_is_insufficient_evidence() -> None:
    items = [i for i in _items([W] * 40) if not i.golden]
    result = judge_candidate(items, GatePolicy(min_items=10), today=TODAY, shutdown_date=None)
    assert result.verdict is Verdict.INSUFFICIENT_EVIDENCE and "golden" in result.reason


def test_a_model_that_shuts_down_soon_is_refused() -> None:
    items = _items([W] * 40)
    near = judge_candidate(
        items, GatePolicy(shutdown_days=60), today=TODAY, shutdown_date=date(2027, 1, 14)
    )
    assert near.verdict is Verdict.REJECT
    assert "shuts down on 2027-01-14, 54 days from now" in near.reason
    later = judge_candidate(
        items, GatePolicy(), today=date(2026, 12, 20), shutdown_date=date(2027, 1, 14)
    )
    assert later.verdict is Verdict.REJECT  # 25 days: within the default 30
    assert (
        judge_candidate(items, GatePolicy(), today=TODAY, shutdown_date=date(2027, 1, 14)).verdict
        is Verdict.PROMOTE
    )


def test_four_wins_and_forty_ties_are_not_enough_evidence() -> None:
    """The case that was promoted on a bootstrap lower bound of 0.511."""
    items = _items([W] * 4 + [T] * 40)
    result = judge_candidate(items, GatePolicy(), today=TODAY, shutdown_date=None)
    assert result.verdict is Verdict.INSUFFICIENT_EVIDENCE
    assert "the models differ on 4 items (4 wins, 0 losses, 40 ties), at least 10" in result.reason
    assert "p = 0.0625" in result.reason and "sign test" in result.reason
    assert result.numbers["p_value"] == 0.0625
    # With the minimum lowered to 4, the test itself refuses: p = 1/16 is not below 0.05.
    lowered = judge_candidate(
        items, GatePolicy(min_differing_items=4), today=TODAY, shutdown_date=None
    )
    assert lowered.verdict is Verdict.REJECT and "not clearly better" in lowered.reason


def test_the_smallest_convincing_record_is_promoted() -> None:
    """Ten differing items: nine wins and a loss give p = 11/1024 (promoted), eight wins and
    two losses p = 56/1024 (not below 0.05)."""
    nine = judge_candidate(
        _items([W] * 9 + [L] + [T] * 30), GatePolicy(), today=TODAY, shutdown_date=None
    )
    assert nine.verdict is Verdict.PROMOTE and nine.numbers["p_value"] == pytest.approx(11 / 1024)
    eight = judge_candidate(
        _items([W] * 8 + [L] * 2 + [T] * 30), GatePolicy(), today=TODAY, shutdown_date=None
    )
    assert eight.verdict is Verdict.REJECT
    assert eight.numbers["p_value"] == pytest.approx(56 / 1024)


@pytest.mark.parametrize(("wins", "trials"), [(0, 0), (4, 4), (9, 10), (30, 40), (550, 1100)])
def test_the_binomial_tail_is_exact(wins: int, trials: int) -> None:
    exact = Fraction(sum(comb(trials, k) for k in range(wins, trials + 1)), 2**trials)
    assert binomial_upper_tail(wins, trials, 0.5) == float(exact)
    # The general path (any null win rate) agrees to rounding.
    assert binomial_upper_tail(wins, trials, 0.5 + 1e-12) == pytest.approx(float(exact), rel=1e-6)


def test_a_thread_counts_once_by_its_net_outcome() -> None:
    outcomes = [("a", 1.0), ("a", 1.0), ("a", 0.0), ("b", 0.5), ("c", 0.0), ("d", 1.0)]
    test = thread_sign_test(outcomes)
    assert (test.wins, test.losses) == (2, 1)  # a (2-1) and d won, c lost, b tied
    assert test.p_value == 0.5


def test_a_golden_regression_is_a_rejection_however_thin_the_win_evidence() -> None:
    result = judge_candidate(
        _items([T] * 40, candidate=0.3, incumbent=0.7),
        GatePolicy(),
        today=TODAY,
        shutdown_date=None,
    )
    assert result.verdict is Verdict.REJECT
    assert result.failed_checks[0].startswith("regression on the golden set")
    assert any("the models differ on 0 items" in c for c in result.failed_checks)
