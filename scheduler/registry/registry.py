"""Promote and roll back atomically, each change audited, exactly one model active.

Every change happens in one transaction that reads the active row under a lock (SQLite's
BEGIN IMMEDIATE, PostgreSQL's FOR UPDATE), so a promotion either happens whole with its audit
row or not at all. The partial unique index on `model_versions.is_active` is the last word:
two racing promotions cannot leave two active models, the loser gets an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Final

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from curation.db import Database
from curation.models.base import utcnow
from curation.scrub import clean_for_storage
from scheduler.errors import RegistryError, StaleIncumbentError
from scheduler.records import ModelState, ModelVersion, Promotion, PromotionAction


class _AnyIncumbent:
    def __repr__(self) -> str:
        return "ANY_INCUMBENT"


#: Pass as `expected_active` to promote whatever is served now (a reviewer's manual promotion).
ANY_INCUMBENT: Final = _AnyIncumbent()


class Registry:
    def __init__(self, db: Database, *, now: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self._now = now
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every committed change (lookups drop their cache)."""
        self._listeners.append(listener)

    # --- reading ------------------------------------------------------------------------------
    def active(self) -> ModelVersion | None:
        with self.db.read_session() as session:
            return active_version(session)

    def versions(self) -> list[ModelVersion]:
        with self.db.read_session() as session:
            return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id)))

    def served_models(self) -> list[str]:
        """What the serving side must keep ready: the active model first, then the model a
        rollback would return to (if any). Empty before anything is active."""
        with self.db.read_session() as session:
            current = active_version(session)
            if current is None:
                return []
            promoted = _promotion_of(session, current.model)
            earlier = promoted.from_model if promoted is not None else None
        return [current.model, *([earlier] if earlier and earlier != current.model else [])]

    def history(self, limit: int = 20) -> list[Promotion]:
        with self.db.read_session() as session:
            query = select(Promotion).order_by(Promotion.id.desc()).limit(limit)
            return list(session.scalars(query))

    # --- changing -----------------------------------------------------------------------------
    def ensure_active(self, default_model: str, *, actor: str = "tuneloop:bootstrap") -> str:
        """The active model, making `default_model` active first if nothing is (a new
        installation serves its configured base model until a candidate wins)."""
        current = self.active()
        if current is not None:
            return current.model
        try:
            with self._changing() as session:
                if active_version(session, lock=True) is None:
                    target = _version(session, default_model, origin="base")
                    self._activate(session, target)
                    session.add(
                        Promotion(
                            at=self._now(),
                            actor=actor,
                            action=PromotionAction.BOOTSTRAP,
                            from_model=None,
                            to_model=default_model,
                            reason="first served model: the configured base model",
                        )
                    )
        except (IntegrityError, RegistryError):
            pass  # another process bootstrapped at the same moment; its choice stands
        current = self.active()
        assert current is not None
        return current.model

    def record_candidate(
        self,
        session: Session,
        *,
        model: str,
        base_model: str,
        training_run_id: int | None,
        dataset_version_id: int | None,
        shutdown_date: date | None = None,
    ) -> ModelVersion:
        """Register a freshly trained model (inside the caller's transaction)."""
        version = session.scalar(select(ModelVersion).where(ModelVersion.model == model))
        if version is None:
            version = ModelVersion(
                model=model,
                base_model=base_model,
                origin="fine_tune",
                training_run_id=training_run_id,
                dataset_version_id=dataset_version_id,
                state=ModelState.CANDIDATE,
                is_active=False,
                shutdown_date=shutdown_date,
            )
            session.add(version)
            session.flush()
        return version

    def mark_rejected(self, session: Session, model: str) -> None:
        version = session.scalar(select(ModelVersion).where(ModelVersion.model == model))
        if version is not None and not version.is_active:
            version.state = ModelState.REJECTED

    def promote(
        self,
        model: str,
        *,
        actor: str,
        reason: str,
        expected_active: str | object | None = ANY_INCUMBENT,
        decision_id: int | None = None,
        eval_run_id: int | None = None,
        dataset_version_id: int | None = None,
        shutdown_date: date | None = None,
        session: Session | None = None,
    ) -> Promotion:
        """Serve `model` from the next request on. With `expected_active`, refuse (and change
        nothing) if the served model is no longer the one the candidate was evaluated against.
        With `session`, the change joins the caller's transaction (the cycle closes in it)."""
        if not reason.strip():
            raise RegistryError("a promotion needs a reason")
        with self._changing(session) as s:
            current = active_version(s, lock=True)
            current_model = current.model if current else None
            if expected_active is not ANY_INCUMBENT and current_model != expected_active:
                raise StaleIncumbentError(
                    f"the served model is now {current_model or 'none'}, not "
                    f"{expected_active or 'none'} as when {model} was evaluated; evaluate again"
                )
            if current_model == model:
                raise RegistryError(f"{model} is already the active model")
            target = _version(s, model, origin="manual")
            if shutdown_date is not None:
                target.shutdown_date = shutdown_date
            if target.dataset_version_id is not None and dataset_version_id is None:
                dataset_version_id = target.dataset_version_id
            if current is not None:
                current.is_active = False
                current.state = ModelState.RETIRED
                s.flush()  # the index allows one active row: release it before taking it
            self._activate(s, target)
            promotion = Promotion(
                at=self._now(),
                actor=actor,
                action=PromotionAction.PROMOTE,
                from_model=current_model,
                to_model=model,
                reason=clean_for_storage(reason),
                decision_id=decision_id,
                eval_run_id=eval_run_id,
                dataset_version_id=dataset_version_id,
            )
            s.add(promotion)
            s.flush()
        return promotion

    def rollback(self, *, actor: str, reason: str) -> Promotion:
        """Serve again the model that was active before the current one was promoted.

        Repeated rollbacks walk further back through the promotions (a stack, not a toggle).
        """
        if not reason.strip():
            raise RegistryError("a rollback needs a reason")
        with self._changing() as s:
            current = active_version(s, lock=True)
            if current is None:
                raise RegistryError("no model is active, so there is nothing to roll back")
            promoted = _promotion_of(s, current.model)
            if promoted is None or promoted.from_model is None:
                raise RegistryError(
                    f"{current.model} is the first model this installation served; there is "
                    "nothing earlier to roll back to (promote another model instead)"
                )
            target = _version(s, promoted.from_model, origin="manual")
            current.is_active = False
            current.state = ModelState.ROLLED_BACK
            s.flush()
            self._activate(s, target)
            rollback = Promotion(
                at=self._now(),
                actor=actor,
                action=PromotionAction.ROLLBACK,
                from_model=current.model,
                to_model=target.model,
                reason=clean_for_storage(reason),
                eval_run_id=promoted.eval_run_id,
                dataset_version_id=target.dataset_version_id,
            )
            s.add(rollback)
            s.flush()
        return rollback

    # --- helpers ------------------------------------------------------------------------------
    @contextmanager
    def _changing(self, session: Session | None = None) -> Iterator[Session]:
        """The caller's transaction, or a new one; listeners hear of it after our commit."""
        if session is not None:
            yield session
            event.listen(session, "after_commit", lambda _s: self._changed(), once=True)
            return
        try:
            with self.db.session() as s:
                yield s
        except IntegrityError as exc:
            if "active" in str(exc.orig):
                raise RegistryError(
                    "another promotion changed the active model at the same moment; try again"
                ) from exc
            raise
        self._changed()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def _activate(self, session: Session, target: ModelVersion) -> None:
        target.is_active = True
        target.state = ModelState.ACTIVE
        target.activated_at = self._now()
        session.flush()


def active_version(session: Session, *, lock: bool = False) -> ModelVersion | None:
    query = select(ModelVersion).where(ModelVersion.is_active.is_(True))
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def _promotion_of(session: Session, model: str) -> Promotion | None:
    """The promotion (or bootstrap) that made `model` active most recently: its `from_model`
    is where a rollback goes."""
    return session.scalar(
        select(Promotion)
        .where(
            Promotion.to_model == model,
            Promotion.action.in_([PromotionAction.PROMOTE, PromotionAction.BOOTSTRAP]),
        )
        .order_by(Promotion.id.desc())
        .limit(1)
    )


def _version(session: Session, model: str, *, origin: str) -> ModelVersion:
    """The registry row for `model`, created if tuneloop has not seen it before."""
    version = session.scalar(select(ModelVersion).where(ModelVersion.model == model))
    if version is None:
        version = ModelVersion(
            model=model,
            base_model=None if model.startswith("ft:") else model,
            origin=origin,
            state=ModelState.CANDIDATE,
            is_active=False,
        )
        if model.startswith("ft:"):
            version.base_model = model.split(":")[1]
        session.add(version)
        session.flush()
    return version
