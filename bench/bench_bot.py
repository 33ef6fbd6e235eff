"""Benchmark: the Slack bot's reply path, against the local Slack workspace.

Prints, in one run, the two ratios of the Slack bot issue:

1. The per-event cost of tuneloop's full reply path with an instant model (prompt under the
   token budget, exchange claimed and recorded in SQLite, the registry's active model,
   streamed reply with feedback controls) divided by that of a bare Bolt app that only posts
   a fixed reply. The instant model is a canned answer streamed through the real `openai`
   SDK as OpenAI streams it: the model's own server work is not the bot's. The same path
   answered by the OpenAI stand-in in process (whose retrieval over the taught examples is
   about 2.4 ms a call here) is printed too. Both apps run behind the same HTTP layer
   (uvicorn on 127.0.0.1), receive the same signed events from the same driver and call the
   same Web API stub. Target: at most 2.0. With the default settings an instant reply sets
   no "is thinking..." status (it shows only after TUNELOOP_STATUS_DELAY_SECONDS); the same
   path with the status set on every reply (delay 0) is measured in the same rounds and
   printed too.
2. The wall time for 200 people asking at the same moment, each in their own channel, with
   1 s of model latency, divided by 1 s. Target: at most 1.5. Printed with the slowest and
   the median time from a question to its finished answer, and checked: every question
   answered exactly once (one reply in its thread, one exchange). Measured on one real
   `tuneloop serve` process (HTTP mode, SQLite), and on two `tuneloop serve` replicas sharing
   one PostgreSQL database (`--database-url`, default $TEST_DATABASE_URL; skipped without
   one): Slack's two events for each mention, `app_mention` and `message`, go to different
   replicas (alternating), as a load balancer may send them, so the claim in the database
   decides who answers. The model (the OpenAI stand-in over HTTP, 1 s per chat completion)
   runs in a process of its own; this process plays Slack (the local workspace's Web API and
   the people, who all ask the moment every one of their threads is ready). The CPU seconds
   each process spent meanwhile are printed too: on a small shared machine the processes
   compete for the same cores, and the wall time says as much about the machine as the bot.
   Two floors are measured first, in the same run: the same job (stream the answer, post it
   in the thread) done by a bare sync Bolt `App` with the `openai` SDK behind the same HTTP
   layer, and by a bare `AsyncApp` with `AsyncOpenAI` behind Bolt's ASGI adapter (skipped
   when aiohttp, which only that floor needs, is not installed); tuneloop's wall time is
   printed divided by each.

    TIKTOKEN_CACHE_DIR=../shared/tiktoken python bench/bench_bot.py [--events 200]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx2
from openai import OpenAI
from slack_bolt import App, Say
from slack_sdk import WebClient
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot import build_app
from bot.asgi import EVENTS_PATH, HEALTH_PATH, create_asgi_app
from curation.db import Database, make_engine, upgrade
from curation.models import Exchange, ExchangeStatus
from tuneloop.local_openai import LocalOpenAI, instant_clock
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace, payloads
from tuneloop.local_slack.signing import signed_headers
from tuneloop.local_slack.threaded import ThreadedServer
from tuneloop.serve import bot_config
from tuneloop.settings import load_settings
from tuneloop.wiring import (
    active_model_lookup,
    build_cycle_runner,
    open_store,
    retraining_control,
)

_SHARED_TIKTOKEN = Path(__file__).resolve().parents[2] / "shared" / "tiktoken"
if _SHARED_TIKTOKEN.is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_SHARED_TIKTOKEN))

SECRET = "bench-signing-secret"
COST_TARGET = 2.0
CONCURRENCY_TARGET = 1.5
CONVERSATIONS = 200
MODEL_LATENCY_S = 1.0


def bare_app(client: WebClient) -> App:
    """The baseline: acknowledge, post one fixed reply in the thread, nothing else."""
    app = App(
        client=client,
        signing_secret=SECRET,
        listener_executor=ThreadPoolExecutor(16),
        name="bare",
    )

    @app.event("app_mention")
    def reply(event: dict[str, Any], say: Say) -> None:
        say(text="A fixed reply.", thread_ts=event["ts"])

    @app.event("message")
    def ignore() -> None:
        return None

    return app


INSTANT_ANSWER = "To book leave, open the HR portal and choose *Leave*."


def _instant_answer(request: httpx2.Request) -> httpx2.Response:
    """A model that answers at once and costs nothing: one chat completion, streamed as
    OpenAI's server-sent events when asked to stream. Its server's own work is not the bot's."""
    created = {"id": "chatcmpl-bench", "created": 0, "model": "gpt-4.1-mini"}
    if not json.loads(request.content).get("stream"):
        message = {"role": "assistant", "content": INSTANT_ANSWER}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return httpx2.Response(
            200, json={**created, "object": "chat.completion", "choices": [choice]}
        )
    chunks = [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": INSTANT_ANSWER},
            "finish_reason": None,
        },
        {"index": 0, "delta": {}, "finish_reason": "stop"},
    ]
    events = [
        json.dumps({**created, "object": "chat.completion.chunk", "choices": [c]}) for c in chunks
    ]
    body = "".join(f"data: {event}\n\n" for event in [*events, "[DONE]"]).encode()
    return httpx2.Response(200, headers={"Content-Type": "text/event-stream"}, content=body)


