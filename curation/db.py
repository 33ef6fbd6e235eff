"""The one database: engine, sessions and migrations, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from curation.errors import SchemaOutOfDateError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.sql._typing import _DMLTableArgument

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The newest migration, as the code expects the database to be. Opening a database compares
#: its stored revision with this, and loads Alembic (and every migration script) only when
#: they differ: Alembic is a third of a command's start-up. A test holds it equal to the head
#: of the migration scripts; a new migration changes it.
HEAD_REVISION = "0011"

#: Execution option that marks a transaction as read-only (SQLite then takes no write lock).
READ_ONLY_OPTION = "tuneloop_read_only"
#: Execution option for SQLite connections that issue no BEGIN (see `Database.statements`).
AUTOCOMMIT_OPTION = "tuneloop_autocommit"

#: SQLite's page cache per connection, in KiB (SQLite's own default is 2 MiB): export's
#: newest-example-per-prompt check walks the (prompt_hash, split) index, which outgrows 2 MiB
#: at around 100,000 examples and then costs a read from the file per row. A cap, not an
#: allocation: a connection that touches few pages keeps few.
SQLITE_CACHE_KIB = 32 * 1024
#: Pages are read through a memory map of up to this much of the file (no copy per page; the
#: kernel may drop mapped pages under pressure). Export of 100,000 examples: 7.2 -> 6.4 s.
SQLITE_MMAP_BYTES = 256 * 2**20

#: How long a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys on every connection, WAL for concurrent readers, and real transactions.

    pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; the documented
    SQLAlchemy recipe turns it off and emits BEGIN itself. BEGIN IMMEDIATE takes the write lock
    up front, so two writers queue on `busy_timeout` instead of failing mid-transaction when a
    read snapshot goes stale (the approval race relies on this).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(AUTOCOMMIT_OPTION, False):
            return  # SQLite's autocommit mode: each statement is its own transaction
        conn.exec_driver_sql("BEGIN" if options.get(READ_ONLY_OPTION, False) else "BEGIN IMMEDIATE")


def make_engine(
    url: str, *, pool_size: int | None = None, max_overflow: int | None = None, **kwargs: Any
) -> Engine:
    """An engine for `url`; SQLite gets its parent folder created and its pragmas set.

    `pool_size` and `max_overflow` size SQLAlchemy's connection pool (default 5 and 10) where
    there is one: a file or a server, not a SQLite in-memory database (one connection)."""
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if not in_memory:
        if pool_size is not None:
            kwargs.setdefault("pool_size", pool_size)
        if max_overflow is not None:
            kwargs.setdefault("max_overflow", max_overflow)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship; plain postgresql:// would look for psycopg2.
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(url, pool_pre_ping=True, **kwargs)


@overload
def upsert_insert(
    dialect_name: Literal["postgresql"], table: _DMLTableArgument
) -> postgresql.Insert: ...
@overload
def upsert_insert(dialect_name: Literal["sqlite"], table: _DMLTableArgument) -> sqlite.Insert: ...
@overload
def upsert_insert(
    dialect_name: str, table: _DMLTableArgument
) -> postgresql.Insert | sqlite.Insert: ...
def upsert_insert(dialect_name: str, table: _DMLTableArgument) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` with ON CONFLICT clauses (`on_conflict_do_nothing`,
    `on_conflict_do_update`), from the SQLAlchemy dialect `dialect_name` names
    (`engine.dialect.name`): PostgreSQL's or SQLite's, the databases tuneloop stores in.

    The dialect is imported here, when a write needs it, not with the module that writes:
    SQLAlchemy's PostgreSQL dialect costs a command's start-up more than 20 ms, which a
    SQLite store never needs. Raises ValueError for any other dialect."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    if dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise ValueError(
        f"no INSERT ... ON CONFLICT for the {dialect_name!r} database: tuneloop stores in "
        "SQLite or PostgreSQL"
    )


def alembic_config(engine: Engine) -> Config:
    """Alembic configured in code, so no alembic.ini has to sit in the user's folder."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The head of the migration scripts, as Alembic reads them (it imports each script)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision, as Alembic reads it."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def stored_revision(engine: Engine) -> str | None:
    """The revision in the database's `alembic_version` table, read without loading Alembic:
    None when there is no table, no row, or several rows (heads of branches, which only
    Alembic can sort out)."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY_OPTION: True})  # SQLite: no write lock to read
        if not inspect(conn).has_table("alembic_version"):
            return None
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions[0] if len(versions) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


class Database:
    """Engine plus session factory. Use `with db.session() as s:` for one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite takes one writer at a time, and a writer that finds the lock taken sleeps in
        # SQLite's busy handler with coarse back-off (up to 100 ms a nap). Threads of this
        # process queue here instead and go the moment the lock is free; other processes
        # still meet SQLite's own locking. PostgreSQL needs no such lock.
        self._write_lock: AbstractContextManager[object] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        self._guards: tuple[Callable[[Session], None], ...] = ()

    @classmethod
    def open(
        cls,
        url: str,
        *,
        auto_upgrade_sqlite: bool = True,
        pool_size: int | None = None,
        max_overflow: int | None = None,
    ) -> Database:
        """Open `url`, upgrading a SQLite database automatically and refusing an out-of-date
        server database with the command that fixes it. `pool_size` and `max_overflow` size
        the connection pool (see `make_engine`)."""
        engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        db = cls(engine)
        if stored_revision(engine) == HEAD_REVISION:
            return db  # the usual case: no Alembic, no migration scripts loaded
        current, head = current_revision(engine), head_revision()
        if current != head:
            if engine.dialect.name == "sqlite" and auto_upgrade_sqlite:
                log.info("upgrading SQLite database %s to %s", engine.url.database, head)
                upgrade(engine)
            else:
                raise SchemaOutOfDateError(
                    f"database {engine.url.render_as_string(hide_password=True)} is at "
                    f"revision {current or 'none'}, the code needs {head}: "
                    "run `tuneloop db upgrade`"
                )
        return db

    def guarded(self, guard: Callable[[Session], None]) -> Database:
        """This database (same engine, sessions and write lock) with `guard(session)` run at
        the start of every `session()` transaction, inside it: a guard that raises refuses the
        whole transaction. For fencing (a leader's writes check that its lease token is still
        the current one, in the transaction that writes). `statements()` is not guarded: use
        `session()` for writes that must be."""
        view = copy.copy(self)
        view._guards = (*self._guards, guard)
        return view

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an exception (a
        guard's refusal too, before anything is written)."""
        with self._write_lock, self._sessions() as session, session.begin():
            for guard in self._guards:
                guard(session)
            yield session

    @contextmanager
    def statements(self, *, write: bool = True) -> Iterator[Connection]:
        """A Core connection on which every statement commits on its own, for hot paths (a
        reply's bookkeeping) made of single statements that are atomic by themselves. It
        skips the ORM's unit of work and the BEGIN/COMMIT round trips, which cost several
        times such a statement. Writers queue on the same lock as `session`."""
        with self._write_lock if write else nullcontext(), self.engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                connection.execution_options(**{AUTOCOMMIT_OPTION: True})
            else:
                connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection
            connection.commit()  # ends SQLAlchemy's own bookkeeping; the database has nothing

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it does not queue behind writers."""
        with self._sessions() as session:
            # Closing (not rolling back) ends the transaction but keeps loaded objects usable.
            session.connection(execution_options={READ_ONLY_OPTION: True})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
