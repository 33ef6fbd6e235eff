"""`OutageRetry`: a store call is tried once bare and retried only through an outage, within
its bound; other errors pass through untouched."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from curation.outage import OutageRetry, StoreUnavailable


class Flaky:
    """Raises `error` for the first `failures` calls, then returns "stored"."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "stored"


OUTAGE = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def test_a_call_that_succeeds_is_made_once_and_never_sleeps() -> None:
    slept: list[float] = []
    call = Flaky(0, OUTAGE)
    assert OutageRetry(max_wait_s=60, sleep=slept.append)(call) == "stored"
    assert call.calls == 1 and slept == []


def test_an_outage_within_the_bound_is_ridden_out_with_growing_waits() -> None:
    slept: list[float] = []
    call = Flaky(3, OUTAGE)
    retry = OutageRetry(max_wait_s=3600, first_wait_s=0.5, sleep=slept.append)
    assert retry(call) == "stored"
    assert call.calls == 4
    assert slept == sorted(slept) and slept[0] > 0  # back-off between the retries


def test_no_wait_allowed_means_one_try() -> None:
    call = Flaky(1, OUTAGE)
    with pytest.raises(StoreUnavailable):
        OutageRetry(max_wait_s=0)(call)
    assert call.calls == 1


def test_an_error_that_is_not_an_outage_is_raised_as_it_is_at_once() -> None:
    refusal = IntegrityError("INSERT", {}, ValueError("unique"))
    call = Flaky(1, refusal)
    with pytest.raises(IntegrityError):
        OutageRetry(max_wait_s=3600, sleep=lambda _: None)(call)
    assert call.calls == 1
