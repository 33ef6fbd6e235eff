"""Socket Mode end to end: the local workspace's Socket Mode server and tuneloop's Socket Mode
handler (the one `tuneloop serve` runs), on SQLite and PostgreSQL.

What Slack does to connections (refreshes, drops, stalls), what it does with envelopes nobody
acknowledged (sends them again, to another connection where there is one), and what the bot
must never do across all that: lose a question or answer one twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.bot.conftest import Bot
from tuneloop.local_slack import LocalSlackServer, Workspace
from tuneloop.local_slack.socket_mode import SocketModeServer
from tuneloop.socket_mode import DrainingSocketModeHandler

SOCKET_MODE = pytest.mark.parametrize("slack_transport", ["socket_mode"], indirect=True)


@pytest.fixture
def server(slack_server: LocalSlackServer, monkeypatch: pytest.MonkeyPatch) -> SocketModeServer:
    """The Socket Mode server, with Slack's 3 s acknowledgement deadline cut for speed."""
    monkeypatch.setattr(slack_server.socket_mode, "ack_timeout_s", 0.5)
    return slack_server.socket_mode


def _handler(bot: Bot) -> DrainingSocketModeHandler:
    return bot.driver.handler  # type: ignore[attr-defined, no-any-return]


def _answered_once_each(bot: Bot, asked: list[Any]) -> None:
    for said in asked:
        bot.replies(said)
    bot.settle()
    for said in asked:
        assert len(bot.ws.bot_replies(said.channel, said.thread_ts)) == 1
    assert len(bot.exchanges()) == len(asked)


@SOCKET_MODE
def test_the_app_gets_envelopes_and_acknowledges_each(bot: Bot, server: SocketModeServer) -> None:
    said = bot.ask("How do I book leave?")
    bot.answered(said)
    envelopes = [e for e in server.envelopes if e["type"] == "events_api"]
    # app_mention and message, each in its own envelope, each acknowledged once.
    assert [e["payload"]["event_id"] for e in envelopes] == said.event_ids
    assert {(e["retry_attempt"], e["retry_reason"]) for e in envelopes} == {(0, "")}
    assert len({e["envelope_id"] for e in envelopes}) == 2
    assert [a.envelope_id for a in server.acks] == [e["envelope_id"] for e in envelopes]
    # A command's acknowledgement carries its answer, as Slack shows it.
    answer = bot.driver.command(bot.alice, bot.channel, "help")
    assert answer.status == 200 and "/tuneloop" in answer.json()["text"]
    assert server.envelopes[-1]["accepts_response_payload"] is True


@SOCKET_MODE
@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_a_disconnect_moves_the_app_to_a_new_connection(
    bot: Bot, server: SocketModeServer, reason: Any
) -> None:
    assert server.disconnect(reason) == 1
    server.wait_until(lambda: server.connections_opened == 2, 10, "a new connection")
    server.wait_for_connections(1)
    said = bot.ask("How do I book leave?")
    _answered_once_each(bot, [said])
    assert _handler(bot).link.state == "connected"


@SOCKET_MODE
@pytest.mark.parametrize("drop", ["close", "reset", "stall"])
def test_a_dropped_connection_is_replaced_and_no_question_is_lost_or_answered_twice(
    bot: Bot, server: SocketModeServer, drop: Any
) -> None:
    before = bot.ask("Where is the VPN guide?")
    bot.answered(before)
    assert server.drop(drop) == 1
    # Asked while the connection is down: Slack sends it on the dead connection (a stall) or
    # holds it until the app is back; either way it arrives once the app has reconnected.
    during = server.deliver("events_api", _mention_envelope(bot, "How do I reset my password?"))
    server.wait_until(lambda: server.connections_opened == 2, 15, "a reconnection")
    assert during.wait(15) is not None
    after = bot.ask("How do I book leave?")
    bot.settle()
    asked = [before, after]
    _answered_once_each(bot, [*asked, _said_for(bot, during.payload)])
    assert _handler(bot).link.state == "connected"