def tuneloop_app(
    client: WebClient,
    folder: Path,
    database_url: str | None = None,
    *,
    model: str = "instant",
    **overrides: Any,
) -> App:
    """The real bot as `tuneloop serve` composes it, on a fresh SQLite store (or on
    `database_url`, migrated). `model` "instant" answers through the real `openai` SDK from
    `_instant_answer`; "stand-in" from the OpenAI stand-in in process (its retrieval over the
    taught examples costs about 2.4 ms a call on this machine, which a real model's server
    pays, not the bot)."""
    settings = load_settings(
        data_dir=folder,
        database_url=database_url or f"sqlite:///{folder / 'bench.db'}",
        **overrides,
    )
    store = open_store(settings)
    stand_in = LocalOpenAI(folder / "openai", clock=instant_clock())
    model_client = stand_in.client(max_retries=0)
    if model == "instant":
        model_client = OpenAI(
            base_url="http://instant-model.invalid/v1",
            api_key="sk-bench",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(_instant_answer)),
        )
    runner = build_cycle_runner(settings, store.db, client=stand_in.client(max_retries=0))
    active_model = active_model_lookup(settings, store.db, registry=runner.ctx.registry)
    return build_app(
        store=store,
        openai_client=model_client,
        active_model=active_model,
        system_prompt="You are the Fernhill help desk.",
        control=retraining_control(settings, store.db, runner=runner),
        client=client,
        signing_secret=SECRET,
        config=bot_config(settings),
    )


@contextmanager
def serving(app: App) -> Iterator[str]:
    with ThreadedServer(create_asgi_app(app, signing_secret=SECRET), name="bench-app") as server:
        yield server.base_url + EVENTS_PATH


