"""One Web API call: authenticate, apply injected faults, run the method, shape the answer."""

from __future__ import annotations

from typing import Any

from tuneloop.local_slack.errors import SlackApiFailure
from tuneloop.local_slack.methods import METHODS, Args
from tuneloop.local_slack.workspace import Workspace

APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

Answer = tuple[int, dict[str, Any], dict[str, str]]


def call_method(
    ws: Workspace, method: str, values: dict[str, Any], authorization: str | None
) -> Answer:
    """Answer `method` as Slack would: HTTP 200 with `ok: false` for most failures."""
    token = values.pop("token", None)
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    ws.record_call(method, values)
    try:
        if not token:
            raise SlackApiFailure("not_authed")
        # apps.connections.open takes the app-level token and nothing else takes it.
        expected = ws.app_token if method in APP_TOKEN_METHODS else ws.bot.token
        if token in (ws.app_token, ws.bot.token) and token != expected:
            raise SlackApiFailure("not_allowed_token_type")
        if token != expected or ws.revoked:
            raise SlackApiFailure("invalid_auth")
        ws.faults.check(method)
        handler = METHODS.get(method)
        if handler is None:
            raise SlackApiFailure("unknown_method")
        return 200, {"ok": True, **handler(ws, Args(values))}, {}
    except SlackApiFailure as failure:
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
        return failure.status, failure.body(), headers
