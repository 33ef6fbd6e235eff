"""The bot over HTTP: `/slack/events` (events, interactivity and slash commands) and `/healthz`,
as one Starlette app for uvicorn.

A request to `/slack/events` costs an unauthenticated client next to nothing: its signature
headers are checked before a byte of the body is read (a missing or malformed signature, or a
timestamp outside Slack's 5-minute replay window, is 401); a body whose `Content-Length` is
over `max_body_bytes` is refused with 413 unread, and one sent without a length is read only
up to that cap; the signature (`v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`, checked by
`slack_sdk.signature.SignatureVerifier`) is verified before the body is parsed; a signed body
that is not what Slack sends (not UTF-8, not a JSON object, a `payload=` that is not one) is
400 (so is one whose `event`, `view` or `actions` is not shaped as Slack sends it, which would
make Bolt fail with a 500). Refusals are logged in one short line quoting nothing the client
sent.
Source: https://docs.slack.dev/authentication/verifying-requests-from-slack

Bolt's own Starlette adapter calls `App.dispatch` on the event loop; dispatch waits (up to 3 s)
for a listener's `ack()`, which would stall every other request. Here dispatch runs on worker
threads, bounded by `max_concurrent_requests`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.incidents import report_incident

log = logging.getLogger("tuneloop.bot.http")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

#: Slack's payloads are a few KiB; the largest (a modal submission, a message with 50 blocks
#: of 3,000 characters) stay well under 1 MiB, so a bigger body is not from Slack.
DEFAULT_MAX_BODY_BYTES = 2**20
#: Slack refuses requests older than five minutes; so do we (as SignatureVerifier does).
REPLAY_WINDOW_S = 5 * 60

_SIGNATURE_PREFIX = "v0="
_SIGNATURE_HEX_DIGITS = 64  # SHA-256


class BodyTooLarge(Exception):
    """The request body is over the cap."""


def create_asgi_app(
    app: App,
    *,
    signing_secret: str,
    health: Callable[[], Mapping[str, Any]] | None = None,
    max_concurrent_requests: int = 64,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Starlette:
    """The Starlette app serving `app` (a Bolt app) at EVENTS_PATH and health at HEALTH_PATH.

    `signing_secret` is the Slack app's signing secret. `health` returns a mapping with `ok`
    (bool) and details, all fit to show anyone (HEALTH_PATH answers 200 when ok, else 503);
    if it raises, HEALTH_PATH answers 503 with an error id and logs the details under it.
    `max_body_bytes` caps a request body.
    """
    limiter = anyio.CapacityLimiter(max_concurrent_requests)
    verifier = SignatureVerifier(signing_secret)

    async def slack_events(request: Request) -> Response:
        stamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        problem = _header_problem(stamp, signature, verifier.clock.now())
        if problem is not None:
            return _refuse(request, 401, problem)
        try:
            body = await _read_body(request, max_body_bytes)
        except BodyTooLarge:
            return _refuse(request, 413, f"body over {max_body_bytes} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:  # Slack sends UTF-8; nothing else can carry its signature
            return _refuse(request, 400, "body is not UTF-8")
        if not verifier.is_valid(text, stamp, signature):
            return _refuse(request, 401, "signature does not match")
        bolt_request = _parse(request, text)
        if bolt_request is None:
            return _refuse(request, 400, "signed body is not a Slack payload")
        bolt_response = await anyio.to_thread.run_sync(app.dispatch, bolt_request, limiter=limiter)
        return to_starlette_response(bolt_response)

    async def healthz(_request: Request) -> Response:
        if health is None:
            return JSONResponse({"ok": True})
        try:
            report = dict(await anyio.to_thread.run_sync(health))
        except Exception:  # a bug in the check itself: details in the log only
            incident = report_incident(log, "the health check failed")
            return JSONResponse(
                {"ok": False, "error": "the health check failed", "error_id": incident},
                status_code=503,
            )
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)

    return Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route(HEALTH_PATH, healthz, methods=["GET"]),
        ]
    )


def _header_problem(stamp: str, signature: str, now: float) -> str | None:
    """Why the signature headers alone already refuse the request (None: read the body)."""
    if not stamp or not signature:
        return "signature headers missing"
    if not stamp.isascii() or not stamp.isdigit():
        return "timestamp is not a number"
    if abs(now - int(stamp)) > REPLAY_WINDOW_S:
        return "timestamp outside the replay window"
    digest = signature.removeprefix(_SIGNATURE_PREFIX)
    if (
        not signature.startswith(_SIGNATURE_PREFIX)
        or len(digest) != _SIGNATURE_HEX_DIGITS
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        return "signature is not v0 HMAC-SHA256"
    return None


async def _read_body(request: Request, cap: int) -> bytes:
    """The body, read chunk by chunk and never past `cap` bytes; raises BodyTooLarge."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(request: Request, body: str) -> BoltRequest | None:
    """Bolt's request, or None when the body is not a payload Slack would send."""
    try:
        parsed = BoltRequest(
            body=body,
            query=request.query_params,  # type: ignore[arg-type]
            headers=request.headers,  # type: ignore[arg-type]
        )
    except (ValueError, TypeError, AttributeError):  # not JSON, not an object
        return None
    return parsed if _slack_shaped(parsed.body) else None


def _slack_shaped(body: object) -> bool:
    """Whether the containers Bolt indexes without looking are what Slack sends: an event
    callback's `event` and a view payload's `view` are objects, a block action's `actions` a
    list of objects with an `action_id` (anything else makes Bolt fail with a 500)."""
    if not isinstance(body, dict) or not body:
        return False
    kind = body.get("type")
    if (kind == "event_callback" or "event" in body) and not isinstance(body.get("event"), dict):
        return False
    if kind in ("view_submission", "view_closed") and not isinstance(body.get("view"), dict):
        return False
    if kind == "block_actions":
        actions = body.get("actions")
        return (
            isinstance(actions, list)
            and bool(actions)
            and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
        )
    return True


def _refuse(request: Request, status: int, reason: str) -> Response:
    # One short line, our words only: nothing the client sent is logged.
    client = request.client.host if request.client else "?"
    log.info("refused a request to %s from %s: %s (%d)", EVENTS_PATH, client, reason, status)
    return PlainTextResponse("invalid request", status_code=status)
