"""`tuneloop serve` in Socket Mode serves /healthz (and nothing Slack-shaped: Socket Mode requests
are not signed), which says when the app's token stops working, without a reconnect storm."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from tests.serve.conftest import Serve
from tuneloop.local_slack import LocalSlackServer, Workspace

pytestmark = pytest.mark.slow


def test_socket_mode_health_reports_a_revoked_token(
    start_serve: Callable[..., Serve],
    workspace: Workspace,
    slack: LocalSlackServer,
    database_url: str,
) -> None:
    serve = start_serve(database_url, socket_mode=True)
    server = slack.socket_mode
    server.wait_for_connections(1)
    health = httpx2.get(f"{serve.base_url}/healthz")
    assert health.json()["slack_connection"] == "connected"
    assert httpx2.post(f"{serve.base_url}/slack/events", content=b"{}").status_code == 404
    workspace.revoked = "app_uninstalled"
    server.drop("reset")
    server.wait_until(lambda: serve.health() == 503, 30, "/healthz to fail")
    health = httpx2.get(f"{serve.base_url}/healthz").json()
    assert health["slack_connection"] == "revoked"
    assert "apps.connections.open answered invalid_auth" in health["slack_connection_reason"]
    tries = len(workspace.calls_to("apps.connections.open"))
    serve.stop()
    assert serve.wait() == 0, serve.output
    assert len(workspace.calls_to("apps.connections.open")) == tries == 2
    assert "Slack connection revoked" in serve.output