def per_event_ms(slack: LocalSlackServer, folder: Path, events: int, rounds: int) -> dict[str, Any]:
    """Mean time from a mention to its finished reply, for each app, in alternating rounds.

    The apps serve at once (each on its own port, same workspace and bot token) and take
    turns, so background load on the machine falls on all alike; each ratio is the median of
    the per-round ratios to the bare app.
    """
    ws = Workspace()
    slack.workspace = ws
    alice = ws.add_user("alice")
    (folder / "status").mkdir()

    def client() -> WebClient:
        return WebClient(token=ws.bot.token, base_url=slack.api_url)

    (folder / "stand-in").mkdir()
    apps = {
        "bare": bare_app(client()),
        "tuneloop": tuneloop_app(client(), folder),
        "status": tuneloop_app(client(), folder / "status", status_delay_seconds=0),
        "stand-in": tuneloop_app(client(), folder / "stand-in", model="stand-in"),
    }
    channels = {name: ws.add_channel(f"bench-{name}", members=[alice]) for name in apps}
    times: dict[str, list[float]] = {name: [] for name in apps}
    with ExitStack() as stack:
        drivers = {
            name: SlackDriver(ws, stack.enter_context(serving(app)), SECRET)
            for name, app in apps.items()
        }
        for round_number in range(rounds + 1):  # round 0 warms them up
            for name, driver in drivers.items():
                count = events if round_number else max(10, events // 10)
                started = time.perf_counter()
                for i in range(count):
                    said = driver.mention(alice, channels[name], f"How do I book leave, {i}?")
                    ws.wait_for_bot_replies(channels[name], said.ts, timeout=30)
                if round_number:
                    times[name].append((time.perf_counter() - started) / count * 1000)
        for driver in drivers.values():
            driver.close()

    def ratio(name: str) -> float:
        return statistics.median(
            full / bare for bare, full in zip(times["bare"], times[name], strict=True)
        )

    return {
        "bare_ms": statistics.median(times["bare"]),
        "tuneloop_ms": statistics.median(times["tuneloop"]),
        "ratio": ratio("tuneloop"),
        "status_at_once_ms": statistics.median(times["status"]),
        "status_at_once_ratio": ratio("status"),
        "stand_in_model_ms": statistics.median(times["stand-in"]),
        "stand_in_model_ratio": ratio("stand-in"),
    }


@dataclass
class Crowd:
    """What CONVERSATIONS simultaneous questions came to."""

    wall_s: float
    slowest_s: float
    median_s: float
    replies: int  # bot replies in the questions' threads (CONVERSATIONS: once each)
    answered_once: int  # questions with one exchange, answered
    #: CPU seconds each process spent while the questions were answered (Linux only).
    cpu_s: dict[str, float] = field(default_factory=dict)


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` so far, from /proc; 0.0 where there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _answered_once(database_url: str, questions: list[tuple[str, str]]) -> int:
    """How many of `questions` (channel, ts) have exactly one exchange, answered."""
    db = Database.open(database_url)
    try:
        with db.read_session() as session:
            rows = session.execute(
                select(Exchange.channel_id, Exchange.message_ts, Exchange.status)
            ).all()
    finally:
        db.dispose()
    answered = {(channel, ts) for channel, ts, status in rows if status is ExchangeStatus.ANSWERED}
    return sum(1 for question in questions if question in answered)


@contextmanager
def private_schema(base_url: str) -> Iterator[str]:
    """A migrated schema of its own on a PostgreSQL server, dropped afterwards."""
    schema = f"tl_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered)
    upgrade(engine)
    engine.dispose()
    try:
        yield rendered
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Poll `url` until it answers 200; fail with `process`'s log if it exits first."""
    deadline = time.monotonic() + 90
    # The stand-in wants a key; the bot's /healthz ignores it.
    with httpx2.Client(timeout=2, headers={"Authorization": "Bearer sk-local"}) as http:
        while True:
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{what} did not come up:\n{log.read_text()[-4000:]}")
            time.sleep(0.05)


@contextmanager
def subprocess_running(
    command: list[str], env: dict[str, str], log: Path, health_url: str, what: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` in a process of its own (output to `log`), healthy at `health_url`; stopped
    with SIGTERM afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(health_url, process, log, what)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_bare_app(port: int, model_url: str, slack_api_url: str, token: str) -> None:
    """This file run with --bare-serve: the floor for the 200 at once. A bare Bolt app behind
    the same HTTP layer and uvicorn as `tuneloop serve`, that streams one answer from the same
    model with the `openai` SDK and posts it in the thread: the same job without tuneloop's
    bookkeeping (no store, no prompt budget, no claim, no feedback controls), until SIGTERM."""
    import uvicorn
    from openai import OpenAI

    model = OpenAI(base_url=model_url, api_key="sk-local", max_retries=0)
    app = App(
        client=WebClient(token=token, base_url=slack_api_url),
        signing_secret=SECRET,
        listener_executor=ThreadPoolExecutor(CONVERSATIONS + 16),
        name="bare",
    )

    @app.event("app_mention")
    def reply(event: dict[str, Any], say: Say) -> None:
        stream = model.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[{"role": "user", "content": event["text"]}],
            stream=True,
        )
        answer = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        say(text=answer or "A fixed reply.", thread_ts=event["ts"])

    @app.event("message")
    def ignore() -> None:
        return None

    asgi = create_asgi_app(app, signing_secret=SECRET, max_concurrent_requests=2 * CONVERSATIONS)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def serve_bare_async_app(port: int, model_url: str, slack_api_url: str, token: str) -> None:
    """This file run with --bare-async-serve: the second floor for the 200 at once, the job of
    `serve_bare_app` written with Bolt's asyncio API. An `AsyncApp` (its `AsyncWebClient` on
    aiohttp; Bolt's signature check kept) streams one answer from the same model with
    `openai.AsyncOpenAI` and posts it in the thread, served by uvicorn through Bolt's ASGI
    adapter for async apps, plus HEALTH_PATH for `subprocess_running`; until SIGTERM. What a
    Bolt app doing the same job allows on this machine with no worker threads at all: every
    listener is a task on the one event loop."""
    import uvicorn
    from openai import AsyncOpenAI
    from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp, AsyncSay
    from slack_sdk.web.async_client import AsyncWebClient

    model = AsyncOpenAI(base_url=model_url, api_key="sk-local", max_retries=0)
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=slack_api_url),
        signing_secret=SECRET,
        name="bare-async",
    )

    @app.event("app_mention")
    async def reply(event: dict[str, Any], say: AsyncSay) -> None:
        stream = await model.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[{"role": "user", "content": event["text"]}],
            stream=True,
        )
        answer = "".join(
            [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        )
        await say(text=answer or "A fixed reply.", thread_ts=event["ts"])

    @app.event("message")
    async def ignore() -> None:
        return None

    # Bolt's adapter answers only its events path (404 elsewhere): HEALTH_PATH is answered here.
    handler = AsyncSlackRequestHandler(app, path=EVENTS_PATH)

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH:
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"ok": true}'})
            return
        await handler(scope, receive, send)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def aiohttp_missing() -> bool:
    """Whether aiohttp, which Bolt's asyncio API needs (and tuneloop does not), is missing."""
    return importlib.util.find_spec("aiohttp") is None


