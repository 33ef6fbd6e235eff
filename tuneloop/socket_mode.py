"""The bot over Socket Mode: Bolt's websocket-client adapter, tuned to notice a dead connection
in seconds, to stop acknowledging once the process stops, and to give up cleanly when the app
is removed.

Why websocket-client: slack_sdk's built-in client reads a connection closed without a close
frame as an endless stream of empty reads (a busy loop) until its stale check fires, about a
minute later. websocket-client (`run_forever` with `ping_interval` and `ping_timeout`) ends the
session at once on a close or a reset and within `ping_interval + ping_timeout` on a silent
stall; slack_sdk then asks `apps.connections.open` for a new URL. The aiohttp and websockets
adapters need Bolt's AsyncApp, and the bot is a sync App.

Three things are added to the adapter here:
- each WebSocket session is run once: slack_sdk would otherwise run a closed session again every
  half second, against a URL that was good for one connection;
- reconnections back off (1 s doubling to 30 s) when Slack cannot be reached, and stop for good
  when `apps.connections.open` refuses the token (`invalid_auth`, `token_revoked`, ...) or Slack
  sends `disconnect` with `link_disabled`: one clear log line and `SlackLink` says why, instead
  of a reconnect storm;
- `stop_acknowledging()`: from then on envelopes are left unacknowledged, so Slack sends them to
  another connection or again later; it returns once every envelope already taken has been
  acknowledged.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.websocket_client import SocketModeClient
from websocket import WebSocketApp, WebSocketTimeoutException

from tuneloop.slack_link import SlackLink

log = logging.getLogger("tuneloop.socket_mode")

#: `apps.connections.open` errors that no retry can fix.
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0


class TunedSocketModeClient(SocketModeClient):
    """slack_sdk's websocket-client Socket Mode client with a pong deadline, backoff, and
    final states (see the module's docstring). `ping_interval` > `ping_timeout` > 0, seconds."""

    def __init__(
        self,
        app_token: str,
        *,
        link: SlackLink,
        ping_interval: float,
        ping_timeout: float,
        **kwargs: Any,
    ) -> None:
        if not 0 < ping_timeout < ping_interval:
            raise ValueError("ping_timeout must be above 0 and below ping_interval")
        self.link = link
        self.ping_timeout = ping_timeout
        self._last_run: WebSocketApp | None = None
        self._failures = 0
        self._next_attempt = 0.0
        super().__init__(app_token, ping_interval=ping_interval, **kwargs)
        self.on_open_listeners.append(lambda _ws: self._opened())
        self.on_error_listeners.append(self._failed)
        self.on_close_listeners.append(lambda _ws: self._closed())

    def _opened(self) -> None:
        self._failures = 0
        self.link.set("connected")

    def _failed(self, session: WebSocketApp, error: Exception) -> None:
        if isinstance(error, WebSocketTimeoutException) and session.sock is not None:
            # No pong: the peer is gone. A closing handshake would wait 3 s for its answer.
            session.sock.shutdown()

    def _closed(self) -> None:
        if not self.closed:
            self.link.set("reconnecting")

    def _run_current_session(self) -> None:
        session = self.current_session
        if session is None or session is self._last_run or self.closed:
            return
        self._last_run = session
        try:
            session.run_forever(ping_interval=self.ping_interval, ping_timeout=self.ping_timeout)
        except Exception:
            log.exception("the Socket Mode session failed")
            session.close()

    def connect_to_new_endpoint(self, force: bool = False) -> None:
        if self.closed or self.link.final:
            return
        if not force and time.monotonic() < self._next_attempt:
            return
        if not force and self.current_session is not self._last_run:
            return  # a session not yet running is new, not dead (slack_sdk would replace it)
        try:
            super().connect_to_new_endpoint(force=force)
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if code in AUTH_ERRORS:
                self._give_up("revoked", f"apps.connections.open answered {code}")
            else:
                self._back_off(f"apps.connections.open answered {code}")
        except Exception as error:  # network errors: Slack unreachable for now
            self._back_off(f"{type(error).__name__}: {error}")

    def _back_off(self, why: str) -> None:
        delay = min(BACKOFF_MAX_S, BACKOFF_START_S * 2**self._failures)
        self._failures += 1
        delay *= random.uniform(0.8, 1.2)  # several instances must not retry in step
        self._next_attempt = time.monotonic() + delay
        self.link.set("reconnecting", why)
        log.warning("could not reconnect to Slack (%s); next try in %.1f s", why, delay)

    def _give_up(self, state: Any, reason: str) -> None:
        self.auto_reconnect_enabled = self.default_auto_reconnect_enabled = False
        self.link.lost(state, reason)
        self.disconnect()

    def enqueue_message(self, message: str) -> None:
        if '"disconnect"' in message:
            try:
                reason = json.loads(message).get("reason")
            except ValueError:
                reason = None
            if reason == "link_disabled":
                self._give_up(
                    "disabled", "Slack turned Socket Mode off for the app (link_disabled)"
                )
                return
        super().enqueue_message(message)


class DrainingSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode adapter over `TunedSocketModeClient`, which can stop acknowledging."""

    def __init__(
        self,
        app: App,
        app_token: str,
        *,
        link: SlackLink,
        ping_interval: float,
        ping_timeout: float,
        concurrency: int = 10,
    ) -> None:
        self.app = app
        self.app_token = app_token
        self.link = link
        self.client = TunedSocketModeClient(
            app_token,
            link=link,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            logger=app.logger,
            web_client=app.client,
            concurrency=concurrency,
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]
        self._taking = threading.Condition()
        self._stopping = False
        self._in_hand = 0
        self.left_unacknowledged = 0

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        with self._taking:
            if self._stopping:
                self.left_unacknowledged += 1
                log.info(
                    "stopping: envelope %s (%s) left for Slack to resend", req.envelope_id, req.type
                )
                return
            self._in_hand += 1
        try:
            super().handle(client, req)
        finally:
            with self._taking:
                self._in_hand -= 1
                self._taking.notify_all()

    def stop_acknowledging(self, timeout_s: float) -> bool:
        """Take no new envelope; wait (up to `timeout_s`) until those taken are acknowledged.
        True if they all were."""
        with self._taking:
            self._stopping = True
            return self._taking.wait_for(lambda: self._in_hand == 0, timeout_s)
