"""Benchmark: the Slack bot's reply path, against the local Slack workspace.

Prints, in one run, the two ratios of the Slack bot issue:

1. The per-event cost of tuneloop's full reply path with an instant model (the stand-in in
   process: prompt under the token budget, exchange claimed and recorded in SQLite, the
   registry's active model, streamed reply with feedback controls) divided by that of a bare
   Bolt app that only posts a fixed reply. Both apps run behind the same HTTP layer (uvicorn
   on 127.0.0.1), receive the same signed events from the same driver and call the same Web
   API stub. Target: at most 2.0. With the default settings an instant reply sets no
   "is thinking..." status (it shows only after TUNELOOP_STATUS_DELAY_SECONDS); the same path
   with the status set on every reply (delay 0) is measured in the same rounds and printed too.
2. The wall time for 50 simultaneous conversations with 1 s of model latency, divided by 1 s.
   Target: at most 1.5.

    TIKTOKEN_CACHE_DIR=../shared/tiktoken python bench/bench_bot.py [--events 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from slack_bolt import App, Say
from slack_sdk import WebClient

from bot import build_app
from bot.asgi import EVENTS_PATH, create_asgi_app
from tuneloop.local_openai import Faults, LocalOpenAI, instant_clock
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace
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
CONVERSATIONS = 50
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


def tuneloop_app(
    client: WebClient, folder: Path, faults: Faults | None = None, **overrides: Any
) -> App:
    """The real bot as `tuneloop serve` composes it, on a fresh SQLite store."""
    settings = load_settings(
        data_dir=folder, database_url=f"sqlite:///{folder / 'bench.db'}", **overrides
    )
    store = open_store(settings)
    stand_in = LocalOpenAI(folder / "openai", clock=instant_clock(), faults=faults)
    model_client = stand_in.client(max_retries=0)
    runner = build_cycle_runner(settings, store.db, client=model_client)
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

    apps = {
        "bare": bare_app(client()),
        "tuneloop": tuneloop_app(client(), folder),
        "status": tuneloop_app(client(), folder / "status", status_delay_seconds=0),
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
    }


def simultaneous_conversations_s(slack: LocalSlackServer, folder: Path) -> float:
    """Wall time for CONVERSATIONS people asking at once, each in their own channel."""
    ws = Workspace()
    slack.workspace = ws
    people = [ws.add_user(f"person{i}") for i in range(CONVERSATIONS)]
    channels = [ws.add_channel(f"team-{i}", members=[p]) for i, p in enumerate(people)]
    faults = Faults(latency_s=MODEL_LATENCY_S, only_paths=("/chat/completions",))
    app = tuneloop_app(WebClient(token=ws.bot.token, base_url=slack.api_url), folder, faults)
    with serving(app) as url, ThreadPoolExecutor(CONVERSATIONS) as people_pool:
        driver = SlackDriver(ws, url, SECRET)
        faults.latency_s = 0.0  # warm up: the first reply loads tokenizers and connections
        warm = driver.mention(people[0], channels[0], "Hello?")
        ws.wait_for_bot_replies(channels[0], warm.ts, timeout=30)
        faults.latency_s = MODEL_LATENCY_S

        def converse(i: int) -> None:
            said = driver.mention(people[i], channels[i], f"Question {i}: how do I book leave?")
            ws.wait_for_bot_replies(channels[i], said.ts, timeout=60)

        started = time.perf_counter()
        list(people_pool.map(converse, range(CONVERSATIONS)))
        elapsed = time.perf_counter() - started
        driver.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40, help="mentions per app and round")
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds per app")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalSlackServer(Workspace()) as slack:
        folder = Path(tmp)
        (folder / "cost").mkdir()
        cost = per_event_ms(slack, folder / "cost", args.events, args.rounds)
        (folder / "concurrent").mkdir()
        wall_s = simultaneous_conversations_s(slack, folder / "concurrent")
    bare_ms, full_ms, cost_ratio = cost["bare_ms"], cost["tuneloop_ms"], cost["ratio"]
    concurrency_ratio = wall_s / MODEL_LATENCY_S
    figures = {
        "bare_bolt_ms_per_event": round(bare_ms, 2),
        "tuneloop_ms_per_event": round(full_ms, 2),
        "cost_ratio": round(cost_ratio, 2),
        "cost_target": COST_TARGET,
        "status_at_once_ms_per_event": round(cost["status_at_once_ms"], 2),
        "status_at_once_cost_ratio": round(cost["status_at_once_ratio"], 2),
        "conversations": CONVERSATIONS,
        "model_latency_s": MODEL_LATENCY_S,
        "conversations_wall_s": round(wall_s, 3),
        "concurrency_ratio": round(concurrency_ratio, 2),
        "concurrency_target": CONCURRENCY_TARGET,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"bare Bolt app, fixed reply:           {bare_ms:8.2f} ms per event")
    print(f"tuneloop reply path, instant model:   {full_ms:8.2f} ms per event")
    verdict = "ok" if cost_ratio <= COST_TARGET else "OVER TARGET"
    print(f"ratio 1 (full / bare, median of rounds): {cost_ratio:5.2f}   target <= 2.0  {verdict}")
    print(
        f"  the same path with the status set on every reply (TUNELOOP_STATUS_DELAY_SECONDS=0): "
        f"{cost['status_at_once_ms']:.2f} ms per event, ratio {cost['status_at_once_ratio']:.2f}"
    )
    print(
        f"{CONVERSATIONS} simultaneous conversations, {MODEL_LATENCY_S:.0f} s model latency: "
        f"{wall_s:.3f} s wall"
    )
    verdict = "ok" if concurrency_ratio <= CONCURRENCY_TARGET else "OVER TARGET"
    print(
        f"ratio 2 (wall / 1 s):                 {concurrency_ratio:8.2f}   target <= 1.5  {verdict}"
    )


if __name__ == "__main__":
    main()