@contextmanager
def bare_serve(
    slack: LocalSlackServer, model_url: str, folder: Path, *, asynchronous: bool = False
) -> Iterator[tuple[str, int]]:
    """The bare Bolt app of `serve_bare_app` (with `asynchronous`, of `serve_bare_async_app`)
    in a process of its own; yields its /slack/events URL and process id."""
    port = _free_port()
    command = [
        sys.executable,
        __file__,
        "--bare-async-serve" if asynchronous else "--bare-serve",
        str(port),
        model_url,
        slack.api_url,
        slack.workspace.bot.token,
    ]
    base_url = f"http://127.0.0.1:{port}"
    with subprocess_running(
        command, dict(os.environ), folder / "bare.log", f"{base_url}/healthz", "the bare app"
    ) as process:
        yield base_url + EVENTS_PATH, process.pid


def serve_model_stand_in(port: int, data: Path, latency_s: float) -> None:
    """This file run with --model-stand-in: the OpenAI stand-in over HTTP, every chat
    completion taking `latency_s`, until SIGTERM."""
    from tuneloop.local_openai import http_server

    stand_in = LocalOpenAI(data)
    stand_in.faults.latency_s = latency_s
    stand_in.faults.only_paths = ("/chat/completions",)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    http_server.serve(stand_in.handle, port=port, log_level="warning")


@contextmanager
def model_stand_in(folder: Path) -> Iterator[tuple[str, int]]:
    """The model (the OpenAI stand-in, MODEL_LATENCY_S per chat completion) in a process of
    its own; yields its base URL and process id."""
    port = _free_port()
    command = [sys.executable, __file__, "--model-stand-in", str(port), str(folder / "openai")]
    base_url = f"http://127.0.0.1:{port}/v1"
    with subprocess_running(
        command, dict(os.environ), folder / "model.log", f"{base_url}/models", "the model"
    ) as process:
        yield base_url, process.pid


