"""`tuneloop serve`'s composition root: the bot from settings, over HTTP with /healthz, the
registry's active model per message, and the honest retraining control."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from typer.testing import CliRunner

from bot.conversation.delivery import STATUS_THREADS
from curation.tokens import get_encoding
from tests.bot.conftest import REVIEWERS
from tests.bot.test_threads import running
from tuneloop.cli import app as cli_app
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace
from tuneloop.local_slack.threaded import ThreadedServer
from tuneloop.serve import (
    SlackSettingsError,
    build_bot,
    serving_mode,
)
from tuneloop.settings import Settings, load_settings
from tuneloop.wiring import model_registry

SECRET = "serve-signing-secret"
BASE_MODEL = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
def workspace(slack_server: LocalSlackServer) -> Workspace:
    ws = Workspace()
    slack_server.workspace = ws
    return ws


def _settings(tmp_path: Path, ws: Workspace, api_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": f"sqlite:///{tmp_path / 'serve.db'}",
        "provider": "local",
        "local_openai_data_dir": tmp_path / "openai",
        "reviewers": list(REVIEWERS),
        "slack_bot_token": ws.bot.token,
        "slack_signing_secret": SECRET,
        "slack_api_url": api_url,
    }
    return load_settings(**{**values, **extra})


def test_serving_mode_follows_the_app_token(tmp_path: Path) -> None:
    assert serving_mode(load_settings()) == "http"
    assert serving_mode(load_settings(slack_app_token="xapp-1-local")) == "socket"


def test_http_mode_needs_a_token_and_a_signing_secret(tmp_path: Path) -> None:
    with pytest.raises(SlackSettingsError, match="SLACK_BOT_TOKEN"):
        build_bot(load_settings(slack_bot_token=None))
    with pytest.raises(SlackSettingsError, match="SLACK_SIGNING_SECRET"):
        build_bot(load_settings(slack_bot_token="xoxb-1", slack_signing_secret=None))


def test_socket_mode_needs_no_signing_secret(
    tmp_path: Path, workspace: Workspace, slack_server: LocalSlackServer
) -> None:
    settings = _settings(
        tmp_path,
        workspace,
        slack_server.api_url,
        slack_signing_secret=None,
        slack_app_token="xapp-1-local",
    )
    runtime = build_bot(settings)
    try:
        handler = SocketModeHandler(runtime.app, "xapp-1-local")
        assert handler.app is runtime.app
    finally:
        runtime.close()


def test_the_bots_threads_run_before_the_first_event(
    tmp_path: Path, workspace: Workspace, slack_server: LocalSlackServer
) -> None:
    before = running("tuneloop-reply_"), running("tuneloop-listener_")
    settings = _settings(
        tmp_path, workspace, slack_server.api_url, slack_reply_workers=7, slack_listener_threads=5
    )
    runtime = build_bot(settings)
    try:
        started = running("tuneloop-reply_") - before[0], running("tuneloop-listener_") - before[1]
        assert started == (7, 5)
        assert running("tuneloop-status_") == STATUS_THREADS
    finally:
        runtime.close()


def test_warming_up_loads_the_tokenizer_and_freezes_what_start_up_made(
    tmp_path: Path, workspace: Workspace, slack_server: LocalSlackServer
) -> None:
    runtime = build_bot(_settings(tmp_path, workspace, slack_server.api_url))
    get_encoding.cache_clear()
    gc.unfreeze()
    try:
        runtime.warm_up()
        assert get_encoding.cache_info().currsize == 1  # the served model's encoding
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        runtime.close()


@pytest.fixture
def served(
    tmp_path: Path, workspace: Workspace, slack_server: LocalSlackServer
) -> Iterator[tuple[Any, SlackDriver, str]]:
    runtime = build_bot(_settings(tmp_path, workspace, slack_server.api_url))
    with ThreadedServer(runtime.asgi(), name="serve-under-test") as server:
        driver = SlackDriver(workspace, f"{server.base_url}/slack/events", SECRET)
        try:
            yield runtime, driver, server.base_url
        finally:
            driver.close()
            runtime.close()


def test_the_served_bot_answers_with_the_registrys_active_model(
    served: tuple[Any, SlackDriver, str], workspace: Workspace
) -> None:
    runtime, driver, base_url = served
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    health = httpx2.get(f"{base_url}/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "ok": True,
        "active_model": BASE_MODEL,
        "checks": {"store": {"ok": True}, "model": {"ok": True}},
        "slack_connection": "http",
    }

    first = driver.mention(alice, channel, "How do I book leave?")
    workspace.wait_for_bot_replies(channel, first.ts)
    model_registry(runtime.store.db).promote(
        "gpt-4o-mini-2024-07-18", actor="test", reason="a test promotion"
    )
    second = driver.mention(alice, channel, "How do I book leave?")
    workspace.wait_for_bot_replies(channel, second.ts)
    runtime.reply_workers.shutdown(wait=True)
    from sqlalchemy import select

    from curation.models import Exchange

    with runtime.store.db.read_session() as session:
        models = list(session.scalars(select(Exchange.model).order_by(Exchange.id)))
    assert models == [BASE_MODEL, "gpt-4o-mini-2024-07-18"]


def test_the_served_bot_drives_retraining_through_the_scheduler(
    served: tuple[Any, SlackDriver, str], workspace: Workspace
) -> None:
    runtime, driver, _ = served
    reviewer = workspace.add_user("rita", user_id=REVIEWERS[0])
    channel = workspace.add_channel("help", members=[reviewer])
    driver.command(reviewer, channel, "status")  # answered after the acknowledgement
    [status] = workspace.wait_until(lambda: workspace.ephemerals_for(reviewer))
    assert BASE_MODEL in status["text"]
    # An empty store: nothing new to train on, and no run is opened unless forced.
    driver.command(reviewer, channel, "retrain")
    [_, answer] = workspace.wait_until(
        lambda: len(workspace.ephemerals_for(reviewer)) == 2 and workspace.ephemerals_for(reviewer)
    )
    assert answer["text"].startswith("Nothing new to train on")
    assert runtime.runner.open_cycle() is None
    driver.command(reviewer, channel, "retrain --force")
    [*_, answer] = workspace.wait_until(
        lambda: len(workspace.ephemerals_for(reviewer)) == 3 and workspace.ephemerals_for(reviewer)
    )
    # The same runner that the in-process scheduler advances now has an open cycle.
    cycle = runtime.runner.open_cycle()
    assert cycle is not None and f"Retraining run {cycle.id} started" in answer["text"]


def test_a_promotion_from_slack_is_refused_for_a_model_that_does_not_answer(
    served: tuple[Any, SlackDriver, str], workspace: Workspace
) -> None:
    """The issue's case: promoting a model that does not exist turned every reply into an
    apology while /healthz said ok. Now the promotion is refused; forced, /healthz says so."""
    runtime, driver, base_url = served
    reviewer = workspace.add_user("rita", user_id=REVIEWERS[0])
    channel = workspace.add_channel("help", members=[reviewer])
    missing = f"ft:{BASE_MODEL}:acme::missing"

    def answer(text: str) -> str:
        before = len(workspace.ephemerals_for(reviewer))
        driver.command(reviewer, channel, text)
        shown = workspace.wait_until(lambda: workspace.ephemerals_for(reviewer)[before:])
        return str(shown[-1]["text"])

    refused = answer(f"promote {missing} looks good")
    assert f"{missing} is not served by the provider (HTTP 404 model_not_found)" in refused
    assert "--force" in refused
    assert runtime.active_model() == BASE_MODEL
    assert httpx2.get(f"{base_url}/healthz").status_code == 200

    assert f"Now serving {missing}" in answer(f"promote {missing} --force I know")
    health = httpx2.get(f"{base_url}/healthz")
    assert health.status_code == 503
    model = health.json()["checks"]["model"]
    assert model["error"] == "the model is not served by the provider (HTTP 404 model_not_found)"


def test_pinned_team_and_app_ids_come_from_settings(
    tmp_path: Path, workspace: Workspace, slack_server: LocalSlackServer
) -> None:
    """TUNELOOP_SLACK_TEAM_ID / TUNELOOP_SLACK_APP_ID win over what auth.test says: pinned to
    another workspace, this one's events are ignored; pinned to this one, they are answered."""
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    for team_id, answered in (("T0ELSEWHERE", False), (workspace.team_id, True)):
        settings = _settings(
            tmp_path,
            workspace,
            slack_server.api_url,
            slack_team_id=team_id,
            slack_app_id=workspace.bot.app_id,
        )
        runtime = build_bot(settings)
        with ThreadedServer(runtime.asgi(), name="serve-pinned") as server:
            driver = SlackDriver(workspace, f"{server.base_url}/slack/events", SECRET)
            said = driver.mention(alice, channel, f"Am I answered in {team_id}?")
            assert [r.status for r in said.responses] == [200, 200]
            if answered:
                assert workspace.wait_for_bot_replies(channel, said.ts)
            runtime.reply_workers.shutdown(wait=True)
            assert bool(workspace.bot_replies(channel, said.ts)) is answered
            driver.close()
        runtime.close()


