"""Retraining as a service for other front ends (the Slack bot's commands and App Home).

Plain methods returning data or a sentence to show a person; a refusal raises `refusal(...)`,
an exception type the caller chooses, so the bot can receive its own error type without the
scheduler importing the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import openai
from sqlalchemy import select

from curation.db import Database
from curation.models.base import utcnow
from scheduler.cycle import CycleRunner
from scheduler.cycle.export_stage import export_method
from scheduler.cycle.trigger import new_example_count
from scheduler.errors import SchedulerError
from scheduler.records import Decision, RetrainCycle
from scheduler.registry import Registry
from scheduler.serving.probe import probe_before_promotion, provider_status
from scheduler.training.model_info import shutdown_date

log = logging.getLogger(__name__)


def nothing_new(runner: CycleRunner) -> bool:
    """No run is open and no approved example is new since the last trained run: a run
    started now would train the same data again (and, on a hosted provider, pay for it)."""
    return runner.open_cycle() is None and runner.new_examples() == 0


def nothing_new_to_train(min_new_examples: int, force: str) -> str:
    """Why a retraining run asked for by hand is not started (`nothing_new`); `force`: how
    the asker starts one anyway (`retrain --force` in Slack, `--now --force` on the command
    line)."""
    return (
        "Nothing new to train on: no approved examples since the last run, so a run would "
        "train the same model again (the scheduler starts one at "
        f"{min_new_examples}). `{force}` starts one anyway."
    )


class RetrainingService:
    def __init__(
        self,
        runner: CycleRunner,
        *,
        refusal: Callable[[str], Exception] = SchedulerError,
        next_run: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self._runner = runner
        self._refusal = refusal
        self._next_run = next_run

    @property
    def _db(self) -> Database:
        return self._runner.db

    @property
    def _registry(self) -> Registry:
        return self._runner.ctx.registry

    def status(self) -> Mapping[str, Any]:
        config = self._runner.config
        active = self._registry.active()
        cycle = self._runner.open_cycle()
        upcoming = self._next_run()
        return {
            "active_model": active.model if active else config.base_model,
            "available": True,
            "state": f"running ({cycle.stage.value})" if cycle else "idle",
            "note": cycle.note if cycle else None,
            "next_run": upcoming.isoformat() if upcoming else None,
            "new_examples": self.approved_since_last_training(),
            "min_new_examples": config.min_new_examples,
        }

    def request_retrain(self, actor: str, *, force: bool = False) -> str:
        """Open a retraining run now, below TUNELOOP_MIN_NEW_EXAMPLES too (a person asked),
        but not when no approved example is new since the last trained run, unless `force`:
        it would train the same model again (the scheduler's trigger waits for new examples
        too). Returns the sentence to show; a run already open is named, never doubled."""
        if not force and nothing_new(self._runner):
            return nothing_new_to_train(self._runner.config.min_new_examples, "retrain --force")
        report = self._runner.begin(force=True, trigger="request", requested_by=actor)
        if not report.started:
            return (
                f"A retraining run is already open (cycle {report.cycle_id}, stage "
                f"{report.stage}); it will decide before another starts."
            )
        return f"Retraining run {report.cycle_id} started; the scheduler takes it from here."

    def promote(self, model: str, actor: str, reason: str, *, force: bool = False) -> str:
        """Serve `model` from the next message on. Unless `force`, it must answer a one-token
        chat completion first (loaded on the serving side, for self-hosted adapters) and must
        not shut down within the gate's limit; a refusal says why, without internals."""
        ctx = self._runner.ctx
        gate = self._runner.config.gate
        if not force:
            probe = probe_before_promotion(ctx.client, model, serving=ctx.serving)
            if not probe.answers:
                log.warning("promotion of %s refused: %s (%s)", model, probe.problem, probe.detail)
                raise self._refusal(
                    f"{model} {probe.problem}: not promoted (check the name, or promote it "
                    "with --force to serve it anyway)"
                )
        try:
            shuts = shutdown_date(ctx.client, model)
        except openai.APIError as exc:
            log.warning("could not read %s from the provider: %s", model, exc)
            raise self._refusal(
                f"could not check {model} with the provider ({provider_status(exc)}); not promoted"
            ) from exc
        if not force and shuts is not None and (shuts - utcnow().date()).days <= gate.shutdown_days:
            raise self._refusal(
                f"{model} shuts down on {shuts.isoformat()}, within {gate.shutdown_days} days; "
                "not promoted"
            )
        try:
            self._registry.ensure_active(self._runner.config.base_model)
            done = self._registry.promote(model, actor=actor, reason=reason, shutdown_date=shuts)
        except SchedulerError as exc:
            raise self._refusal(str(exc)) from exc
        return f"Now serving {done.to_model} (was {done.from_model})."

    def rollback(self, actor: str, reason: str) -> str:
        try:
            done = self._registry.rollback(actor=actor, reason=reason)
        except SchedulerError as exc:
            raise self._refusal(str(exc)) from exc
        return f"Rolled back: now serving {done.to_model} (was {done.from_model})."

    def last_decision(self) -> Mapping[str, Any] | None:
        with self._db.read_session() as session:
            decision = session.scalar(select(Decision).order_by(Decision.id.desc()).limit(1))
            if decision is None:
                return None
            cycle = session.get(RetrainCycle, decision.cycle_id) if decision.cycle_id else None
            outcome = cycle.outcome.value if cycle and cycle.outcome else decision.verdict.value
            return {
                "outcome": outcome,
                "note": cycle.note if cycle and cycle.note else decision.reason,
                "candidate": decision.candidate,
                "incumbent": decision.incumbent,
                "at": decision.decided_at.isoformat(),
                "numbers": dict(decision.numbers),
            }

    def approved_since_last_training(self) -> int:
        return new_example_count(self._db, export_method(self._runner.ctx))
