"""`/metrics` of the bot built as `tuneloop serve` builds it: a real Bolt app on uvicorn, the
local Slack workspace, the store on SQLite and PostgreSQL, scraped and parsed as Prometheus
would."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client import generate_latest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.blocks import ids
from bot.replies import ModelCall, Outcome, PromptBuilder, ReplyRecord, ReplyRequest, ReplyService
from bot.replies.turns import Turn
from curation.capture import ConversationRef
from curation.db import Database
from curation.store import Store
from tests.bot.fakes import ScriptedModel
from tests.bot.test_serve import BASE_MODEL, SECRET, _settings
from tests.scrape import Scrape
from tuneloop.cli import app as cli_app
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace
from tuneloop.local_slack.threaded import ThreadedServer
from tuneloop.metrics import Metrics, StoreCollector
from tuneloop.metrics.instruments import slack_request_type
from tuneloop.serve import BotRuntime, build_bot
from tuneloop.wiring import model_registry


@pytest.fixture
def served(
    tmp_path: Path, database_url: str, slack_server: LocalSlackServer
) -> Iterator[tuple[BotRuntime, SlackDriver, str, Workspace]]:
    """The bot as `tuneloop serve` builds it, on the test database, served over HTTP."""
    ws = Workspace()
    slack_server.workspace = ws
    runtime = build_bot(_settings(tmp_path, ws, slack_server.api_url, database_url=database_url))
    with ThreadedServer(runtime.asgi(), name="metrics-under-test") as server:
        driver = SlackDriver(ws, f"{server.base_url}/slack/events", SECRET)
        try:
            yield runtime, driver, server.base_url, ws
        finally:
            driver.close()
            runtime.close()


def _answered(workspace: Workspace, driver: SlackDriver, user: str, channel: str) -> Any:
    said = driver.mention(user, channel, "How do I book leave?")
    [reply] = workspace.wait_for_bot_replies(channel, said.ts)
    return reply


def test_a_mention_its_reply_feedback_and_a_correction_are_counted(
    served: tuple[BotRuntime, SlackDriver, str, Workspace],
) -> None:
    runtime, driver, base_url, workspace = served
    before = Scrape.get(f"{base_url}/metrics")
    assert before.value("tuneloop_replies_total", outcome="answered") == 0
    assert before.value("tuneloop_store_up") == 1

    alice, bob = workspace.add_user("alice"), workspace.add_user("bob")
    channel = workspace.add_channel("help", members=[alice, bob])
    reply = _answered(workspace, driver, alice, channel)
    driver.click_feedback(bob, channel, reply, positive=False)
    workspace.wait_until(lambda: workspace.ephemerals_for(bob), what="the flag's thanks")
    driver.click_feedback(bob, channel, reply, positive=False)  # a repeat counts once
    driver.click_button(alice, channel, reply, ids.CORRECT_ACTION)
    modal = workspace.wait_until(lambda: workspace.top_modal(alice), what="the correction modal")
    driver.submit(alice, modal["id"], {ids.CORRECTION_BLOCK: "Book leave in Workday."})
    runtime.reply_workers.shutdown(wait=True)  # the reply's bookkeeping is done

    after = Scrape.get(f"{base_url}/metrics")
    assert after.value("tuneloop_slack_events_received_total", type="app_mention") == 1
    assert after.value("tuneloop_slack_events_received_total", type="block_actions") == 3
    assert after.value("tuneloop_slack_events_received_total", type="view_submission") == 1
    assert after.value("tuneloop_replies_total", outcome="answered") == 1
    assert after.value("tuneloop_reply_duration_seconds_count", outcome="answered") == 1
    assert after.value("tuneloop_reply_first_token_seconds_count") == 1
    assert after.families["tuneloop_reply_duration_seconds"] == "histogram"
    assert after.value("tuneloop_model_errors_total", kind="model_not_found") == 0
    # From the store: the same on every process that reads it.
    assert after.value("tuneloop_feedback_total", kind="thumbs_down") == 1
    assert after.value("tuneloop_feedback_total", kind="thumbs_up") == 0
    assert after.value("tuneloop_corrections_total") == 1
    assert after.value("tuneloop_review_queue_items", state="pending") == 1
    assert after.value("tuneloop_active_model_info", model=BASE_MODEL) == 1
    assert after.value("tuneloop_retrain_cycle_stage", stage="idle") == 1
    assert after.value("tuneloop_retrain_cycle_stage", stage="train") == 0
    assert after.value("tuneloop_gate_decisions_total", verdict="promote") == 0
    assert after.value("process_resident_memory_bytes") > 0


def test_a_model_error_and_the_new_active_model_show(
    served: tuple[BotRuntime, SlackDriver, str, Workspace],
) -> None:
    runtime, driver, base_url, workspace = served
    missing = "ft:gpt-4.1-mini-2025-04-14:local:tuneloop:gone"
    model_registry(runtime.store.db).promote(
        missing, actor="test", reason="a model the provider lacks"
    )
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    said = driver.mention(alice, channel, "Is the VPN down?")
    workspace.wait_for_bot_replies(channel, said.ts)  # the apology
    runtime.reply_workers.shutdown(wait=True)

    scrape = Scrape.get(f"{base_url}/metrics")
    assert scrape.value("tuneloop_model_errors_total", kind="model_not_found") == 1
    assert scrape.value("tuneloop_replies_total", outcome="failed") == 1
    assert scrape.value("tuneloop_replies_total", outcome="answered") == 0
    assert scrape.value("tuneloop_reply_duration_seconds_count", outcome="failed") == 1
    assert scrape.value("tuneloop_active_model_info", model=missing) == 1


def test_a_scrape_answers_when_the_store_cannot_be_read(
    tmp_path: Path, sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "broken.db"
    shutil.copy(sqlite_template, path)
    db = Database.open(f"sqlite:///{path}")
    metrics = Metrics()
    metrics.watch(StoreCollector(db, active_model=lambda: BASE_MODEL, new_examples=lambda: 0))
    assert Scrape.parse(generate_latest(metrics.registry).decode()).value("tuneloop_store_up") == 1
    with db.session() as session:
        session.execute(text("DROP TABLE kept_counts"))  # what a half-restored backup looks like
    for _ in range(2):
        scrape = Scrape.parse(generate_latest(metrics.registry).decode())
        assert scrape.value("tuneloop_store_up") == 0
        assert "tuneloop_corrections" not in scrape.families
        assert scrape.value("tuneloop_replies_total", outcome="answered") == 0  # still served
    db.dispose()
    warnings = [r for r in caplog.records if "could not read the store" in r.getMessage()]
    assert len(warnings) == 1  # once when it goes down, not at every scrape


class _Sink:
    """A reply sink that keeps what it was given (the reply path's own protocol)."""

    def __init__(self) -> None:
        self.text = ""
        self.apologies: list[str] = []

    def thinking(self) -> None:
        pass

    def write(self, text: str) -> None:
        self.text += text

    def settle(self) -> str | None:
        return None

    def finish(self, exchange_id: int, notes: Sequence[str] = ()) -> str | None:
        return "1700000000.000200"

    @property
    def message_ts(self) -> list[str]:
        return ["1700000000.000200"]

    def give_up(self) -> str | None:
        return None

    def withdraw(self) -> None:
        pass

    def apologise(self, text: str) -> None:
        self.apologies.append(text)


def _service(store: Store, model: ScriptedModel, observe: Callable[[ReplyRecord], None]) -> Any:
    ticks = iter(range(100))
    return ReplyService(
        store.capture,
        ModelCall(model.client(), max_tokens=100, timeout_s=30),
        PromptBuilder("You are the help desk.", budget_tokens=1000),
        lambda: BASE_MODEL,
        clock=lambda: next(ticks) * 0.25,  # each look at the clock: a quarter of a second on
        observe=observe,
    )


def _request(ts: str) -> ReplyRequest:
    ref = ConversationRef(channel_id="C1", message_ts=ts, thread_ts=ts, user_id="U1")
    return ReplyRequest(ref, [Turn("user", "How do I book leave?")])


def test_the_reply_path_tells_its_observer_the_outcome_and_the_times(store: Store) -> None:
    seen: list[ReplyRecord] = []
    service = _service(store, ScriptedModel("Use Workday."), seen.append)
    assert service.answer(_request("1700000000.000100"), _Sink()) is Outcome.ANSWERED
    assert service.answer(_request("1700000000.000100"), _Sink()) is Outcome.DUPLICATE
    answered, duplicate = seen
    # Started at 0 s; first text at 0.25 s; the reply complete at 0.75 s (after its latency).
    assert answered == ReplyRecord("answered", BASE_MODEL, 0.75, 0.25, None)
    assert duplicate == ReplyRecord("duplicate", BASE_MODEL)


def test_a_failing_observer_never_costs_a_reply(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_record: ReplyRecord) -> None:
        raise RuntimeError("the metrics backend is gone")

    sink = _Sink()
    service = _service(store, ScriptedModel("Use Workday."), broken)
    assert service.answer(_request("1700000000.000300"), sink) is Outcome.ANSWERED
    assert sink.text == "Use Workday."
    assert any("reply observer failed" in r.getMessage() for r in caplog.records)


def test_a_model_failure_is_observed_with_its_kind(store: Store) -> None:
    seen: list[ReplyRecord] = []
    scripted = ScriptedModel(httpx2.ReadTimeout("the model is slow"))
    sink = _Sink()
    assert _service(store, scripted, seen.append).answer(_request("1.1"), sink) is Outcome.FAILED
    assert sink.apologies
    [failed] = seen
    assert (failed.outcome, failed.failure, failed.first_token_seconds) == (
        "failed",
        "timeout",
        None,
    )
    assert failed.seconds is not None


def test_slack_request_types_are_bounded_labels() -> None:
    assert slack_request_type({"type": "event_callback", "event": {"type": "app_mention"}}) == (
        "app_mention"
    )
    assert slack_request_type({"command": "/tuneloop", "text": "status"}) == "slash_command"
    assert slack_request_type({"type": "view_submission"}) == "view_submission"
    assert slack_request_type({"type": "event_callback", "event": {"type": "x" * 200}}) == "other"
    assert slack_request_type({"type": "Robert'); DROP"}) == "other"
    assert slack_request_type({}) == "other"


def test_serve_refuses_a_taken_metrics_port_with_the_setting_named(
    tmp_path: Path, slack_server: LocalSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace()
    slack_server.workspace = ws
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "TUNELOOP_DATA_DIR": str(tmp_path / "data"),
        "TUNELOOP_PROVIDER": "local",
        "SLACK_BOT_TOKEN": ws.bot.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_server.api_url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("TUNELOOP_METRICS_PORT", str(taken.getsockname()[1]))
        result = CliRunner().invoke(cli_app, ["serve", "--no-scheduler"])
    assert result.exit_code == 1, result.output
    assert "cannot serve metrics on 127.0.0.1:" in result.output
    assert "TUNELOOP_METRICS_PORT" in result.output and "Traceback" not in result.output
