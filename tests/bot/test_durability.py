"""No acknowledged question lost, with real faults: `kill -9` of a real `tuneloop serve` while
the model is answering, then a restart that finds and answers the question; and a database
outage on a private PostgreSQL server this test starts and stops itself, during which the
person gets an answer once the store is back (or an apology when it stays down too long)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import select

from curation.db import Database, make_engine, upgrade
from curation.models import Exchange, ExchangeStatus
from tests.scheduler.test_processes import Process
from tuneloop.local_openai import LocalOpenAI
from tuneloop.local_openai.http_server import serve_in_thread
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace

pytestmark = pytest.mark.slow

SECRET = "durability-signing-secret"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(condition, what: str, timeout: float = 60.0):
    """Wait for another process to get somewhere (it runs in real time; the test cannot)."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


class Serve(Process):
    """A real `tuneloop serve` process, up and healthy, whose log lines can be awaited."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__({**env, "PORT": str(self.port)}, ("serve", "--no-scheduler"))
        with httpx2.Client() as http:
            _wait_for(lambda: self._healthy(http), "tuneloop serve to come up")

    def _healthy(self, http: httpx2.Client) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"tuneloop serve exited with {self.proc.returncode}")
        try:
            return http.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx2.TransportError:
            return False

    def stop(self) -> int:
        try:
            return super().stop()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def workspace(slack_server: LocalSlackServer) -> Workspace:
    ws = Workspace()
    slack_server.workspace = ws
    return ws


def _env(
    tmp_path: Path, database_url: str, ws: Workspace, api_url: str, model_url: str, **extra: str
) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "TUNELOOP_DATA_DIR": str(tmp_path / "data"),
        "TUNELOOP_PROVIDER": "openai",
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "local",
        "SLACK_BOT_TOKEN": ws.bot.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
        "TUNELOOP_REPLICA_HEARTBEAT_SECONDS": "0.5",
        "TUNELOOP_REPLICA_TIMEOUT_SECONDS": "2",
        **extra,
    }
    env.pop("SLACK_APP_TOKEN", None)
    return env


def _exchanges(db: Database) -> list[Exchange]:
    with db.read_session() as session:
        return list(session.scalars(select(Exchange).order_by(Exchange.id)))


def test_kill_9_mid_answer_then_a_restart_finds_and_answers_the_question(
    tmp_path: Path,
    database_url: str,
    db: Database,
    workspace: Workspace,
    slack_server: LocalSlackServer,
) -> None:
    stand_in = LocalOpenAI(tmp_path / "openai")
    stand_in.faults.only_paths = ("/chat/completions",)
    stand_in.faults.latency_s = 8.0  # the model is slow: the first process dies waiting
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    with serve_in_thread(stand_in.handle) as model_server:
        env = _env(tmp_path, database_url, workspace, slack_server.api_url, model_server.base_url)
        first = Serve(env)
        try:
            driver = SlackDriver(workspace, f"{first.base}/slack/events", SECRET)
            said = driver.mention(alice, channel, "How do I book annual leave?")
            assert [r.status for r in said.responses] == [200, 200]  # acknowledged
            [claimed] = _wait_for(lambda: _exchanges(db), "the question to be claimed")
            assert claimed.status is ExchangeStatus.PENDING
            first.proc.send_signal(signal.SIGKILL)  # mid-answer: no drain, no goodbye
            first.proc.wait()
            driver.close()
        finally:
            first.stop()
        assert workspace.bot_replies(channel, said.ts) == []  # nobody answered it
        stand_in.faults.latency_s = 0.0
        second = Serve(env)
        try:
            [reply] = workspace.wait_for_bot_replies(channel, said.ts, timeout=60)
            second.expect("left unanswered by replica")
        finally:
            second.stop()
    assert reply["blocks"][-2]["type"] == "context_actions"
    [exchange] = _exchanges(db)
    assert exchange.id == claimed.id and exchange.status is ExchangeStatus.ANSWERED
    assert exchange.claimed_by != claimed.claimed_by
    assert len(workspace.bot_replies(channel, said.ts)) == 1


class PrivatePostgres:
    """A PostgreSQL 15 server of this test's own, in a temporary folder (as `nobody` when
    the test runs as root, which initdb refuses), to stop and start at will."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tuneloop-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "nobody")
            self.as_user = ["runuser", "-u", "nobody", "--"]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, *args], check=True, capture_output=True, text=True, timeout=120
        )

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "server.log")
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
        )

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN}")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb refuses root")
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
    except subprocess.CalledProcessError as error:
        server.remove()
        pytest.skip(f"could not start a private PostgreSQL server: {error.stderr}")
    engine = make_engine(server.url)
    upgrade(engine)
    engine.dispose()
    yield server
    server.remove()


def test_a_database_outage_holds_the_question_until_the_store_is_back(
    tmp_path: Path,
    private_postgres: PrivatePostgres,
    workspace: Workspace,
    slack_server: LocalSlackServer,
) -> None:
    stand_in = LocalOpenAI(tmp_path / "openai")
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    db = Database.open(private_postgres.url)
    with serve_in_thread(stand_in.handle) as model_server:
        env = _env(
            tmp_path,
            private_postgres.url,
            workspace,
            slack_server.api_url,
            model_server.base_url,
            TUNELOOP_STORE_OUTAGE_WAIT_SECONDS="6",
        )
        bot = Serve(env)
        driver = SlackDriver(workspace, f"{bot.base}/slack/events", SECRET)
        try:
            # An outage longer than the bound: the person is told, nothing is half-stored.
            private_postgres.stop()
            gone = driver.mention(alice, channel, "Who approves my expenses?")
            assert [r.status for r in gone.responses] == [200, 200]
            [apology] = workspace.wait_for_bot_replies(channel, gone.ts, timeout=60)
            assert "I can't reach my storage right now" in apology["text"]

            # An outage the bound covers: the question waits, and is answered once it is back.
            held = driver.mention(alice, channel, "How do I book annual leave?")
            assert [r.status for r in held.responses] == [200, 200]
            bot.expect("the database is unreachable")
            private_postgres.start()
            [reply] = workspace.wait_for_bot_replies(channel, held.ts, timeout=60)
        finally:
            driver.close()
            bot.stop()
            db.dispose()
    assert reply["blocks"][-2]["type"] == "context_actions"
    db = Database.open(private_postgres.url)
    try:
        [exchange] = _exchanges(db)
    finally:
        db.dispose()
    assert exchange.message_ts == held.ts and exchange.status is ExchangeStatus.ANSWERED
    assert len(workspace.bot_replies(channel, held.ts)) == 1