@SOCKET_MODE
def test_an_unacknowledged_event_is_sent_again_and_answered_once(
    make_bot: Callable[..., Bot], server: SocketModeServer
) -> None:
    first = make_bot()
    second = make_bot(workspace=first.ws)
    server.wait_for_connections(2)
    # The first instance stops (as on SIGTERM): what reaches it is left unacknowledged.
    assert _handler(first).stop_acknowledging(5)
    asked = [first.ask(f"Question {n} about leave?") for n in range(4)]
    _answered_once_each(second, asked)
    retried = [e for e in server.envelopes if e["type"] == "events_api" and e["retry_attempt"]]
    assert retried and {e["retry_reason"] for e in retried} == {"timeout"}
    assert _handler(first).left_unacknowledged == len(retried)
    # Each event was acknowledged once, by the instance still running (connection 1).
    assert len(server.acks) == sum(len(said.event_ids) for said in asked)
    assert {a.connection for a in server.acks} == {1}


@SOCKET_MODE
def test_two_instances_answer_each_question_once_even_when_slack_sends_it_to_both(
    make_bot: Callable[..., Bot], server: SocketModeServer
) -> None:
    first = make_bot()
    second = make_bot(workspace=first.ws)
    server.wait_for_connections(2)
    asked = [first.ask(f"Question {n} about leave?") for n in range(6)]
    # Slack's retry of each event (its acknowledgement was lost, say) goes to the other one.
    for said in asked:
        event = _mention_event(first, said)
        first.driver.deliver_event(event, event_id=said.event_ids[0], retry_num=1)
    first.settle()
    second.settle()
    links = {a.connection for a in server.acks}
    assert len(links) == 2  # both instances took envelopes
    _answered_once_each(first, asked)


@SOCKET_MODE
def test_link_disabled_stops_the_app_reconnecting(bot: Bot, server: SocketModeServer) -> None:
    server.disconnect("link_disabled")
    handler = _handler(bot)
    server.wait_until(lambda: handler.link.final, 10, "the handler to give up")
    assert handler.link.health() == {
        "slack_connection": "disabled",
        "slack_connection_reason": "Slack turned Socket Mode off for the app (link_disabled)",
    }
    assert server.connections_opened == 1
    assert len(bot.ws.calls_to("apps.connections.open")) == 1


@SOCKET_MODE
def test_a_refused_token_stops_the_app_reconnecting(bot: Bot, server: SocketModeServer) -> None:
    handler = _handler(bot)
    bot.ws.revoked = "app_uninstalled"
    server.drop("close")
    server.wait_until(lambda: handler.link.final, 10, "the handler to give up")
    assert handler.link.health() == {
        "slack_connection": "revoked",
        "slack_connection_reason": "apps.connections.open answered invalid_auth",
    }
    tries = len(bot.ws.calls_to("apps.connections.open"))
    # The monitor runs every ping interval (3 s here): wait for two of its rounds.
    with pytest.raises(TimeoutError):
        server.wait_until(
            lambda: len(bot.ws.calls_to("apps.connections.open")) > tries, 7, "another try"
        )
    assert tries == 2  # the first connection and the one refused try


def _mention_event(bot: Bot, said: Any) -> dict[str, Any]:
    from tuneloop.local_slack import payloads

    return payloads.app_mention_event(bot.ws, said.channel, said.message)


def _mention_envelope(bot: Bot, text: str) -> dict[str, Any]:
    from tuneloop.local_slack import payloads

    message = bot.ws.post(bot.channel, user=bot.alice, text=f"<@{bot.ws.bot.user_id}> {text}")
    return payloads.envelope(bot.ws, payloads.app_mention_event(bot.ws, bot.channel, message))


def _said_for(bot: Bot, envelope: dict[str, Any]) -> Any:
    from tuneloop.local_slack import Said

    event = envelope["event"]
    message = bot.ws.message(event["channel"], event["ts"])
    return Said(event["channel"], message or {}, event_ids=[envelope["event_id"]])


def test_apps_connections_open_takes_the_app_token_and_its_url_serves_once(
    slack_server: LocalSlackServer,
) -> None:
    import websocket
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    ws = Workspace()
    slack_server.workspace = ws
    with_app_token = WebClient(token=ws.app_token, base_url=slack_server.api_url)
    with_bot_token = WebClient(token=ws.bot.token, base_url=slack_server.api_url)
    for call in (
        lambda: with_bot_token.apps_connections_open(app_token=ws.bot.token),
        lambda: with_app_token.chat_postMessage(channel="C1", text="hi"),
    ):
        with pytest.raises(SlackApiError) as refused:
            call()
        assert refused.value.response["error"] == "not_allowed_token_type"
    url = with_app_token.apps_connections_open(app_token=ws.app_token)["url"]
    first = websocket.create_connection(url, timeout=5)
    assert json.loads(first.recv())["type"] == "hello"
    first.close()
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(url, timeout=5)  # a URL is good for one connection
