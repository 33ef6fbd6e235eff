"""The bot under test: the real Bolt app, served by uvicorn on 127.0.0.1, receiving signed
requests from the local workspace's driver, and calling the local workspace's Web API (also on
127.0.0.1) through a real `slack_sdk.WebClient`, in the manner of bolt-python's own tests.

Or over Socket Mode: tests marked `@BOTH_TRANSPORTS` run a second time with the app connected
to the local workspace's Socket Mode server through tuneloop's Socket Mode handler (the one
`tuneloop serve` runs), the driver sending envelopes instead of HTTP requests.

Both servers live for the whole session; each test plugs a fresh workspace and a fresh app
into them. The database is the shared `store` fixture (SQLite, and PostgreSQL where
TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import select
from starlette.responses import PlainTextResponse

from bot import BotConfig, build_app
from bot.app import build_responder
from bot.asgi import EVENTS_PATH, create_asgi_app
from bot.conversation.responder import Responder
from curation.models import Exchange
from curation.store import Store
from tests.bot.fakes import ActiveModel, RecordingControl, ScriptedModel
from tests.conftest import REVIEWERS
from tuneloop.local_openai import LocalOpenAI, instant_clock
from tuneloop.local_slack import LocalSlackServer, Said, SlackDriver, Workspace
from tuneloop.local_slack.activity import Activity, TrackingExecutor
from tuneloop.local_slack.threaded import ThreadedServer
from tuneloop.slack_link import SlackLink
from tuneloop.socket_mode import DrainingSocketModeHandler

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))

SIGNING_SECRET = "local-signing-secret"
#: Run a test over HTTP and over Socket Mode (see the module's docstring).
BOTH_TRANSPORTS = pytest.mark.parametrize("slack_transport", ["http", "socket_mode"], indirect=True)
BASE_MODEL = "gpt-4.1-mini-2025-04-14"
SYSTEM_PROMPT = "You are the Fernhill help desk."


class SwitchableApp:
    """An ASGI app that forwards to whichever app the current test plugged in."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.target is None:
            await PlainTextResponse("no app plugged in", status_code=503)(scope, receive, send)
            return
        await self.target(scope, receive, send)


@pytest.fixture(scope="session")
def slack_server() -> Iterator[LocalSlackServer]:
    with LocalSlackServer(Workspace()) as server:
        yield server


@pytest.fixture(scope="session")
def app_server() -> Iterator[tuple[SwitchableApp, ThreadedServer]]:
    switch = SwitchableApp()
    with ThreadedServer(switch, name="bot-under-test") as server:
        yield switch, server


@dataclass
class Bot:
    """One test's bot, its workspace and the people in it."""

    ws: Workspace
    driver: SlackDriver
    store: Store
    app: App
    activity: Activity
    model: ActiveModel
    control: RecordingControl
    alice: str
    bob: str
    reviewer: str
    channel: str
    responder: Responder
    client: WebClient
    closers: list[Callable[[], None]] = field(default_factory=list)

    def settle(self) -> None:
        """Wait until the app has finished everything it was asked so far."""
        self.activity.wait_idle()

    def ask(self, text: str, *, user: str | None = None, thread_ts: str | None = None) -> Said:
        return self.driver.mention(user or self.alice, self.channel, text, thread_ts=thread_ts)

    def replies(self, said: Said, count: int = 1) -> list[dict[str, Any]]:
        """The bot's finished replies in the question's thread (waits for `count`)."""
        return self.ws.wait_for_bot_replies(said.channel, said.thread_ts, count)

    def answered(self, said: Said, count: int = 1) -> list[dict[str, Any]]:
        """The replies once the app is idle (a post-then-update reply gets its controls last)."""
        self.replies(said, count)
        self.settle()
        return self.ws.bot_replies(said.channel, said.thread_ts)

    def exchanges(self) -> list[Exchange]:
        with self.store.db.read_session() as session:
            return list(session.scalars(select(Exchange).order_by(Exchange.id)))


