"""The demo's world: a fresh store, the stand-in in process, the local Slack workspace, and the
real Bolt app served on localhost, wired as `tuneloop serve` wires them (see tuneloop/serve.py).

The app's listeners and reply workers are tracked, so the demo waits for the bot to finish
instead of sleeping. The workspace's clock is fixed, so message timestamps, and with them the
thread keys that decide the train/eval split, are the same on every run: the demo's figures
are reproducible.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from slack_sdk import WebClient

from bot import build_app
from bot.asgi import EVENTS_PATH, create_asgi_app
from curation.db import Database
from curation.store import Store
from tuneloop.demo.backends import (
    DemoBackend,
    DemoTrainer,
    default_models_dir,
    lora_backend,
    openai_backend,
    together_backend,
)
from tuneloop.local_openai import Clock, LocalOpenAI
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace
from tuneloop.local_slack.activity import Activity, TrackingExecutor
from tuneloop.local_slack.threaded import ThreadedServer
from tuneloop.local_together import LocalTogether
from tuneloop.provider import build_openai_client
from tuneloop.serve import bot_config
from tuneloop.settings import SAMPLE_SEEDS_DIR, Settings, load_settings
from tuneloop.slack_link import SlackLink
from tuneloop.socket_mode import DrainingSocketModeHandler
from tuneloop.wiring import (
    active_model_lookup,
    build_cycle_runner,
    model_reloader,
    open_database,
    open_store,
    retraining_control,
    system_prompt,
    together_trainer,
)

if TYPE_CHECKING:
    from scheduler.cycle import CycleRunner

SIGNING_SECRET = "tuneloop-demo-signing-secret"
REVIEWER_ID = "UREVIEWER1"
#: The settings the demo's expectations rest on, pinned so a `.env` or the environment cannot
#: move them (the gate's defaults, the trigger, the split, the grader).
DEMO_SETTINGS: dict[str, object] = {
    "min_new_examples": 20,
    "eval_fraction": 0.2,
    "grader": "similarity",
    "training_method": "supervised",
    "training_strategy": "full",
    "gate_margin": 0.0,
    "gate_golden_tolerance": 0.02,
    "gate_golden_floor": 0.4,
    "gate_min_eval_items": 30,
    # The demo's eval set is small: its second model beats the first on 9 items and ties
    # the rest (sign test p = 1/512), under the default minimum of 10 differing items.
    "gate_min_differing_items": 8,
    "active_model_ttl_seconds": 0,
}
#: 2026-01-01T00:00:00Z: where the workspace's fixed clock starts.
WORKSPACE_EPOCH = 1_767_225_600.0


def fixed_clock(start: float = WORKSPACE_EPOCH) -> Callable[[], float]:
    """A clock that moves a millisecond per reading: deterministic message timestamps."""
    ticks = itertools.count()
    return lambda: start + next(ticks) / 1000


@dataclass
class People:
    """Who is in the workspace."""

    askers: list[str]
    reviewer: str
    troll: str
    channel: str


@dataclass
class World:
    """Everything the demo drives, and what to close afterwards."""

    settings: Settings
    db: Database
    store: Store
    #: The OpenAI or Together stand-in, or None with the lora backend.
    stand_in: LocalOpenAI | LocalTogether | None
    runner: CycleRunner
    ws: Workspace
    driver: SlackDriver
    activity: Activity
    people: People
    data_dir: Path
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def seeds_dir(self) -> Path:
        """The seeds the world's people were written for: the sample company's (or the LoRA
        demo's copy of them)."""
        return self.settings.seeds_dir or SAMPLE_SEEDS_DIR

    @property
    def reply_timeout_s(self) -> float:
        """How long an answer may take: a real model on CPU takes far longer than the
        stand-in's retrieval."""
        return 30.0 if self.stand_in is not None else self.settings.model_timeout_seconds

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until the app has finished everything it was asked so far."""
        self.activity.wait_idle(timeout)

    def close(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):  # closing goes on whatever one part does
                close()

    def __enter__(self) -> World:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def build_world(
    *,
    database_url: str | None = None,
    data_dir: Path | None = None,
    clock: Clock | None = None,
    settings_overrides: dict[str, object] | None = None,
    trainer: DemoTrainer = "openai",
    models_dir: Path | None = None,
    say: Callable[[str], None] = lambda _: None,
    socket_mode: bool = False,
) -> World:
    """A running world in `data_dir` (a new temporary folder when None), training with
    `trainer` (see `tuneloop.demo.backends`; `models_dir` keeps converted base models). The
    bot hears the workspace over HTTP, or over Socket Mode with `socket_mode`."""
    closers: list[Callable[[], None]] = []
    if data_dir is None:
        holder = tempfile.TemporaryDirectory(prefix="tuneloop-demo-")
        closers.append(holder.cleanup)
        data_dir = Path(holder.name)
    ws = Workspace(now=fixed_clock())
    slack = LocalSlackServer(ws).start()
    closers.append(slack.stop)
    backend: DemoBackend
    if trainer == "lora":
        backend = lora_backend(models_dir or default_models_dir(), data_dir, SAMPLE_SEEDS_DIR, say)
    elif trainer == "together":
        backend = together_backend(data_dir, clock)
    else:
        backend = openai_backend(data_dir, clock)
    closers += backend.closers
    settings = load_settings(
        **{
            "data_dir": data_dir,
            "database_url": database_url or f"sqlite:///{data_dir / 'tuneloop-demo.db'}",
            "reviewers": [REVIEWER_ID],
            "slack_bot_token": ws.bot.token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack.api_url,
            "review_channel": None,
            # The demo's people ask the sample company's questions, whatever the team's own
            # TUNELOOP_SEEDS_DIR says.
            "seeds_dir": SAMPLE_SEEDS_DIR,
            **DEMO_SETTINGS,
            **backend.settings,  # a real model trains and answers on its own terms
            **(settings_overrides or {}),
        }
    )
    db = open_database(settings)
    closers.append(db.dispose)
    store = open_store(settings, db)
    stand_in = backend.stand_in
    trainer = None
    if isinstance(stand_in, LocalTogether):
        openai_client = stand_in.chat_client(max_retries=0)
        trainer = together_trainer(settings, stand_in.client())
    elif stand_in is not None:
        openai_client = stand_in.client(max_retries=0)
    else:
        openai_client = build_openai_client(settings, max_retries=0)
    runner = build_cycle_runner(settings, db, client=openai_client, trainer=trainer)

    activity = Activity()
    config = bot_config(settings)
    replies = TrackingExecutor(8, activity, name="demo-reply")
    listeners = TrackingExecutor(8, activity, name="demo-listener")
    app = build_app(
        store=store,
        openai_client=openai_client,
        active_model=active_model_lookup(settings, db),
        system_prompt=system_prompt(settings),
        control=retraining_control(settings, db, runner=runner),
        client=WebClient(token=ws.bot.token, base_url=slack.api_url),
        signing_secret=SIGNING_SECRET,
        config=config,
        reply_workers=replies,
        listener_executor=listeners,
        reload_model=model_reloader(runner),
    )
    if socket_mode:
        handler = DrainingSocketModeHandler(
            app,
            ws.app_token,
            link=SlackLink(),
            ping_interval=settings.socket_mode_ping_interval_seconds,
            ping_timeout=settings.socket_mode_ping_timeout_seconds,
        )
        handler.connect()
        closers += [handler.close, listeners.shutdown, replies.shutdown]
        slack.socket_mode.wait_for_connections(1)
        driver = SlackDriver(ws, socket_mode=slack.socket_mode)
    else:
        server = ThreadedServer(
            create_asgi_app(app, signing_secret=SIGNING_SECRET), name="demo-bot"
        ).start()
        closers += [server.stop, listeners.shutdown, replies.shutdown]
        driver = SlackDriver(ws, server.base_url + EVENTS_PATH, SIGNING_SECRET)
    closers.append(driver.close)

    askers = [ws.add_user(name) for name in ("alice", "bob", "chen", "dana")]
    reviewer = ws.add_user("rita", user_id=REVIEWER_ID)
    troll = ws.add_user("mallory")
    channel = ws.add_channel(
        "help-desk", members=[*askers, reviewer, troll], channel_id="C0DEMOHELP"
    )
    people = People(askers, reviewer, troll, channel)
    return World(
        settings, db, store, stand_in, runner, ws, driver, activity, people, data_dir, closers
    )
