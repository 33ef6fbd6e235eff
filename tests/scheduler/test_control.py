"""Retraining as the bot sees it: status, a retrain request, promote and rollback with refusals
in the caller's own error type, the last decision, and the count of new examples."""

from __future__ import annotations

import pytest

from bot.control import ControlError, RetrainingControl
from scheduler.control import RetrainingService
from scheduler.records import CycleOutcome
from tests.scheduler.conftest import BASE_MODEL, Harness
from tests.scheduler.test_cycle import seed


def _service(harness: Harness) -> RetrainingService:
    return RetrainingService(harness.runner(), refusal=ControlError)


def test_it_satisfies_the_bots_protocol(harness: Harness) -> None:
    assert isinstance(_service(harness), RetrainingControl)


def test_status_request_and_last_decision(harness: Harness) -> None:
    seed(harness.db)
    service = _service(harness)
    status = service.status()
    assert (status["active_model"], status["state"], status["new_examples"]) == (
        BASE_MODEL,
        "idle",
        16,
    )
    assert service.last_decision() is None
    assert "started" in service.request_retrain("UREVIEW1")
    assert "already open" in service.request_retrain("UREVIEW2")
    assert service.status()["state"] == "running (export)"
    assert harness.runner().poll().outcome == CycleOutcome.PROMOTED  # the scheduler's part
    decision = service.last_decision()
    assert decision["outcome"] == "promoted" and decision["incumbent"] == BASE_MODEL
    assert service.approved_since_last_training() == 0


def test_a_retrain_with_nothing_new_to_train_on_says_so_unless_forced(harness: Harness) -> None:
    seed(harness.db)
    service = _service(harness)
    assert "started" in service.request_retrain("UREVIEW1")
    assert harness.runner().poll().outcome == CycleOutcome.PROMOTED
    assert service.approved_since_last_training() == 0
    said = service.request_retrain("UREVIEW1")
    assert said.startswith("Nothing new to train on") and "`retrain --force`" in said
    assert service.status()["state"] == "idle"  # no run was opened
    assert "started" in service.request_retrain("UREVIEW1", force=True)
    assert service.status()["state"] == "running (export)"


def test_promote_and_rollback_refuse_in_the_callers_terms(harness: Harness) -> None:
    service = _service(harness)
    assert "Now serving gpt-4.1-nano-2025-04-14" in service.promote(
        "gpt-4.1-nano-2025-04-14", "UREVIEW1", "cheaper"
    )
    assert "now serving " + BASE_MODEL in service.rollback("UREVIEW1", "back")
    with pytest.raises(ControlError, match="nothing earlier"):
        service.rollback("UREVIEW1", "again")
    harness.gate_overrides = {"shutdown_days": 60}
    with pytest.raises(ControlError, match="shuts down on 2027-01-14"):
        _service(harness).promote("gpt-4o-2024-08-06", "UREVIEW1", "try")


MISSING = "ft:gpt-4.1-mini-2025-04-14:acme::missing"


def test_promote_refuses_a_model_that_does_not_answer_unless_forced(harness: Harness) -> None:
    service = _service(harness)
    with pytest.raises(ControlError) as refused:
        service.promote(MISSING, "UREVIEW1", "try")
    assert str(refused.value) == (
        f"{MISSING} is not served by the provider (HTTP 404 model_not_found): not promoted "
        "(check the name, or promote it with --force to serve it anyway)"
    )
    assert service.status()["active_model"] == BASE_MODEL
    assert f"Now serving {MISSING}" in service.promote(MISSING, "UREVIEW1", "try", force=True)


def test_force_also_overrides_the_shutdown_limit(harness: Harness) -> None:
    harness.gate_overrides = {"shutdown_days": 60}
    service = _service(harness)
    with pytest.raises(ControlError, match="shuts down on 2027-01-14"):
        service.promote("gpt-4o-2024-08-06", "UREVIEW1", "try")
    assert "Now serving gpt-4o-2024-08-06" in service.promote(
        "gpt-4o-2024-08-06", "UREVIEW1", "try", force=True
    )
