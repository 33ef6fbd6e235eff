"""apps.connections.open: a Socket Mode WebSocket URL for the app (app-level token only)."""

from __future__ import annotations

from typing import Any

from tuneloop.local_slack.errors import SlackApiFailure
from tuneloop.local_slack.methods.args import Args
from tuneloop.local_slack.workspace import Workspace


def apps_connections_open(ws: Workspace, args: Args) -> dict[str, Any]:
    if ws.socket_mode_url is None:
        raise SlackApiFailure("socket_mode_not_enabled")
    return {"url": ws.socket_mode_url()}


METHODS = {"apps.connections.open": apps_connections_open}