@contextmanager
def tuneloop_serve(
    slack: LocalSlackServer, model_url: str, folder: Path, database_url: str
) -> Iterator[tuple[str, int]]:
    """One `tuneloop serve` (HTTP mode, as a user runs it) in a process of its own, talking
    to the local workspace and the model over HTTP; yields its /slack/events URL and process
    id."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TUNELOOP_DATA_DIR": str(folder / "data"),
        "TUNELOOP_PROVIDER": "openai",
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "sk-local",
        "SLACK_BOT_TOKEN": slack.workspace.bot.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "PORT": str(port),
        "TUNELOOP_LOG_LEVEL": "WARNING",
    }
    env.pop("SLACK_APP_TOKEN", None)
    command = [sys.executable, "-m", "tuneloop", "serve"]
    base_url = f"http://127.0.0.1:{port}"
    with subprocess_running(
        command, env, folder / "serve.log", f"{base_url}/healthz", "tuneloop serve"
    ) as process:
        yield base_url + EVENTS_PATH, process.pid


class EventSender:
    """Sends signed Events API requests as Slack does, each on a connection of its own and
    none waiting for another's acknowledgement, from one event loop in a thread of its own.
    A thread per request (or an HTTP client's pool, which scans every open connection on each
    request) would make this process, not the bot, what the people wait on; a request is a
    few lines of HTTP/1.1 here. `refused` collects any status but 200."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="events", daemon=True)
        self.refused: list[str] = []

    def __enter__(self) -> EventSender:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    def send(self, url: str, event: dict[str, Any]) -> None:
        """Deliver `event` to the app at `url` (its /slack/events) without waiting."""
        body = json.dumps(payloads.envelope(self._ws, event)).encode()
        headers = {"Content-Type": "application/json", **signed_headers(SECRET, body)}
        asyncio.run_coroutine_threadsafe(self._post(url, body, headers), self._loop)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        target = httpx2.URL(url)
        host, port = target.host, target.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        lines = [
            f"POST {target.raw_path.decode()} HTTP/1.1",
            f"Host: {host}:{port}",
            f"Content-Length: {len(body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status = (await reader.readline()).decode().strip()
        writer.close()
        if status.split(" ")[1:2] != ["200"]:
            self.refused.append(status)


def simultaneous_conversations(
    slack: LocalSlackServer,
    folder: Path,
    *,
    replicas: int = 1,
    database_url: str | None = None,
    bare: Literal["sync", "async"] | None = None,
) -> Crowd:
    """CONVERSATIONS people asking at once, each in their own channel, of `replicas`
    `tuneloop serve` processes; with two, each mention's `app_mention` goes to one and its
    `message` to the other, alternating, as a load balancer may send them. `bare` asks a bare
    Bolt app instead: "sync" that of `serve_bare_app`, "async" that of `serve_bare_async_app`
    (they store nothing: `answered_once` is 0)."""
    ws = Workspace()
    slack.workspace = ws
    people = [ws.add_user(f"person{i}") for i in range(CONVERSATIONS)]
    channels = [ws.add_channel(f"team-{i}", members=[p]) for i, p in enumerate(people)]
    url = database_url or f"sqlite:///{folder / 'bench.db'}"
    with ExitStack() as stack, ThreadPoolExecutor(CONVERSATIONS) as people_pool:
        model_url, model_pid = stack.enter_context(model_stand_in(folder))
        pids = {"model": model_pid}
        drivers = []
        for n in range(replicas):
            (folder / f"replica{n}").mkdir()
            events_url, pids[f"serve{n}"] = stack.enter_context(
                bare_serve(slack, model_url, folder / f"replica{n}", asynchronous=bare == "async")
                if bare
                else tuneloop_serve(slack, model_url, folder / f"replica{n}", url)
            )
            drivers.append(SlackDriver(ws, events_url, SECRET))
        sender = stack.enter_context(EventSender(ws))
        for n, driver in enumerate(drivers):  # warm up: tokenizers, connections
            warm = driver.mention(people[n], channels[n], "Hello?")
            ws.wait_for_bot_replies(channels[n], warm.ts, timeout=60)
        questions: list[tuple[str, str]] = [("", "")] * CONVERSATIONS
        # Everyone's thread is running before anyone asks: all ask at the same moment.
        ready = threading.Barrier(CONVERSATIONS + 1)

        def converse(i: int) -> float:
            text = f"<@{ws.bot.user_id}> Question {i}: how do I book leave?"
            ready.wait(60)
            asked = time.perf_counter()
            message = ws.post(channels[i], user=people[i], text=text)
            questions[i] = (channels[i], message["ts"])
            mention = payloads.app_mention_event(ws, channels[i], message)
            plain = payloads.message_event(ws, channels[i], message)
            sender.send(drivers[i % len(drivers)].app_url, mention)
            sender.send(drivers[(i + 1) % len(drivers)].app_url, plain)
            ws.wait_for_bot_replies(channels[i], message["ts"], timeout=60)
            return time.perf_counter() - asked

        cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
        cpu_before["bench"] = time.process_time()
        answers = people_pool.map(converse, range(CONVERSATIONS))
        ready.wait(60)
        started = time.perf_counter()
        latencies = list(answers)
        elapsed = time.perf_counter() - started
        cpu = {name: _cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        cpu["bench"] = time.process_time() - cpu_before["bench"]  # driver + Slack server
        time.sleep(0.5)  # a second reply would have come by now
        if sender.refused:
            raise RuntimeError(f"the bot refused events: {sender.refused}")
    replies = sum(len(ws.bot_replies(channel, ts)) for channel, ts in questions)
    return Crowd(
        wall_s=elapsed,
        slowest_s=max(latencies),
        median_s=statistics.median(latencies),
        replies=replies,
        answered_once=0 if bare else _answered_once(url, questions),
        cpu_s=cpu,
    )


def _crowd_figures(crowd: Crowd) -> dict[str, Any]:
    return {
        "wall_s": round(crowd.wall_s, 3),
        "ratio": round(crowd.wall_s / MODEL_LATENCY_S, 2),
        "slowest_answer_s": round(crowd.slowest_s, 3),
        "median_answer_s": round(crowd.median_s, 3),
        "replies": crowd.replies,
        "answered_once": crowd.answered_once,
        "cpu_s": {name: round(seconds, 2) for name, seconds in crowd.cpu_s.items()},
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--model-stand-in":  # see model_stand_in
        serve_model_stand_in(int(sys.argv[2]), Path(sys.argv[3]), MODEL_LATENCY_S)
        return
    if len(sys.argv) == 6 and sys.argv[1] == "--bare-serve":  # see bare_serve
        serve_bare_app(int(sys.argv[2]), *sys.argv[3:])
        return
    if len(sys.argv) == 6 and sys.argv[1] == "--bare-async-serve":  # see bare_serve
        serve_bare_async_app(int(sys.argv[2]), *sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40, help="mentions per app and round")
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds per app")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL"),
        help="PostgreSQL server for the two-replica run (a private schema is made and dropped)",
    )
    parser.add_argument("--skip-cost", action="store_true", help="only the 200 at once")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures: dict[str, Any] = {"conversations": CONVERSATIONS, "model_latency_s": MODEL_LATENCY_S}
    with tempfile.TemporaryDirectory() as tmp, LocalSlackServer(Workspace()) as slack:
        folder = Path(tmp)
        if not args.skip_cost:
            (folder / "cost").mkdir()
            cost = per_event_ms(slack, folder / "cost", args.events, args.rounds)
            figures.update(
                bare_bolt_ms_per_event=round(cost["bare_ms"], 2),
                tuneloop_ms_per_event=round(cost["tuneloop_ms"], 2),
                cost_ratio=round(cost["ratio"], 2),
                cost_target=COST_TARGET,
                status_at_once_ms_per_event=round(cost["status_at_once_ms"], 2),
                status_at_once_cost_ratio=round(cost["status_at_once_ratio"], 2),
                stand_in_model_ms_per_event=round(cost["stand_in_model_ms"], 2),
                stand_in_model_cost_ratio=round(cost["stand_in_model_ratio"], 2),
            )
        (folder / "bare").mkdir()
        figures["bare_bolt_floor"] = _crowd_figures(
            simultaneous_conversations(slack, folder / "bare", bare="sync")
        )
        if aiohttp_missing():
            figures["bare_async_bolt_floor"] = {"skipped": "aiohttp not installed"}
        else:
            (folder / "bare-async").mkdir()
            figures["bare_async_bolt_floor"] = _crowd_figures(
                simultaneous_conversations(slack, folder / "bare-async", bare="async")
            )
        (folder / "one").mkdir()
        figures["one_app_sqlite"] = _crowd_figures(
            simultaneous_conversations(slack, folder / "one")
        )
        if args.database_url:
            (folder / "two").mkdir()
            with private_schema(args.database_url) as url:
                crowd = simultaneous_conversations(
                    slack, folder / "two", replicas=2, database_url=url
                )
            figures["two_replicas_postgresql"] = _crowd_figures(crowd)
    figures["concurrency_target"] = CONCURRENCY_TARGET
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    if "cost_ratio" in figures:
        bare, full = figures["bare_bolt_ms_per_event"], figures["tuneloop_ms_per_event"]
        ratio = figures["cost_ratio"]
        print(f"bare Bolt app, fixed reply:           {bare:8.2f} ms per event")
        print(f"tuneloop reply path, instant model:   {full:8.2f} ms per event")
        verdict = "ok" if ratio <= COST_TARGET else "OVER TARGET"
        print(f"ratio 1 (full / bare, median of rounds): {ratio:5.2f}   target <= 2.0  {verdict}")
        print(
            "  the same path with the status set on every reply (TUNELOOP_STATUS_DELAY_SECONDS=0): "
            f"{figures['status_at_once_ms_per_event']:.2f} ms per event, "
            f"ratio {figures['status_at_once_cost_ratio']:.2f}"
        )
        print(
            "  the same path answered by the OpenAI stand-in in process (its retrieval included): "
            f"{figures['stand_in_model_ms_per_event']:.2f} ms per event, "
            f"ratio {figures['stand_in_model_cost_ratio']:.2f}"
        )
    floors = {
        "bare_bolt_floor": "bare Bolt app + openai SDK + same model (the floor)",
        "bare_async_bolt_floor": "bare AsyncApp + AsyncOpenAI + same model (the async floor)",
    }
    for name in (*floors, "one_app_sqlite", "two_replicas_postgresql"):
        if name not in figures:
            continue
        crowd = figures[name]
        if "skipped" in crowd:
            print(f"{CONVERSATIONS} at once, {floors.get(name, name)}: skipped: {crowd['skipped']}")
            continue
        verdict = "ok" if crowd["ratio"] <= CONCURRENCY_TARGET else "OVER TARGET"
        if name in floors:  # what this machine allows a Bolt app doing the same job
            print(
                f"{CONVERSATIONS} at once, {floors[name]}: "
                f"{crowd['wall_s']:.3f} s wall, ratio {crowd['ratio']:.2f}; slowest answer "
                f"{crowd['slowest_answer_s']:.3f} s, median {crowd['median_answer_s']:.3f} s; "
                f"{crowd['replies']} replies"
            )
            used = ", ".join(f"{n} {seconds:.2f}" for n, seconds in crowd["cpu_s"].items())
            print(f"  CPU seconds meanwhile: {used}")
            sync_floor = figures["bare_bolt_floor"]["wall_s"]
            if name == "bare_async_bolt_floor":
                print(f"  wall / the bare (sync) Bolt floor's: {crowd['wall_s'] / sync_floor:.2f}")
            continue
        floor = figures.get("bare_bolt_floor", {}).get("wall_s")
        async_floor = figures.get("bare_async_bolt_floor", {}).get("wall_s")
        print(
            f"{CONVERSATIONS} at once, {MODEL_LATENCY_S:.0f} s model, {name}: "
            f"{crowd['wall_s']:.3f} s wall, ratio {crowd['ratio']:.2f} "
            f"(target <= 1.5, {verdict}); slowest answer "
            f"{crowd['slowest_answer_s']:.3f} s, median {crowd['median_answer_s']:.3f} s; "
            f"{crowd['replies']} replies, {crowd['answered_once']} answered once"
        )
        used = ", ".join(f"{name} {seconds:.2f}" for name, seconds in crowd["cpu_s"].items())
        print(f"  CPU seconds meanwhile: {used}")
        if floor:
            print(f"  wall / the bare Bolt floor's: {crowd['wall_s'] / floor:.2f}")
        if async_floor:
            print(f"  wall / the bare async Bolt floor's: {crowd['wall_s'] / async_floor:.2f}")


if __name__ == "__main__":
    main()
