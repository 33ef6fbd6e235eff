"""Shared fixtures: a migrated database on SQLite and, where TEST_DATABASE_URL is set, on
PostgreSQL, fresh for every test.

SQLite: the migrated file is made once and copied for each test. PostgreSQL: migrations run
once into a schema private to this test session (so concurrent runs never collide), and every
table is truncated between tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from curation.correction_limits import CorrectionLimits
from curation.db import Database, make_engine, upgrade
from curation.models import Base
from curation.store import Store

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = REPO_ROOT / "seeds"
REVIEWERS = ("UREVIEW1", "UREVIEW2")

#: Moves the wall clock of this process to an instant; see the `travel` fixture.
Travel = Callable[[datetime], None]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shift-clock",
        metavar="DAYS",
        type=int,
        default=0,
        help="run every test with the wall clock moved DAYS ahead (time-machine, ticking), to "
        "prove that no test depends on today's date; .ci/run uses it",
    )


@pytest.fixture(autouse=True, scope="session")
def _shifted_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    days: int = request.config.getoption("--shift-clock")
    if not days:
        yield
        return
    with time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True):
        yield


@pytest.fixture
def travel() -> Iterator[Travel]:
    """Call it with an instant to stop this process's wall clock there for the rest of the
    test: the injected clock for code we cannot hand one to (a CLI command reading
    `utcnow()`). Tests that state a date ("54 days from now") pin one this way."""
    started: list[time_machine.travel] = []

    def move(to: datetime) -> None:
        clock = time_machine.travel(to, tick=False)
        clock.start()
        started.append(clock)

    yield move
    for clock in reversed(started):
        clock.stop()


BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema = f"tl_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered)
    upgrade(engine)
    engine.dispose()
    yield rendered
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "tuneloop.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.open(database_url)
    yield database
    database.dispose()


#: Correction limits that tests about something else never meet (property tests add many
#: corrections by one author to one store); the limits' own tests build their own store.
UNLIMITED_CORRECTIONS = CorrectionLimits(per_person=10**9, per_reply=10**9)


@pytest.fixture
def store(db: Database) -> Store:
    return Store.build(
        db, reviewers=REVIEWERS, eval_fraction=0.2, correction_limits=UNLIMITED_CORRECTIONS
    )


SYSTEM = {"role": "system", "content": "You are the Fernhill help desk."}


def ask(
    store: Store,
    question: str,
    reply: str,
    *,
    channel: str = "C1",
    ts: str | None = None,
    thread_ts: str | None = None,
    user: str = "UASKER",
    event_id: str | None = None,
) -> int:
    """Record one answered exchange and return its id (a test helper, not a fixture)."""
    from curation.capture import Answer, ConversationRef

    ts = ts or f"{uuid.uuid4().int % 10**10}.000100"
    ref = ConversationRef(
        channel_id=channel,
        message_ts=ts,
        thread_ts=thread_ts or ts,
        user_id=user,
        team_id="T1",
        event_id=event_id,
    )
    exchange, _ = store.capture.record_exchange(
        ref,
        [SYSTEM, {"role": "user", "content": question}],
        Answer(reply=reply, model="ft:gpt-4.1-mini-2025-04-14:acme::abc", reply_ts=f"{ts}1"),
    )
    return exchange.id
