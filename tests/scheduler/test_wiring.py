"""Settings reach the scheduler under their documented names, and the composition root builds
a working cycle, lookup and scheduler from them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from curation.db import Database
from scheduler.evaluation import JudgeGrader
from tuneloop.settings import Settings
from tuneloop.wiring import (
    active_model_lookup,
    build_cycle_runner,
    build_evaluator,
    build_retrain_scheduler,
    cycle_config,
    retraining_control,
)


def test_retraining_settings_by_their_environment_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        "TUNELOOP_DATA_DIR": str(tmp_path),
        "TUNELOOP_MIN_NEW_EXAMPLES": "7",
        "TUNELOOP_TRAINING_STRATEGY": "incremental",
        "TUNELOOP_TRAINING_METHOD": "dpo",
        "TUNELOOP_BUDGET_PER_RUN_USD": "12.5",
        "TUNELOOP_BUDGET_PER_MONTH_USD": "40",
        "TUNELOOP_GATE_MARGIN": "0.05",
        "TUNELOOP_GATE_SHUTDOWN_DAYS": "45",
        "TUNELOOP_GATE_MIN_EVAL_ITEMS": "50",
        "TUNELOOP_MODEL_READY_TIMEOUT_MINUTES": "5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = cycle_config(Settings())
    assert (config.min_new_examples, config.strategy, config.method) == (7, "incremental", "dpo")
    assert (config.budget_per_run_usd, config.budget_per_month_usd) == (12.5, 40.0)
    assert (config.gate.margin, config.gate.shutdown_days, config.gate.min_items) == (0.05, 45, 50)
    assert config.model_ready_timeout == timedelta(minutes=5)
    assert config.export_dir == tmp_path / "datasets"


def test_the_offline_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TUNELOOP_MIN_NEW_EXAMPLES", "TUNELOOP_GATE_SHUTDOWN_DAYS", "TUNELOOP_GRADER"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.gate_shutdown_days == 30  # the stand-in's 2027-01-14 is 54 days away
    assert settings.grader == "similarity" and settings.eval_concurrency == 16
    assert settings.base_model == "gpt-4.1-mini-2025-04-14"


def test_the_composition_root_builds_the_parts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TUNELOOP_PROVIDER", "local")
    monkeypatch.setenv("TUNELOOP_GRADER", "judge")
    settings = Settings()
    db = Database.open(database_url)
    try:
        assert active_model_lookup(settings, db)() == settings.base_model
        runner = build_cycle_runner(settings, db)
        assert runner.open_cycle() is None
        assert isinstance(runner.ctx.evaluator.grader, JudgeGrader)
        assert runner.ctx.evaluator.grader.model == settings.judge_model
        service = build_retrain_scheduler(settings, db, runner=runner)
        assert service.config.cron == "0 3 * * *" and service.lease.ttl == timedelta(seconds=90)
        evaluator = build_evaluator(settings, db, runner.ctx.client, concurrency=3)
        assert evaluator.options.concurrency == 3
        control = retraining_control(settings, db, runner=runner)
        assert control.status()["next_run"].endswith("T03:00:00+00:00")
    finally:
        db.dispose()


def test_a_cached_active_model_drops_its_cache_when_this_process_promotes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TUNELOOP_PROVIDER", "local")
    settings = Settings(active_model_ttl_seconds=3600)
    db = Database.open(database_url)
    try:
        runner = build_cycle_runner(settings, db)
        lookup = active_model_lookup(settings, db, registry=runner.ctx.registry)
        unwired = active_model_lookup(settings, db)
        assert lookup() == unwired() == settings.base_model
        runner.ctx.registry.ensure_active(settings.base_model)
        promoted = "gpt-4o-mini-2024-07-18"
        runner.ctx.registry.promote(promoted, actor="U1", reason="test")
        assert lookup() == promoted  # the next message serves the promoted model
        assert unwired() == settings.base_model  # a lookup nobody told waits out its TTL
    finally:
        db.dispose()


def test_runs_from_the_command_line_and_the_scheduler_post_to_the_review_channel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    """Not only `tuneloop serve`: every runner built from settings posts each ended cycle
    (a failed job included) to TUNELOOP_REVIEW_CHANNEL when one is set."""
    from bot.notify import SlackDecisionNotifier
    from scheduler.notify import CycleEvent

    posted: list[dict] = []
    monkeypatch.setattr(SlackDecisionNotifier, "notify", lambda self, d: posted.append(d) or True)
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TUNELOOP_PROVIDER", "local")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("TUNELOOP_REVIEW_CHANNEL", "CREVIEW")
    db = Database.open(database_url)
    try:
        runner = build_cycle_runner(Settings(), db)
        runner._notifier(CycleEvent(cycle_id=3, outcome="training_failed", note="job failed"))
        assert posted == [
            {
                "cycle_id": 3,
                "outcome": "training_failed",
                "note": "job failed",
                "candidate": None,
                "incumbent": None,
                "verdict": None,
                "numbers": {},
            }
        ]
        monkeypatch.delenv("TUNELOOP_REVIEW_CHANNEL")
        assert build_cycle_runner(Settings(), db)._notifier.__name__ == "log_notifier"
    finally:
        db.dispose()


@pytest.mark.parametrize(("env", "sent"), [(None, 0.0), ("0.7", 0.7)])
def test_evaluation_asks_both_models_greedily_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str | None, sent: float
) -> None:
    """Sampling noise is not a difference between models: at the API's default temperature a
    small model's answers to one question vary from run to run and swamp the gate's test."""
    import httpx2
    import openai

    bodies: list[dict[str, object]] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        bodies.append(json.loads(request.content))
        reply = {"role": "assistant", "content": "Use Okta."}
        return httpx2.Response(
            200,
            json={
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "message": reply, "finish_reason": "stop"}],
            },
        )

    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path))
    if env is not None:
        monkeypatch.setenv("TUNELOOP_EVAL_TEMPERATURE", env)
    client = openai.OpenAI(
        api_key="test",
        base_url="http://model.invalid/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handle)),
        max_retries=0,
    )
    evaluator = build_evaluator(Settings(), Database.open("sqlite://"), client)
    assert evaluator.options.as_dict()["temperature"] == sent  # recorded with each eval run
    evaluator._asker.ask("m", [{"role": "user", "content": "How do I sign in?"}])
    assert bodies[0]["temperature"] == sent


def test_the_tie_margin_decides_which_differences_are_evidence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import openai

    from scheduler.evaluation import EvalCase
    from scheduler.records import ItemOutcome

    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path))
    case = EvalCase(
        example_id=1,
        golden=True,
        thread_key="t",
        messages=[],
        reference="Reset it at login.fernhill.example",
    )
    reworded = ("Reset it at login.fernhill.example.", "You reset it at login.fernhill.example")
    outcomes = {}
    for margin in (None, "0.2"):
        if margin is not None:
            monkeypatch.setenv("TUNELOOP_EVAL_TIE_MARGIN", margin)
        client = openai.OpenAI(api_key="test", base_url="http://model.invalid/v1")
        grader = build_evaluator(Settings(), Database.open("sqlite://"), client).grader
        outcomes[margin] = grader.grade(case, *reworded).outcome
    assert outcomes == {None: ItemOutcome.WIN, "0.2": ItemOutcome.TIE}
