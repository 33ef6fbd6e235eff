"""/healthz over real HTTP (uvicorn): unhealthy (503) when the store cannot be written (a full
disk, a read-only SQLite file, a read-only PostgreSQL transaction, an outage) or the served
model does not answer; cached so that hits do not each write or call the model; and never a
host, port, path or exception text in what it answers."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from slack_bolt import App
from sqlalchemy import select

from bot.asgi import create_asgi_app
from curation.db import Database, make_engine, upgrade
from curation.models import StoreHealth
from scheduler.registry import ActiveModelLookup
from tuneloop.health import HealthCheck
from tuneloop.local_openai import LocalOpenAI, instant_clock
from tuneloop.local_slack.threaded import ThreadedServer

SECRET = "health-signing-secret"
BASE_MODEL = "gpt-4.1-mini-2025-04-14"


class Counted:
    """The stand-in's client, counting chat completions."""

    def __init__(self, stand_in: LocalOpenAI) -> None:
        self.completions = 0
        inner = stand_in.transport()

        def handle(request: httpx2.Request) -> httpx2.Response:
            if request.url.path.endswith("/chat/completions"):
                self.completions += 1
            return inner.handle_request(request)

        self.client = openai.OpenAI(
            api_key="local",
            base_url="http://stand-in.local/v1",
            http_client=httpx2.Client(transport=httpx2.MockTransport(handle)),
            max_retries=0,
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def model(tmp_path: Path) -> Counted:
    return Counted(LocalOpenAI(tmp_path / "openai", clock=instant_clock()))


Serve = Callable[[Callable[[], dict[str, Any]]], str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Serve a health check on /healthz of the real Starlette app (under uvicorn)."""
    servers: list[ThreadedServer] = []
    bolt = App(token="xoxb-health", signing_secret=SECRET, token_verification_enabled=False)

    def start(health: Callable[[], dict[str, Any]]) -> str:
        server = ThreadedServer(
            create_asgi_app(bolt, signing_secret=SECRET, health=health), name="health"
        )
        servers.append(server.start())
        return f"{server.base_url}/healthz"

    yield start
    for server in servers:
        server.stop()


def _check(db: Database, model: Counted, **options: Any) -> HealthCheck:
    return HealthCheck(db, ActiveModelLookup(db, default=BASE_MODEL), model.client, **options)


def _leaks(text: str, *secrets: str) -> list[str]:
    words = ["Traceback", "Error", "sqlite", "psycopg", "/tmp", *secrets]
    return [word for word in words if word in text]


def test_a_healthy_store_and_model_answer_200_and_the_probe_writes(
    db: Database, model: Counted, serve: Serve
) -> None:
    url = serve(_check(db, model))
    answer = httpx2.get(url)
    assert answer.status_code == 200
    assert answer.json() == {
        "ok": True,
        "active_model": BASE_MODEL,
        "checks": {"store": {"ok": True}, "model": {"ok": True}},
    }
    with db.read_session() as session:
        assert session.scalars(select(StoreHealth)).one().checked_by == socket.gethostname()


def test_hits_reuse_the_last_probe_until_it_is_stale_or_the_model_changes(
    db: Database, model: Counted, serve: Serve
) -> None:
    clock, served = Clock(), [BASE_MODEL]
    check = HealthCheck(
        db, lambda: served[0], model.client, store_ttl_s=5, model_ttl_s=60, clock=clock
    )
    url = serve(check)
    for _ in range(5):
        assert httpx2.get(url).status_code == 200
    assert model.completions == 1
    clock.now += 59
    assert httpx2.get(url).status_code == 200 and model.completions == 1
    clock.now += 1
    assert httpx2.get(url).status_code == 200 and model.completions == 2
    served[0] = "ft:gpt-4.1-mini-2025-04-14:acme::gone"  # promoted behind our back
    failing = httpx2.get(url)
    assert failing.status_code == 503 and model.completions == 3


def test_a_served_model_that_does_not_answer_is_unhealthy(
    db: Database, model: Counted, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    missing = "ft:gpt-4.1-mini-2025-04-14:acme::missing"
    url = serve(HealthCheck(db, lambda: missing, model.client))
    answer = httpx2.get(url)
    assert answer.status_code == 503
    body = answer.json()
    assert body["ok"] is False and body["checks"]["store"] == {"ok": True}
    failing = body["checks"]["model"]
    assert failing["ok"] is False
    assert failing["error"] == "the model is not served by the provider (HTTP 404 model_not_found)"
    assert failing["error_id"] in caplog.text and "NotFoundError" in caplog.text
    assert _leaks(answer.text, "stand-in.local") == []


def test_a_rate_limited_model_counts_as_answering(
    db: Database, tmp_path: Path, serve: Serve
) -> None:
    stand_in = LocalOpenAI(tmp_path / "limited", clock=instant_clock())
    stand_in.faults.rate_limit(1)
    answer = httpx2.get(serve(_check(db, Counted(stand_in))))
    assert answer.status_code == 200
    assert answer.json()["checks"]["model"]["note"] == (
        "the model is rate limited now (HTTP 429 rate_limit_exceeded)"
    )


def test_a_health_check_that_raises_says_nothing_of_why(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("postgresql://tuneloop:hunter2@db.internal:5432/tuneloop is down")

    answer = httpx2.get(serve(broken))
    assert answer.status_code == 503
    body = answer.json()
    assert body["error"] == "the health check failed" and body["error_id"] in caplog.text
    assert _leaks(answer.text, "hunter2", "db.internal", "5432") == []
    # The details are in the log, under the id (with the password redacted once tuneloop's
    # logging is configured, as in `tuneloop serve`).
    assert "is down" in caplog.text and "db.internal" in caplog.text


# --- a store that cannot be written --------------------------------------------------------------
def _fresh_sqlite(folder: Path) -> Database:
    url = f"sqlite:///{folder / 'tuneloop.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return Database.open(url)


def _mount(*args: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "small-disk"
    folder.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)):
        pytest.skip("mounting a small tmpfs needs root (a real full disk)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> None:
    with (folder / "filler").open("wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass


def test_a_sqlite_store_on_a_full_disk_is_unhealthy(
    small_disk: Path, model: Counted, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    db = _fresh_sqlite(small_disk)
    try:
        url = serve(_check(db, model, store_ttl_s=0))
        assert httpx2.get(url).status_code == 200
        _fill(small_disk)
        answer = httpx2.get(url)
        assert answer.status_code == 503
        store = answer.json()["checks"]["store"]
        assert store["ok"] is False and store["error"] == "the store cannot be written"
        assert "database or disk is full" in caplog.text and store["error_id"] in caplog.text
        assert _leaks(answer.text, str(small_disk)) == []
    finally:
        db.dispose()


def test_a_read_only_sqlite_file_is_unhealthy(tmp_path: Path, model: Counted, serve: Serve) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    db = _fresh_sqlite(folder)
    url = serve(_check(db, model, store_ttl_s=0))
    assert httpx2.get(url).status_code == 200
    db.engine.dispose()  # the pool's open files would keep their write access
    if os.geteuid() == 0:  # root writes through file modes: make the mount read-only
        if not _mount("--bind", str(folder), str(folder)):
            pytest.skip("cannot bind-mount here")
        if not _mount("-o", "remount,bind,ro", str(folder)):
            subprocess.run(["umount", str(folder)], check=False)
            pytest.skip("cannot remount read-only here")
    else:
        for path in folder.iterdir():
            path.chmod(0o444)
        folder.chmod(0o555)
    try:
        answer = httpx2.get(url)
        assert answer.status_code == 503
        assert answer.json()["checks"]["store"]["ok"] is False
        assert _leaks(answer.text, str(folder)) == []
    finally:
        db.dispose()
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], check=False)
        else:
            folder.chmod(0o755)


def test_a_read_only_postgresql_is_unhealthy(
    postgres_url: str, model: Counted, serve: Serve
) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    options = f"{url.query['options']} -cdefault_transaction_read_only=on"
    read_only = url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    db = Database(make_engine(read_only))
    try:
        answer = httpx2.get(serve(_check(db, model)))
        assert answer.status_code == 503
        body = answer.json()
        assert body["active_model"] == BASE_MODEL  # it still reads
        assert body["checks"]["store"]["error"] == "the store cannot be written"
        assert _leaks(answer.text, str(url.host), str(url.port or 5432)) == []
    finally:
        db.dispose()


def test_a_postgresql_outage_is_unhealthy_without_naming_the_server(
    model: Counted, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = Database(make_engine(f"postgresql://tuneloop:hunter2@127.0.0.1:{port}/tuneloop"))
    caplog.set_level(logging.INFO)
    try:
        answer = httpx2.get(serve(_check(db, model)))
        assert answer.status_code == 503
        store = answer.json()["checks"]["store"]
        assert store["ok"] is False and store["error_id"] in caplog.text
        assert _leaks(answer.text, "hunter2", "127.0.0.1", str(port)) == []
    finally:
        db.dispose()