@pytest.fixture(params=["http"])
def slack_transport(request: pytest.FixtureRequest) -> str:
    """How the local workspace reaches the app: "http" unless a test asks for both."""
    return str(request.param)


def connect_socket_mode(app: App, ws: Workspace, server: LocalSlackServer) -> SlackDriver:
    """Connect `app` to the local workspace over Socket Mode as `tuneloop serve` would; the
    driver it returns sends envelopes. Close the handler with `driver.handler.close()`."""
    handler = DrainingSocketModeHandler(
        app, ws.app_token, link=SlackLink(), ping_interval=3.0, ping_timeout=2.0
    )
    handler.connect()
    server.socket_mode.wait_for_connections(1)
    driver = SlackDriver(ws, socket_mode=server.socket_mode)
    driver.handler = handler  # type: ignore[attr-defined]
    return driver


@pytest.fixture
def stand_in(tmp_path: Path) -> LocalOpenAI:
    return LocalOpenAI(tmp_path / "openai", clock=instant_clock())


@pytest.fixture
def make_bot(
    store: Store,
    slack_server: LocalSlackServer,
    app_server: tuple[SwitchableApp, ThreadedServer],
    stand_in: LocalOpenAI,
    slack_transport: str,
) -> Iterator[Callable[..., Bot]]:
    made: list[Bot] = []

    def make(
        *,
        openai_client: openai.OpenAI | None = None,
        config: BotConfig | None = None,
        reply_workers: int = 8,
        workspace: Workspace | None = None,
        store: Store = store,
    ) -> Bot:
        """A bot in a fresh workspace, or a second instance of the app in `workspace` (new
        people and channel, the same store), as when two `tuneloop serve` run; `store`: the
        same database seen by another replica (a `Store` with claim rules of its own)."""
        ws = workspace or Workspace()
        if workspace is None:
            slack_server.workspace = ws
        alice, bob = ws.add_user("alice"), ws.add_user("bob")
        reviewer = ws.add_user("rita", user_id=REVIEWERS[0])
        channel = ws.add_channel("help-desk", members=[alice, bob, reviewer])
        activity = Activity()
        replies = TrackingExecutor(reply_workers, activity, name="test-reply")
        listeners = TrackingExecutor(8, activity, name="test-listener")
        model = ActiveModel(BASE_MODEL)
        control = RecordingControl(model)
        client = WebClient(token=ws.bot.token, base_url=slack_server.api_url)
        responder = build_responder(
            store=store,
            openai_client=openai_client or stand_in.client(max_retries=0),
            active_model=model,
            system_prompt=SYSTEM_PROMPT,
            config=config or BotConfig(),
            reply_workers=replies,
        )
        app = build_app(
            store=store,
            openai_client=openai_client or stand_in.client(max_retries=0),
            active_model=model,
            system_prompt=SYSTEM_PROMPT,
            control=control,
            client=client,
            signing_secret=SIGNING_SECRET,
            config=config,
            listener_executor=listeners,
            responder=responder,
        )
        closers: list[Callable[[], None]] = []
        if slack_transport == "socket_mode":
            driver = connect_socket_mode(app, ws, slack_server)
            closers.append(driver.handler.close)  # type: ignore[attr-defined]
        else:
            switch, server = app_server
            switch.target = create_asgi_app(app, signing_secret=SIGNING_SECRET)
            driver = SlackDriver(ws, server.base_url + EVENTS_PATH, SIGNING_SECRET)
        bot = Bot(
            ws,
            driver,
            store,
            app,
            activity,
            model,
            control,
            alice,
            bob,
            reviewer,
            channel,
            responder,
            client,
        )
        bot.closers += [*closers, driver.close, listeners.shutdown, replies.shutdown]
        made.append(bot)
        return bot

    yield make
    for bot in made:
        try:
            bot.activity.wait_idle(timeout=30)
        finally:
            for close in bot.closers:
                close()
    app_server[0].target = None


@pytest.fixture
def bot(make_bot: Callable[..., Bot]) -> Bot:
    return make_bot()


@pytest.fixture
def scripted() -> ScriptedModel:
    return ScriptedModel()
