"""The bot over HTTP: `/slack/events` (events, interactivity and slash commands, all signed
and verified by Bolt) and `/healthz`, as one Starlette app for uvicorn.

Bolt's own Starlette adapter calls `App.dispatch` on the event loop; dispatch waits (up to 3 s)
for a listener's `ack()`, which would stall every other request. Here dispatch runs on worker
threads, bounded by `max_concurrent_requests`. A request whose timestamp header is not a number
is refused with 401 here (Bolt would fail on it with a 500).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def create_asgi_app(
    app: App,
    *,
    health: Callable[[], Mapping[str, Any]] | None = None,
    max_concurrent_requests: int = 64,
) -> Starlette:
    limiter = anyio.CapacityLimiter(max_concurrent_requests)

    async def slack_events(request: Request) -> Response:
        stamp = request.headers.get("x-slack-request-timestamp")
        if stamp is not None and not stamp.strip().isdigit():
            return PlainTextResponse("invalid request", status_code=401)
        body = await request.body()
        bolt_request = to_bolt_request(request, body)
        bolt_response = await anyio.to_thread.run_sync(app.dispatch, bolt_request, limiter=limiter)
        return to_starlette_response(bolt_response)

    async def healthz(_request: Request) -> Response:
        try:
            details = dict(await anyio.to_thread.run_sync(health)) if health is not None else {}
        except Exception as error:  # a failing dependency (the database, say) is not healthy
            return JSONResponse({"ok": False, "error": str(error)}, status_code=503)
        return JSONResponse({"ok": True, **details})

    return Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route(HEALTH_PATH, healthz, methods=["GET"]),
        ]
    )
