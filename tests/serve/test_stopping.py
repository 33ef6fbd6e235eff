"""Stopping a real `tuneloop serve` (SIGTERM as systemd, Docker and Kubernetes send it; SIGINT
as Ctrl+C) never swallows a question: it takes no new events, finishes the answers in flight,
releases the scheduler lease and exits 0. Over HTTP and Socket Mode, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from tests.serve.conftest import MODEL_LATENCY_S, Serve, exchanges_and_leases, http_driver
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace, payloads

pytestmark = pytest.mark.slow
SIGNALS = pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])


def _question(ws: Workspace, channel: str, user: str, text: str) -> dict[str, object]:
    message = ws.post(channel, user=user, text=f"<@{ws.bot.user_id}> {text}")
    return payloads.envelope(ws, payloads.app_mention_event(ws, channel, message))


@SIGNALS
def test_http_stop_finishes_answers_in_flight_and_refuses_new_events(
    start_serve: Callable[..., Serve], workspace: Workspace, database_url: str, sig: signal.Signals
) -> None:
    serve = start_serve(database_url, socket_mode=False)
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    driver = http_driver(workspace, serve)
    asked = driver.mention(alice, channel, "How do I book leave?")
    assert [r.status for r in asked.responses] == [200, 200]
    assert not workspace.bot_replies(channel, asked.ts)  # the slow model is still working
    serve.stop(sig)
    while serve.health() == 200:  # until the listener is closed or says it is stopping
        pass
    late = _question(workspace, channel, alice, "And how do I cancel it?")
    try:
        refused = driver.deliver_event(late["event"], event_id=late["event_id"])[1].status
    except Exception:  # connection refused: Slack retries later
        refused = None
    assert refused in (None, 503)
    assert serve.wait() == 0, serve.output
    [reply] = workspace.bot_replies(channel, asked.ts)
    assert reply["blocks"]  # the full answer, with its controls
    assert exchanges_and_leases(database_url) == (1, 0)  # answered once; lease handed back
    assert "stopped" in serve.output
    driver.close()


@SIGNALS
def test_socket_mode_stop_finishes_answers_and_leaves_new_events_to_slack(
    start_serve: Callable[..., Serve],
    workspace: Workspace,
    slack: LocalSlackServer,
    database_url: str,
    sig: signal.Signals,
) -> None:
    server = slack.socket_mode
    serve = start_serve(database_url, socket_mode=True)
    server.wait_for_connections(1)
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    driver = SlackDriver(workspace, socket_mode=server)
    asked = driver.mention(alice, channel, "How do I book leave?")
    assert [r.status for r in asked.responses] == [200, 200]
    serve.stop(sig)
    server.wait_until(lambda: server.open_connections() == 0, 10, "the bot to disconnect")
    # Sent after the stop: not acknowledged, so Slack keeps it for the next connection.
    late = server.deliver("events_api", _question(workspace, channel, alice, "Cancel it?"))
    assert serve.wait() == 0, serve.output
    [reply] = workspace.bot_replies(channel, asked.ts)
    assert reply["blocks"]
    assert late.ack is None and late.failed is None
    assert exchanges_and_leases(database_url) == (1, 0)
    # The next instance gets the question Slack kept, and answers it.
    successor = start_serve(database_url, socket_mode=True)
    assert late.wait(30) is not None
    late_ts = late.payload["event"]["ts"]
    workspace.wait_for_bot_replies(channel, late_ts, timeout=30)
    successor.stop()
    assert successor.wait() == 0, successor.output
    assert exchanges_and_leases(database_url) == (2, 0)
    driver.close()


def test_answers_still_running_when_the_grace_runs_out_exit_1(
    start_serve: Callable[..., Serve], workspace: Workspace, database_url: str
) -> None:
    serve = start_serve(database_url, socket_mode=False, TUNELOOP_SHUTDOWN_GRACE_SECONDS="0.2")
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    driver = http_driver(workspace, serve)
    driver.mention(alice, channel, "How do I book leave?")
    serve.stop()
    assert serve.wait(timeout_s=MODEL_LATENCY_S * 10) == 1, serve.output
    assert "shutdown grace ran out" in serve.output
    assert exchanges_and_leases(database_url)[1] == 0  # the lease is handed back all the same
    driver.close()