def test_the_served_bot_refuses_a_bad_signature(served: tuple[Any, SlackDriver, str]) -> None:
    _, driver, _ = served
    assert driver.send(b"{}", "application/json", secret="wrong").status == 401


def test_serve_without_a_token_explains_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    result = CliRunner().invoke(cli_app, ["serve", "--no-scheduler"])
    assert result.exit_code == 1
    assert "SLACK_BOT_TOKEN is not set" in result.output


def test_serve_when_slack_cannot_be_reached_names_the_url_and_what_to_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    api_url = f"http://127.0.0.1:{_free_port()}/api/"  # nothing listens there
    monkeypatch.setenv("SLACK_API_URL", api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    result = CliRunner().invoke(cli_app, ["serve", "--no-scheduler"])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert f"could not reach Slack's Web API at {api_url}auth.test (" in said
    assert "network" in said and "SLACK_API_URL" in said and "tuneloop chat" in said
    assert "urlopen error" not in said


def test_a_token_slack_refuses_at_start_up_is_named_with_the_url(
    tmp_path: Path, workspace: Workspace, slack_server: LocalSlackServer
) -> None:
    settings = _settings(tmp_path, workspace, slack_server.api_url, slack_bot_token="xoxb-wrong")
    with pytest.raises(SlackSettingsError) as refused:
        build_bot(settings)
    said = str(refused.value)
    assert f"Slack's Web API at {slack_server.api_url}" in said
    assert "refused SLACK_BOT_TOKEN (invalid_auth)" in said and "xoxb-" in said


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_tuneloop_serve_runs_the_bot_under_uvicorn(
    tmp_path: Path, workspace: Workspace, slack_server: LocalSlackServer
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "TUNELOOP_DATA_DIR": str(tmp_path / "data"),
        "TUNELOOP_PROVIDER": "local",
        "SLACK_BOT_TOKEN": workspace.bot.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_server.api_url,
        "PORT": str(port),
    }
    env.pop("SLACK_APP_TOKEN", None)
    command = [sys.executable, "-c", "from tuneloop.cli import main; main()", "serve"]
    # With its scheduler: `tuneloop serve` runs the bot and retraining in one process.
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx2.Client() as http:
            deadline = time.monotonic() + 60
            while not _healthy(http, base, process):
                assert time.monotonic() < deadline, "tuneloop serve did not come up"
                time.sleep(0.05)
        alice = workspace.add_user("alice")
        channel = workspace.add_channel("help", members=[alice])
        driver = SlackDriver(workspace, f"{base}/slack/events", SECRET)
        said = driver.mention(alice, channel, "How do I book leave?")
        assert [r.status for r in said.responses] == [200, 200]
        [reply] = workspace.wait_for_bot_replies(channel, said.ts, timeout=30)
        assert reply["blocks"][-2]["type"] == "context_actions"
        driver.close()
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output  # drained, not killed by a re-raised SIGTERM
    assert "Finished server process" in output
    assert "leads the scheduler" in output  # the in-process scheduler took the lease


def _healthy(http: httpx2.Client, base: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(process.communicate()[0].decode())
    try:
        return http.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx2.TransportError:
        return False


@pytest.mark.parametrize(
    ("event", "said"),
    [
        ({"type": "app_uninstalled"}, "app_uninstalled"),
        ({"type": "tokens_revoked", "tokens": {"bot": ["U1"], "oauth": []}}, "tokens_revoked"),
    ],
)
def test_the_app_removed_from_slack_shows_in_healthz(
    served: tuple[Any, SlackDriver, str], event: dict[str, Any], said: str
) -> None:
    runtime, driver, base_url = served
    assert driver.deliver_event(event)[1].status == 200
    runtime.reply_workers.shutdown(wait=True)
    health = httpx2.get(f"{base_url}/healthz")
    assert health.status_code == 503
    assert health.json()["ok"] is False and health.json()["slack_connection"] == "revoked"
    assert said in health.json()["slack_connection_reason"]
    assert runtime.link.final
