"""`TUNELOOP_LOG_LEVEL` governs every line a real `tuneloop serve` writes, uvicorn's access lines
included: at WARNING an operator sees no line per Slack event or health probe."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.serve.conftest import Serve, http_driver
from tuneloop.local_slack import Workspace

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("level", "access_lines"), [("WARNING", False), ("INFO", True)])
def test_access_lines_follow_the_log_level(
    start_serve: Callable[..., Serve],
    workspace: Workspace,
    tmp_path_factory: pytest.TempPathFactory,
    level: str,
    access_lines: bool,
) -> None:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'tuneloop.db'}"
    serve = start_serve(database_url, socket_mode=False, TUNELOOP_LOG_LEVEL=level)
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    driver = http_driver(workspace, serve)
    asked = driver.mention(alice, channel, "How do I book leave?")
    workspace.wait_for_bot_replies(channel, asked.ts, timeout=30)
    driver.close()
    assert serve.health() == 200
    serve.stop()
    assert serve.wait() == 0, serve.output
    lines = serve.output.splitlines()
    assert any("POST /slack/events" in line for line in lines) is access_lines, serve.output
    assert any("GET /healthz" in line for line in lines) is access_lines, serve.output
