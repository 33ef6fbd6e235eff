"""Benchmark: Socket Mode against the local workspace, in one run.

1. Reconnection after each kind of drop (`close`: TCP closed without a WebSocket close frame,
   `reset`: TCP reset, `stall`: the connection goes silent both ways), with tuneloop's Socket
   Mode handler at its default ping settings (TUNELOOP_SOCKET_MODE_PING_INTERVAL_SECONDS 3,
   ..._PING_TIMEOUT_SECONDS 1.5): seconds from the drop until a new connection is up, and the
   process's CPU use over that time (a busy loop would show as ~100%).
2. The per-event cost of Socket Mode against HTTP: one Bolt app that acknowledges a mention and
   posts a fixed reply, sent the same events one after another over each transport; the time
   from sending an event to its acknowledgement and to the reply in the thread, and the ratio
   Socket Mode / HTTP.

    python bench/bench_socket_mode.py [--events 200] [--drops 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable

from slack_bolt import App, Say
from slack_sdk import WebClient

from bot.asgi import EVENTS_PATH, create_asgi_app
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace
from tuneloop.local_slack.threaded import ThreadedServer
from tuneloop.settings import load_settings
from tuneloop.slack_link import SlackLink
from tuneloop.socket_mode import DrainingSocketModeHandler

SECRET = "bench-secret"


def bare_app(ws: Workspace, api_url: str) -> App:
    app = App(
        client=WebClient(token=ws.bot.token, base_url=api_url),
        signing_secret=SECRET,
        name="bench",
    )

    @app.event("app_mention")
    def answer(event: dict[str, str], say: Say) -> None:
        say(text="a fixed reply", thread_ts=event["ts"])

    @app.event("message")
    def ignore() -> None:
        pass

    return app


def connect(app: App, ws: Workspace, slack: LocalSlackServer) -> DrainingSocketModeHandler:
    settings = load_settings()
    handler = DrainingSocketModeHandler(
        app,
        ws.app_token,
        link=SlackLink(),
        ping_interval=settings.socket_mode_ping_interval_seconds,
        ping_timeout=settings.socket_mode_ping_timeout_seconds,
    )
    handler.connect()
    slack.socket_mode.wait_for_connections(1)
    return handler


def reconnect_times(slack: LocalSlackServer, drops: int) -> None:
    ws = Workspace()
    slack.workspace = ws
    server = slack.socket_mode
    handler = connect(bare_app(ws, slack.api_url), ws, slack)
    print("reconnection after a dropped connection (default ping 3 s, pong deadline 1.5 s):")
    try:
        for kind in ("close", "reset", "stall"):
            gaps, cpu = [], []
            for _ in range(drops):
                opened = server.connections_opened
                wall, used = time.monotonic(), time.process_time()
                server.drop(kind)  # type: ignore[arg-type]
                server.wait_until(lambda o=opened: server.connections_opened > o, 60, "reconnect")
                server.wait_for_connections(1)
                gap = time.monotonic() - wall
                gaps.append(gap)
                cpu.append((time.process_time() - used) / gap)
            print(
                f"  {kind:6} median {statistics.median(gaps):5.2f} s  max {max(gaps):5.2f} s"
                f"  CPU over the gap {100 * max(cpu):4.1f}% of a core (max)"
            )
    finally:
        handler.close()


def per_event(events: int, send: Callable[[int], tuple[float, float]]) -> tuple[float, float]:
    """Median seconds to the acknowledgement and to the reply, over `events` mentions."""
    send(-1)  # warm up
    acks, replies = [], []
    for n in range(events):
        ack, reply = send(n)
        acks.append(ack)
        replies.append(reply)
    return statistics.median(acks), statistics.median(replies)


def mention_sender(driver: SlackDriver, ws: Workspace) -> Callable[[int], tuple[float, float]]:
    alice = ws.add_user("alice")
    channel = ws.add_channel("bench", members=[alice])

    def send(n: int) -> tuple[float, float]:
        started = time.perf_counter()
        said = driver.mention(alice, channel, f"question {n}")
        acked = time.perf_counter()
        ws.wait_for_bot_replies(channel, said.ts)
        return acked - started, time.perf_counter() - started

    return send


def transport_costs(slack: LocalSlackServer, events: int) -> None:
    ws = Workspace()
    slack.workspace = ws
    app = bare_app(ws, slack.api_url)
    with ThreadedServer(create_asgi_app(app), name="bench-http") as http:
        driver = SlackDriver(ws, http.base_url + EVENTS_PATH, SECRET)
        http_ack, http_reply = per_event(events, mention_sender(driver, ws))
        driver.close()
    handler = connect(app, ws, slack)
    driver = SlackDriver(ws, socket_mode=slack.socket_mode)
    try:
        socket_ack, socket_reply = per_event(events, mention_sender(driver, ws))
    finally:
        handler.close()
        driver.close()
    print(f"per-event cost, {events} mentions one after another (median):")
    print(
        f"  to the acknowledgement: HTTP {1000 * http_ack:6.2f} ms  Socket Mode "
        f"{1000 * socket_ack:6.2f} ms  ratio {socket_ack / http_ack:4.2f}"
    )
    print(
        f"  to the reply:           HTTP {1000 * http_reply:6.2f} ms  Socket Mode "
        f"{1000 * socket_reply:6.2f} ms  ratio {socket_reply / http_reply:4.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--drops", type=int, default=3, help="drops of each kind")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the drops log errors on purpose
    with LocalSlackServer(Workspace()) as slack:
        reconnect_times(slack, args.drops)
        transport_costs(slack, args.events)


if __name__ == "__main__":
    main()
