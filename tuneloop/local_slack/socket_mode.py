"""Slack's Socket Mode, played by the local workspace: the app connects out, Slack pushes.

`apps.connections.open` (called with the app-level `xapp-` token) hands the app a one-use
WebSocket URL on this server. Once connected, the app gets `hello`, then envelopes
(`events_api`, `interactive`, `slash_commands`), each with its own `envelope_id`, and must
acknowledge each by sending `{"envelope_id": ..., "payload": ...}` back (the payload is the
modal's or the command's answer, where `accepts_response_payload` is true). As Slack does:

- events are spread over the open connections (Slack allows an app up to 10);
- an `events_api` envelope not acknowledged within `ack_timeout_s` (Slack: 3 s), or sent on a
  connection that died before it was acknowledged, is sent again on another connection (the
  next one to open, if there is no other), with `retry_attempt` and `retry_reason` (at most
  `max_retries` times); an
  interaction or a command that is not acknowledged is not sent again (the person sees an
  error in Slack and tries again);
- `disconnect(reason)` sends `{"type": "disconnect", "reason": ...}` (`refresh_requested`,
  `warning`, `link_disabled`) and closes that connection `close_after_s` later unless the app
  has moved to a new one first; nothing more is sent on it meanwhile.

`drop(kind)` breaks connections the way networks do, to test the app's recovery: `close`
ends the TCP connection without a WebSocket close frame (a proxy or a restarted server),
`reset` sends a TCP reset, `stall` keeps the connection open but silent in both directions
(a dead NAT entry or a hung load balancer): envelopes sent on it are lost, and it is cut once
the app has opened a new connection, its unacknowledged envelopes sent again.

It is a stand-in for development, demos and tests, not Slack. https://docs.slack.dev/apis/events-api/using-socket-mode
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tuneloop.local_slack.ids import secret_token
from tuneloop.local_slack.workspace import Json, Workspace

Kind = Literal["events_api", "interactive", "slash_commands"]
Drop = Literal["close", "reset", "stall"]
DisconnectReason = Literal["refresh_requested", "warning", "link_disabled"]

LINK_PATH = "/link/"
#: Interactions whose acknowledgement can carry an answer (a modal's errors, a new view).
_RESPONSE_PAYLOAD_TYPES = frozenset({"view_submission", "block_suggestion"})


@dataclass(frozen=True)
class Ack:
    """An acknowledgement as the app sent it, and the connection it came on."""

    envelope_id: str
    payload: Json | None
    connection: int


@dataclass
class Delivery:
    """One thing Slack must get to the app: sent as one or more envelopes until acknowledged."""

    kind: Kind
    payload: Json
    accepts_response_payload: bool
    envelope_ids: list[str] = field(default_factory=list)
    ack: Ack | None = None
    #: Why it was given up on (an interaction nobody acknowledged, retries used up).
    failed: str | None = None
    _settled: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def attempts(self) -> int:
        return len(self.envelope_ids)

    def wait(self, timeout: float = 30.0) -> Ack | None:
        """The acknowledgement, or None once the delivery was given up on."""
        if not self._settled.wait(timeout):
            raise TimeoutError(f"no acknowledgement or failure of {self.kind} after {timeout}s")
        return self.ack


@dataclass
class _Link:
    id: int
    conn: ServerConnection
    opened_at: float
    told_to_disconnect: bool = False
    stalled: bool = False
    unacked: set[str] = field(default_factory=set)

    @property
    def usable(self) -> bool:
        # Slack cannot tell a stalled connection from a quiet one: it keeps sending on it.
        return not self.told_to_disconnect


@dataclass
class _Sent:
    delivery: Delivery
    link: int
    retry_attempt: int


class SocketModeServer:
    """The Socket Mode endpoint of whichever workspace `workspace_of()` returns.

    Runs its own event loop in a background thread; every public method is thread-safe.
    `acks` lists every acknowledgement in arrival order; `envelopes` every envelope sent.
    """

    def __init__(
        self,
        workspace_of: Callable[[], Workspace],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ack_timeout_s: float = 3.0,
        max_retries: int = 3,
        close_after_s: float = 10.0,
    ) -> None:
        self._workspace_of = workspace_of
        self.host = host
        self.port = port
        self.ack_timeout_s = ack_timeout_s
        self.max_retries = max_retries
        self.close_after_s = close_after_s
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reset_state()

    def _reset_state(self) -> None:
        self._tickets: set[str] = set()
        self._links: dict[int, _Link] = {}
        self._next_link = 0
        self._round_robin = 0
        self._sent: dict[str, _Sent] = {}
        self._waiting: list[tuple[Delivery, int, str]] = []
        self.acks: list[Ack] = []
        self.envelopes: list[Json] = []
        self.connections_opened = 0
        self.refused: list[str] = []

    # --- life -------------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> SocketModeServer:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def main() -> None:
                self._server = await serve(
                    self._serve,
                    self.host,
                    self.port,
                    process_request=self._check_ticket,
                    ping_interval=None,  # the app pings; Slack answers
                    close_timeout=1,
                )
                self.port = self._server.sockets[0].getsockname()[1]
                started.set()
                await self._server.wait_closed()

            try:
                loop.run_until_complete(main())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="local-slack-socket-mode", daemon=True)
        self._thread.start()
        if not started.wait(timeout_s):
            raise RuntimeError(f"the Socket Mode server did not start on {self.host}")
        return self

    def stop(self) -> None:
        if self._loop is None or self._server is None:
            return
        self._call(self._abort_all)
        self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = None

    def reset(self) -> None:
        """Forget every connection and envelope (tests hand the server a fresh workspace)."""
        self._call(self._abort_all)
        with self._changed:
            self._reset_state()
            self._changed.notify_all()

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the server's loop and return its result."""
        if self._loop is None:
            return fn()

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    # --- connecting -------------------------------------------------------------------------
    def issue_url(self) -> str:
        """A one-use WebSocket URL, as `apps.connections.open` returns."""
        ticket = secret_token("ticket")
        with self._changed:
            self._tickets.add(ticket)
        return f"ws://{self.host}:{self.port}{LINK_PATH}?ticket={ticket}"

    def _check_ticket(self, conn: ServerConnection, request: Request) -> Response | None:
        url = urlparse(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._changed:
            if url.path == LINK_PATH and ticket in self._tickets:
                self._tickets.discard(ticket)
                return None
            self.refused.append(request.path)
        return conn.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")

    async def _serve(self, conn: ServerConnection) -> None:
        # Slack notices a stalled connection in the end; here, once the app has a new one.
        for stalled in [each for each in self._links.values() if each.stalled]:
            stalled.conn.transport.abort()
        with self._changed:
            link = _Link(self._next_link, conn, time.monotonic())
            self._next_link += 1
            self._links[link.id] = link
            self.connections_opened += 1
            count = sum(1 for each in self._links.values() if not each.stalled)
            self._changed.notify_all()
        ws = self._workspace_of()
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "local-slack", "approximate_connection_time": 3600},
            "connection_info": {"app_id": ws.bot.app_id},
        }
        try:
            await conn.send(json.dumps(hello))
            self._flush_waiting()
            async for message in conn:
                self._received(link, message)
        except ConnectionClosed:
            pass
        finally:
            self._lost(link)

    # --- delivering -------------------------------------------------------------------------
    def deliver(
        self, kind: Kind, payload: Json, *, retry_attempt: int = 0, retry_reason: str = ""
    ) -> Delivery:
        """Send `payload` to the app as Slack would; `Delivery.wait()` for its acknowledgement.
        `retry_attempt`/`retry_reason` play Slack's own retry of an event (tests of dedupe)."""
        accepts = kind == "slash_commands" or (
            kind == "interactive" and payload.get("type") in _RESPONSE_PAYLOAD_TYPES
        )
        delivery = Delivery(kind, payload, accepts)
        self._call(lambda: self._send(delivery, retry_attempt=retry_attempt, reason=retry_reason))
        return delivery

    def _usable_links(self, avoid: int | None = None) -> list[_Link]:
        """Where to send; a retry goes to another connection than the one that failed it, and
        waits for one where there is no other."""
        return [link for link in self._links.values() if link.usable and link.id != avoid]

    def _send(
        self, delivery: Delivery, *, retry_attempt: int, reason: str, avoid: int | None = None
    ) -> None:
        links = self._usable_links(avoid)
        if not links:
            with self._changed:  # sent once a connection opens
                self._waiting.append((delivery, retry_attempt, reason))
            return
        link = links[self._round_robin % len(links)]
        self._round_robin += 1
        envelope_id = str(uuid.uuid4())
        envelope: Json = {
            "envelope_id": envelope_id,
            "type": delivery.kind,
            "payload": delivery.payload,
            "accepts_response_payload": delivery.accepts_response_payload,
        }
        if delivery.kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=reason)
        with self._changed:
            delivery.envelope_ids.append(envelope_id)
            self._sent[envelope_id] = _Sent(delivery, link.id, retry_attempt)
            link.unacked.add(envelope_id)
            self.envelopes.append(envelope)
            self._changed.notify_all()
        self._spawn(self._send_text(link, json.dumps(envelope)))
        asyncio.get_running_loop().call_later(self.ack_timeout_s, self._ack_timed_out, envelope_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # the loop keeps only weak references to its tasks
        task.add_done_callback(self._tasks.discard)

    async def _send_text(self, link: _Link, text: str) -> None:
        if link.stalled:
            return  # lost on the way, as on a stalled connection
        with contextlib.suppress(ConnectionClosed, OSError):
            await link.conn.send(text)

    def _flush_waiting(self) -> None:
        with self._changed:
            waiting, self._waiting = self._waiting, []
        for delivery, attempt, reason in waiting:
            self._send(delivery, retry_attempt=attempt, reason=reason)

    def _retry_or_fail(self, envelope_id: str, reason: str) -> None:
        sent = self._sent.get(envelope_id)
        if sent is None:
            return
        delivery = sent.delivery
        latest = delivery.envelope_ids[-1] == envelope_id
        if delivery.ack is not None or delivery.failed is not None or not latest:
            return
        if delivery.kind != "events_api":
            self._settle(delivery, failed=f"not acknowledged ({reason})")
        elif sent.retry_attempt >= self.max_retries:
            self._settle(delivery, failed=f"not acknowledged after {self.max_retries} retries")
        else:
            self._send(
                delivery, retry_attempt=sent.retry_attempt + 1, reason=reason, avoid=sent.link
            )

    def _ack_timed_out(self, envelope_id: str) -> None:
        self._retry_or_fail(envelope_id, "timeout")

    def _settle(
        self, delivery: Delivery, *, ack: Ack | None = None, failed: str | None = None
    ) -> None:
        with self._changed:
            delivery.ack, delivery.failed = ack, failed
            delivery._settled.set()
            self._changed.notify_all()

    def _received(self, link: _Link, message: str | bytes) -> None:
        try:
            answer = json.loads(message)
        except ValueError:
            return
        envelope_id = answer.get("envelope_id") if isinstance(answer, dict) else None
        if not isinstance(envelope_id, str):
            return
        payload = answer.get("payload")
        ack = Ack(envelope_id, payload if isinstance(payload, dict) else None, link.id)
        with self._changed:
            self.acks.append(ack)
            for each in self._links.values():
                each.unacked.discard(envelope_id)
            self._changed.notify_all()
        sent = self._sent.get(envelope_id)
        if sent is not None and sent.delivery.ack is None and sent.delivery.failed is None:
            self._settle(sent.delivery, ack=ack)

    def _lost(self, link: _Link) -> None:
        with self._changed:
            self._links.pop(link.id, None)
            unacked = sorted(link.unacked)
            self._changed.notify_all()
        for envelope_id in unacked:
            # Sent on a connection that died before the app acknowledged it.
            self._retry_or_fail(envelope_id, "connection_lost")

    # --- what Slack does to connections -----------------------------------------------------
    def disconnect(self, reason: DisconnectReason = "refresh_requested") -> int:
        """Tell every open connection to go; returns how many were told."""

        def tell() -> int:
            told = [link for link in self._links.values() if not link.told_to_disconnect]
            message = json.dumps(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "local-slack"}}
            )
            loop = asyncio.get_running_loop()
            for link in told:
                link.told_to_disconnect = True
                self._spawn(self._send_text(link, message))
                loop.call_later(self.close_after_s, self._close_if_open, link)
            return len(told)

        return int(self._call(tell))

    def _close_if_open(self, link: _Link) -> None:
        if link.id in self._links:
            self._spawn(link.conn.close(1000, "disconnect"))

    def drop(self, kind: Drop) -> int:
        """Break every open connection as a network would; returns how many were broken."""

        def break_them() -> int:
            links = [link for link in self._links.values() if not link.stalled]
            for link in links:
                transport = link.conn.transport
                if kind == "stall":
                    link.stalled = True
                    transport.pause_reading()
                    continue
                if kind == "reset":
                    sock = transport.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                transport.abort()
            return len(links)

        return int(self._call(break_them))

    def _abort_all(self) -> None:
        for link in list(self._links.values()):
            link.conn.transport.abort()

    # --- looking ----------------------------------------------------------------------------
    def open_connections(self) -> int:
        """Connections that work: open, not told to go, not stalled."""
        with self._changed:
            return sum(1 for link in self._links.values() if link.usable and not link.stalled)

    def wait_for_connections(self, count: int = 1, timeout: float = 10.0) -> None:
        """Block until `count` usable connections are open."""
        self.wait_until(lambda: self.open_connections() >= count, timeout, f"{count} connection(s)")

    def wait_until(self, probe: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = probe()
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
                self._changed.wait(left)
