"""The registry: exactly one active model, atomic audited promote and rollback, and a lookup
that sees a change on its next call."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from curation.db import Database
from scheduler.errors import RegistryError, StaleIncumbentError
from scheduler.records import ModelState, ModelVersion, Promotion, PromotionAction
from scheduler.registry import ActiveModelLookup, Registry
from tests.scheduler.conftest import BASE_MODEL

FT_A = f"ft:{BASE_MODEL}:local:tuneloop:aaaa"
FT_B = f"ft:{BASE_MODEL}:local:tuneloop:bbbb"


def _active_count(db: Database) -> int:
    with db.read_session() as s:
        return s.scalar(
            select(func.count()).select_from(ModelVersion).where(ModelVersion.is_active)
        )


def test_a_new_installation_serves_the_base_model_with_an_audit_row(registry: Registry) -> None:
    assert registry.active() is None
    assert registry.ensure_active(BASE_MODEL) == BASE_MODEL
    assert registry.ensure_active("something-else") == BASE_MODEL  # idempotent
    (row,) = registry.history()
    assert (row.action, row.from_model, row.to_model) == (
        PromotionAction.BOOTSTRAP,
        None,
        BASE_MODEL,
    )


def test_promote_records_who_when_why_and_the_evidence(registry: Registry, db: Database) -> None:
    registry.ensure_active(BASE_MODEL)
    promotion = registry.promote(
        FT_A, actor="UREVIEW1", reason="better on VPN questions", expected_active=BASE_MODEL
    )
    assert registry.active().model == FT_A
    assert _active_count(db) == 1
    assert (promotion.actor, promotion.from_model, promotion.to_model) == (
        "UREVIEW1",
        BASE_MODEL,
        FT_A,
    )
    assert promotion.reason == "better on VPN questions" and promotion.at is not None
    states = {v.model: v.state for v in registry.versions()}
    assert states == {BASE_MODEL: ModelState.RETIRED, FT_A: ModelState.ACTIVE}


def test_a_stale_incumbent_changes_nothing(registry: Registry) -> None:
    registry.ensure_active(BASE_MODEL)
    registry.promote(FT_A, actor="U", reason="r")
    with pytest.raises(StaleIncumbentError, match="evaluate again"):
        registry.promote(FT_B, actor="scheduler", reason="gate", expected_active=BASE_MODEL)
    assert registry.active().model == FT_A
    assert len(registry.history()) == 2


def test_promoting_the_active_model_or_without_reason_is_refused(registry: Registry) -> None:
    registry.ensure_active(BASE_MODEL)
    with pytest.raises(RegistryError, match="already the active"):
        registry.promote(BASE_MODEL, actor="U", reason="again")
    with pytest.raises(RegistryError, match="reason"):
        registry.promote(FT_A, actor="U", reason="  ")


def test_a_failure_inside_the_transaction_leaves_no_trace(registry: Registry, db: Database) -> None:
    registry.ensure_active(BASE_MODEL)
    with pytest.raises(RuntimeError), db.session() as session:
        registry.promote(FT_A, actor="U", reason="r", session=session)
        raise RuntimeError("crash before commit")
    assert registry.active().model == BASE_MODEL
    assert [p.action for p in registry.history()] == [PromotionAction.BOOTSTRAP]


def test_the_database_refuses_a_second_active_model(registry: Registry, db: Database) -> None:
    registry.ensure_active(BASE_MODEL)
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(
            ModelVersion(model=FT_A, origin="manual", state=ModelState.ACTIVE, is_active=True)
        )
        session.flush()


def test_rollback_walks_back_through_promotions(registry: Registry) -> None:
    registry.ensure_active(BASE_MODEL)
    registry.promote(FT_A, actor="scheduler", reason="gate passed")
    registry.promote(FT_B, actor="scheduler", reason="gate passed")
    back = registry.rollback(actor="UREVIEW1", reason="B is rude")
    assert (back.action, back.from_model, back.to_model) == (PromotionAction.ROLLBACK, FT_B, FT_A)
    assert registry.active().model == FT_A
    registry.rollback(actor="UREVIEW1", reason="A too")
    assert registry.active().model == BASE_MODEL
    with pytest.raises(RegistryError, match="nothing earlier"):
        registry.rollback(actor="UREVIEW1", reason="and again")
    states = {v.model: v.state for v in registry.versions()}
    assert states[FT_B] == states[FT_A] == ModelState.ROLLED_BACK


def test_rollback_with_nothing_served_is_refused(registry: Registry) -> None:
    with pytest.raises(RegistryError, match="no model is active"):
        registry.rollback(actor="U", reason="r")


def test_racing_promotions_against_one_incumbent_let_exactly_one_win(
    registry: Registry, db: Database
) -> None:
    registry.ensure_active(BASE_MODEL)
    results: dict[str, str] = {}
    barrier = threading.Barrier(4)

    def promote(model: str) -> None:
        mine = Registry(db)
        barrier.wait()
        try:
            mine.promote(model, actor="scheduler", reason="gate", expected_active=BASE_MODEL)
            results[model] = "won"
        except RegistryError:
            results[model] = "lost"

    models = [f"{FT_A}{i}" for i in range(4)]
    threads = [threading.Thread(target=promote, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == ["lost", "lost", "lost", "won"]
    assert _active_count(db) == 1
    winner = next(m for m, r in results.items() if r == "won")
    assert registry.active().model == winner
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Promotion)) == 2


def test_the_lookup_sees_a_promotion_from_another_process_on_its_next_call(db: Database) -> None:
    lookup = ActiveModelLookup(db, default=BASE_MODEL)
    assert lookup() == BASE_MODEL  # nothing promoted yet: the configured default
    other_process = Registry(db)
    other_process.ensure_active(BASE_MODEL)
    other_process.promote(FT_A, actor="U", reason="r")
    assert lookup() == FT_A
    other_process.rollback(actor="U", reason="r")
    assert lookup() == BASE_MODEL


def test_a_ttl_lookup_caches_but_drops_the_cache_on_a_local_change(db: Database) -> None:
    now = [0.0]
    registry = Registry(db)
    lookup = ActiveModelLookup(db, default=BASE_MODEL, ttl_s=5.0, monotonic=lambda: now[0])
    registry.on_change(lookup.invalidate)
    registry.ensure_active(BASE_MODEL)
    assert lookup() == BASE_MODEL
    Registry(db).promote(FT_A, actor="U", reason="elsewhere")  # another process: not told
    assert lookup() == BASE_MODEL
    now[0] = 5.1
    assert lookup() == FT_A
    registry.promote(FT_B, actor="U", reason="here")  # this process: cache dropped at once
    assert lookup() == FT_B


def test_served_models_are_the_active_one_and_its_rollback_target(registry: Registry) -> None:
    assert registry.served_models() == []
    registry.ensure_active(BASE_MODEL)
    assert registry.served_models() == [BASE_MODEL]
    registry.promote(FT_A, actor="U", reason="r")
    registry.promote(FT_B, actor="U", reason="r")
    assert registry.served_models() == [FT_B, FT_A]
    registry.rollback(actor="U", reason="bad")
    assert registry.served_models() == [FT_A, BASE_MODEL]
