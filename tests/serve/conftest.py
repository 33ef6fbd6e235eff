"""Real `tuneloop serve` processes against the local Slack workspace (HTTP or Socket Mode) and
a slow model: the OpenAI stand-in over HTTP with injected latency, so answers are still being
written when the process is told to stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import func, select

from curation.db import Database
from curation.models import Exchange
from scheduler.records.lease import SchedulerLease
from scheduler.service.lease import RELEASED
from tests.conftest import REVIEWERS
from tuneloop.local_openai import LocalOpenAI
from tuneloop.local_openai.http_server import RunningServer, serve_in_thread
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace

SIGNING_SECRET = "serve-signing-secret"
#: How long each chat completion takes: long enough to send a signal while one runs.
MODEL_LATENCY_S = 2.0


@pytest.fixture(scope="module")
def slack() -> Iterator[LocalSlackServer]:
    with LocalSlackServer(Workspace()) as server:
        yield server


@pytest.fixture
def workspace(slack: LocalSlackServer) -> Workspace:
    ws = Workspace()
    slack.workspace = ws
    return ws


@pytest.fixture
def slow_model(tmp_path: Path) -> Iterator[RunningServer]:
    stand_in = LocalOpenAI(tmp_path / "openai")
    stand_in.faults.latency_s = MODEL_LATENCY_S
    stand_in.faults.only_paths = ("/chat/completions",)
    with serve_in_thread(stand_in.handle) as server:
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Serve:
    """One `tuneloop serve` process."""

    process: subprocess.Popen[bytes]
    port: int
    output: str = ""
    _http: httpx2.Client = field(default_factory=httpx2.Client)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> int | None:
        """/healthz's status, or None when nothing listens."""
        try:
            return self._http.get(f"{self.base_url}/healthz", timeout=2).status_code
        except httpx2.TransportError:
            return None

    def wait_healthy(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.health() != 200:
            if self.process.poll() is not None:
                raise AssertionError(self.process.communicate()[0].decode())
            assert time.monotonic() < deadline, "tuneloop serve did not come up"
            time.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout_s: float = 60) -> int:
        self.output = self.process.communicate(timeout=timeout_s)[0].decode()
        self._http.close()
        return self.process.returncode


@pytest.fixture
def start_serve(
    tmp_path: Path, workspace: Workspace, slack: LocalSlackServer, slow_model: RunningServer
) -> Iterator[Callable[..., Serve]]:
    started: list[Serve] = []

    def start(database_url: str, *, socket_mode: bool, **env: str) -> Serve:
        port = free_port()
        values = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TUNELOOP_DATA_DIR": str(tmp_path / f"data-{port}"),
            "TUNELOOP_PROVIDER": "openai",
            "OPENAI_BASE_URL": slow_model.base_url,
            "OPENAI_API_KEY": "sk-local",
            "TUNELOOP_REVIEWERS": ",".join(REVIEWERS),
            "SLACK_BOT_TOKEN": workspace.bot.token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "PORT": str(port),
            "TUNELOOP_SOCKET_MODE_PING_INTERVAL_SECONDS": "1",
            "TUNELOOP_SOCKET_MODE_PING_TIMEOUT_SECONDS": "0.5",
            **env,
        }
        values.pop("SLACK_APP_TOKEN", None)
        if socket_mode:
            values["SLACK_APP_TOKEN"] = workspace.app_token
        command = [sys.executable, "-c", "from tuneloop.cli import main; main()", "serve"]
        process = subprocess.Popen(
            command, env=values, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        serve = Serve(process, port)
        started.append(serve)
        serve.wait_healthy()
        return serve

    yield start
    for serve in started:
        if serve.process.poll() is None:
            serve.process.kill()
            serve.process.communicate()


def http_driver(workspace: Workspace, serve: Serve) -> SlackDriver:
    return SlackDriver(workspace, f"{serve.base_url}/slack/events", SIGNING_SECRET)


def exchanges_and_leases(database_url: str) -> tuple[int, int]:
    """How many exchanges were recorded, and how many scheduler leases are held."""
    db = Database.open(database_url)
    try:
        with db.read_session() as session:
            exchanges = session.scalar(select(func.count()).select_from(Exchange)) or 0
            held = select(func.count()).where(SchedulerLease.holder != RELEASED)
            leases = session.scalar(held) or 0  # a released lease keeps its row (fencing)
        return exchanges, leases
    finally:
        db.dispose()
