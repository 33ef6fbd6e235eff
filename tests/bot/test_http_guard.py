"""/slack/events refuses what Slack did not send before it costs anything: signature headers
before the body, a capped body read chunk by chunk, the HMAC before parsing, 400 for a signed
body that is not a Slack payload; requests of another workspace or app are ignored. Through
the real Bolt app served by uvicorn, driven by the local workspace."""

from __future__ import annotations

import json
import logging
import select
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.asgi import EVENTS_PATH, REPLAY_WINDOW_S, create_asgi_app
from tests.bot.conftest import SIGNING_SECRET, Bot
from tuneloop.local_slack import SlackDriver, Workspace
from tuneloop.local_slack.signing import signature, signed_headers
from tuneloop.local_slack.threaded import ThreadedServer

LOUD = "X" * 5000  # what an attacker would like to see in our logs


def test_a_bad_signature_is_refused_before_anything_runs(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = json.dumps({"type": "event_callback", "junk": LOUD}).encode()
    refused = bot.driver.send(body, "application/json", secret="not-the-secret")
    assert refused.status == 401
    missing = bot.driver._http.post(bot.driver.app_url, content=body)
    assert missing.status_code == 401
    assert bot.exchanges() == []
    assert [c.method for c in bot.ws.calls if c.method != "auth.test"] == []
    logged = [record.getMessage() for record in caplog.records]
    assert [line for line in logged if LOUD[:100] in line or len(line) > 300] == []


@pytest.mark.parametrize(
    ("stamp", "why"),
    [
        (-REPLAY_WINDOW_S - 30, "an old request (a replay)"),
        (REPLAY_WINDOW_S + 30, "a request from the future"),
        ("12e3", "a timestamp that is not a number"),
        ("", "no timestamp"),
    ],
)
def test_a_timestamp_outside_the_replay_window_is_refused(
    bot: Bot, stamp: int | str, why: str
) -> None:
    if isinstance(stamp, int):  # seconds from now, when the request is sent
        stamp = str(int(time.time()) + stamp)
    said = bot.ws.post(bot.channel, user=bot.alice, text=f"<@{bot.ws.bot.user_id}> hi")
    from tuneloop.local_slack import payloads

    body = json.dumps(
        payloads.envelope(bot.ws, payloads.app_mention_event(bot.ws, bot.channel, said))
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(SIGNING_SECRET, stamp, body),
    }
    answer = bot.driver._http.post(bot.driver.app_url, content=body, headers=headers)
    assert answer.status_code == 401, why
    assert bot.exchanges() == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"text"', "application/json"),
        (b"", "application/json"),
        (b"\xff\xfe\xfd", "application/json"),
        (b"payload=%7B", "application/x-www-form-urlencoded"),
        (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
    ],
)
def test_a_signed_body_that_is_not_a_slack_payload_is_400(
    bot: Bot, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = bot.driver.send(body, content_type)
    assert answer.status == 400
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a bad body"


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "event_callback"},
        {"type": "event_callback", "event": "not an object"},
        {"type": "event_callback", "event": {"type": "app_mention"}},
        {"type": "event_callback", "event": {"type": "message", "channel": 5}},
        {"type": "block_actions"},
        {"type": "block_actions", "actions": [{}]},
        {"type": "block_actions", "actions": [{"action_id": "x"}], "team": {"id": ["T1"]}},
        {"type": "view_submission", "view": None},
        {"type": "view_closed", "view": "V1"},
    ],
)
def test_odd_but_signed_payloads_never_get_a_500(bot: Bot, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    if payload["type"] == "event_callback":
        answer = bot.driver.send(body, "application/json")
    else:
        form = urlencode({"payload": json.dumps(payload)}).encode()
        answer = bot.driver.send(form, "application/x-www-form-urlencoded")
    assert answer.status < 500
    bot.settle()


class CountingApp:
    """Counts the body bytes the wrapped ASGI app pulled from the server."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.received = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            self.received += len(message.get("body", b""))
            return message

        await self.inner(scope, counted, send)


@pytest.fixture
def counted(bot: Bot) -> Iterator[tuple[CountingApp, int]]:
    app = CountingApp(create_asgi_app(bot.app, signing_secret=SIGNING_SECRET, max_body_bytes=2**16))
    with ThreadedServer(app, name="bot-counted") as server:
        yield app, server.port


def _raw_post(port: int, head: dict[str, str], body_chunks: Iterator[bytes]) -> int | None:
    """POST over a raw socket, sending chunks until the server answers or stops listening;
    the status it answered (None if it closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        lines = [f"POST {EVENTS_PATH} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in head.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        for chunk in body_chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # answered (or closed) before the whole body was sent
            try:
                sock.sendall(chunk)
            except OSError:
                break
        try:
            while b"\r\n" not in answer:
                more = sock.recv(4096)
                if not more:
                    break
                answer += more
        except OSError:
            pass
    return int(answer.split()[1]) if answer.startswith(b"HTTP/1.1") else None


def _chunks(total: int, size: int = 2**16, *, chunked: bool = False) -> Iterator[bytes]:
    block = b"A" * size
    for _ in range(total // size):
        yield (b"%x\r\n" % size + block + b"\r\n") if chunked else block
    if chunked:
        yield b"0\r\n\r\n"


def test_a_64_mb_unsigned_body_is_refused_unread(counted: tuple[CountingApp, int]) -> None:
    app, port = counted
    status = _raw_post(
        port,
        {"Content-Length": str(64 * 2**20), "Content-Type": "application/json"},
        _chunks(64 * 2**20),
    )
    assert status == 401
    assert app.received == 0


def test_a_body_over_the_cap_is_refused_from_its_length_unread(
    counted: tuple[CountingApp, int],
) -> None:
    app, port = counted
    headers = signed_headers(SIGNING_SECRET, b"whatever")  # a valid-looking signature
    head = {**headers, "Content-Length": str(64 * 2**20), "Content-Type": "application/json"}
    assert _raw_post(port, head, _chunks(64 * 2**20)) == 413
    assert app.received == 0


def test_a_chunked_body_is_read_only_up_to_the_cap(counted: tuple[CountingApp, int]) -> None:
    app, port = counted
    headers = signed_headers(SIGNING_SECRET, b"whatever")
    head = {**headers, "Transfer-Encoding": "chunked", "Content-Type": "application/json"}
    assert _raw_post(port, head, _chunks(64 * 2**20, chunked=True)) == 413
    assert 2**16 < app.received <= 2**16 + 2**17  # the cap, plus at most what was in flight


def test_a_body_under_the_cap_is_served(counted: tuple[CountingApp, int], bot: Bot) -> None:
    _, port = counted
    driver = SlackDriver(bot.ws, f"http://127.0.0.1:{port}{EVENTS_PATH}", SIGNING_SECRET)
    try:
        said = driver.mention(bot.alice, bot.channel, "How do I book leave?")
        assert [r.status for r in said.responses] == [200, 200]
        bot.replies(said)
    finally:
        driver.close()


# --- another workspace or app -------------------------------------------------------------------
def _stranger(bot: Bot, *, team_id: str) -> tuple[Workspace, SlackDriver, str, str]:
    """A workspace whose app (another app id) sends, signed with our secret, to our bot."""
    other = Workspace(team_id=team_id)
    user = other.add_user("eve")
    channel = other.add_channel("general", members=[user, other.bot.user_id])
    driver = SlackDriver(other, bot.driver.app_url, SIGNING_SECRET)
    bot.closers.append(driver.close)
    return other, driver, user, channel


@pytest.mark.parametrize("team_id", ["T0OTHER01", "T0LOCAL01"], ids=["other-team", "other-app"])
def test_requests_of_another_team_or_app_are_ignored(bot: Bot, team_id: str) -> None:
    other, driver, eve, channel = _stranger(bot, team_id=team_id)
    said = driver.mention(eve, channel, "How do I book leave?")
    assert [r.status for r in said.responses] == [200, 200]
    command = driver.command(eve, channel, "status")
    assert command.status == 200 and command.text == ""
    bot.settle()
    assert bot.exchanges() == []
    assert other.ephemerals == [] and other.bot_replies(channel, said.ts) == []
    assert [c.method for c in bot.ws.calls if c.method != "auth.test"] == []


def test_our_own_requests_still_pass_once_the_ids_are_learned(bot: Bot) -> None:
    said = bot.ask("How do I book leave?")
    assert bot.replies(said)
    assert sum(c.method == "auth.test" for c in bot.ws.calls) <= 2  # Bolt's and ours, once each
