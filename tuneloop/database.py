"""The configured database, checked before it is used.

A URL that tuneloop cannot use, a SQLite file in a folder that does not exist (a typo would
otherwise start a new, empty store) and a server that cannot be reached are refused with a
ConfigError that names the variable, its value (password hidden) and what is allowed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tuneloop.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL

    from curation.db import Database
    from tuneloop.settings import Settings

#: What DATABASE_URL may be.
ALLOWED = "sqlite:///PATH/TO/FILE.db or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
#: Seconds to wait for a PostgreSQL server before saying it cannot be reached (libpq's own
#: default is to wait for the operating system, minutes for a host that drops packets). A
#: `connect_timeout` in the URL wins.
CONNECT_TIMEOUT_S = 10
#: Hints for the driver's connection errors, by a phrase of their message.
_HINTS = {
    "does not exist": "create it (`createdb NAME`, or CREATE DATABASE), then run "
    "`tuneloop db upgrade`",
    "connection refused": "is the server running, and listening on that host and port?",
    "timeout": "is the host reachable from here (address, port, firewall)?",
    "could not translate host name": "is the host name right?",
    "name or service not known": "is the host name right?",
    "password authentication failed": "check the user name and password",
    "unable to open database file": "can this user read and write that file and its folder?",
    "file is not a database": "that file is not a SQLite database",
}


def checked_url(url: str, *, name: str = "DATABASE_URL", create_folder: bool = False) -> str:
    """`url` ready for `curation.db`, or ConfigError naming `name` (the variable or option it
    came from). A SQLite file's folder must exist unless `create_folder` (the data folder,
    which tuneloop owns). PostgreSQL gets CONNECT_TIMEOUT_S unless the URL sets one."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{name}={url!r} is not a database URL: use {ALLOWED}") from None
    shown = _shown(parsed)
    backend = parsed.get_backend_name()
    if backend == "postgres":
        fixed = parsed.set(drivername="postgresql")
        raise ConfigError(
            f"{name}={shown!r}: the scheme is postgresql://, not postgres:// (SQLAlchemy reads "
            f"only the first); use {_shown(fixed)!r}"
        )
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"{name}={shown!r}: tuneloop stores its data in SQLite or PostgreSQL; use {ALLOWED}"
        )
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().absolute().parent
            if create_folder:
                folder.mkdir(parents=True, exist_ok=True)
            elif not folder.is_dir():
                raise ConfigError(
                    f"{name}={shown!r}: the folder {folder} does not exist; create it first "
                    "(only the data folder, TUNELOOP_DATA_DIR, is created for you), or fix "
                    "the path"
                )
        return url
    if "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
        return parsed.render_as_string(hide_password=False)
    return url


def _missing_store(settings: Settings) -> Path | None:
    """The SQLite file of the settings' store when it does not exist yet, else None (it
    exists, or the store is a server's)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(settings.resolved_database_url)
    except ArgumentError:
        return None  # `checked_url` names the problem
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    path = Path(database).expanduser().absolute()
    return None if path.exists() else path


def no_store_error(settings: Settings, path: Path) -> ConfigError:
    """The refusal of a command that only reads the store, where there is none."""
    if settings.database_url:
        where = f"DATABASE_URL={_shown(settings.database_url)!r}"
    elif "data_dir" in settings.model_fields_set:
        where = f"TUNELOOP_DATA_DIR={str(settings.data_dir)!r}"
    else:
        where = "the default: neither DATABASE_URL nor TUNELOOP_DATA_DIR is set, here or in a .env"
    return ConfigError(f"no store here: {path} does not exist ({where}). {_store_hint()}")


def _env_above(folder: Path) -> Path | None:
    """The nearest folder above `folder` with a `.env` (a team's folder, run from one of its
    subfolders), or None. tuneloop itself reads only the working folder's `.env` (as
    pydantic-settings does): a parent's is named in hints, never read."""
    for parent in folder.absolute().parents:
        if (parent / ".env").is_file():
            return parent
    return None


def _store_hint() -> str:
    """What to do where a store is missing, by where tuneloop runs: a team's folder (its
    `.env` is here) has not imported yet; a subfolder of one is the wrong place."""
    if Path(".env").is_file():
        return (
            "This folder's .env is read, and no store has been made yet: run `tuneloop seeds "
            "import` to make it (after adding examples, see README.md)"
        )
    above = _env_above(Path.cwd())
    if above is not None:
        return (
            f"tuneloop reads the .env of the folder it runs in, not of the folders above: run "
            f"it from {above}, where the .env is"
        )
    return (
        "Run tuneloop from your team's folder (the one with its .env), or make one: "
        "`tuneloop init NAME`, then `cd NAME` and `tuneloop seeds import`"
    )


def settings_url(settings: Settings, *, existing: bool = False) -> str:
    """The settings' database URL, checked (DATABASE_URL, or a SQLite file in the data
    folder, which is created). Creating the default data folder is said (a warning on logger
    `tuneloop.settings`): run outside a team's folder by mistake, a command would otherwise
    start an empty store without a word. With `existing` (a command that only reads the
    store), a SQLite store that does not exist yet is refused with ConfigError saying how to
    make one, and nothing is created."""
    if existing:
        missing = _missing_store(settings)
        if missing is not None:
            raise no_store_error(settings, missing)
    default_folder = not settings.database_url and "data_dir" not in settings.model_fields_set
    if default_folder and not settings.data_dir.exists():
        above = None if Path(".env").is_file() else _env_above(Path.cwd())
        logging.getLogger("tuneloop.settings").warning(
            "no store in this folder yet: starting one in %s (TUNELOOP_DATA_DIR). %s",
            settings.data_dir.absolute(),
            f"The .env in {above} is not read from here (a subfolder): run tuneloop from there"
            if above is not None
            else "A team folder written by `tuneloop init` has its own .env: run tuneloop "
            "from there",
        )
    return checked_url(settings.resolved_database_url, create_folder=not settings.database_url)


def open_database(settings: Settings, *, existing: bool = False) -> Database:
    """The configured database, checked and reachable; a SQLite file is created and migrated
    on first use, unless `existing` (for commands that only read the store: see
    `settings_url`). Raises ConfigError when it cannot be used."""
    from curation.db import Database

    url = settings_url(settings, existing=existing)
    with connection_errors(settings.resolved_database_url):
        return Database.open(
            url, pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow
        )


def database_engine(settings: Settings, *, existing: bool = False) -> Engine:
    """A bare engine on the checked URL (for migrations; `existing`: see `settings_url`)."""
    from curation.db import make_engine

    return make_engine(settings_url(settings, existing=existing))


@contextmanager
def connection_errors(url: str, *, name: str = "DATABASE_URL") -> Iterator[None]:
    """The driver's connection failures inside the block, as ConfigError naming `name`, the
    URL as given (password hidden), the driver's words and a hint."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except OperationalError as exc:
        said = " ".join(str(exc.orig or exc).split())
        said = said.removeprefix("connection failed: ")
        hint = next((h for phrase, h in _HINTS.items() if phrase in said.lower()), None)
        raise ConfigError(
            f"cannot open the database {name}={_shown(url)!r}: {said}"
            + (f" ({hint})" if hint else "")
        ) from None


def _shown(url: URL | str) -> str:
    """The URL as it may be printed: password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


#: Tables that hold counts kept for speed (filled by migrations and triggers), and the
#: scheduler's lease: bookkeeping, not data.
BOOKKEEPING_TABLES = frozenset({"example_tallies", "kept_counts", "scheduler_leases"})


def tables_with_rows(db: Database) -> list[str]:
    """The store's tables (the curated store's and the scheduler's records) that hold at
    least one row, bookkeeping aside."""
    from sqlalchemy import select

    import scheduler.records  # registers the scheduler's tables
    import scheduler.registry  # noqa: F401  (and model versions, promotions)
    from curation.models import Base

    with db.read_session() as session:
        return [
            table.name
            for table in Base.metadata.sorted_tables
            if table.name not in BOOKKEEPING_TABLES
            and session.execute(select(1).select_from(table).limit(1)).first() is not None
        ]


def open_empty_database(url: str, *, name: str) -> Database:
    """The database at `url` (from option `name`), migrated where SQLite allows it, refused
    with ConfigError when it already holds data: what runs there (the demo) would mix its
    sample company's examples and models into someone's store."""
    from curation.db import Database

    checked = checked_url(url, name=name)
    with connection_errors(url, name=name):
        db = Database.open(checked)
    full = tables_with_rows(db)
    if full:
        db.dispose()
        raise ConfigError(
            f"{name}={_shown(url)!r} already holds data (in {', '.join(full)}): the demo needs an "
            "empty database of its own, and never writes into one in use; give a new one "
            "(after `tuneloop db upgrade` for PostgreSQL), or leave the option out for a "
            "temporary SQLite file"
        )
    return db


class NewStore:
    """A command's store that is dropped again when the command added nothing to it.

    An import that fails (or finds nothing to import) in a folder with no store yet would
    otherwise leave an empty SQLite store behind, and the next command would read it as
    this folder's store. Only a SQLite file this command created is removed, with the folders
    made for it; a store that existed, or a server's, is never touched. Repeating the command
    does the same again (idempotent)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: The SQLite file, when it does not exist yet; None for an existing or server store.
        self.path = _missing_store(settings)
        self._folders: list[Path] = []
        if self.path is not None:
            for folder in self.path.parents:
                if folder.exists():
                    break
                self._folders.append(folder)
        self.db: Database | None = None
        #: Set by the command once something was stored: the store is then kept.
        self.used = False

    def open(self) -> Database:
        """The configured database (`open_database`): created and migrated if need be."""
        self.db = open_database(self.settings)
        return self.db

    def drop_if_unused(self) -> Path | None:
        """Remove the store this command created when nothing was stored in it; returns its
        path when removed, else None."""
        if self.path is None or self.used or not self.path.exists():
            return None
        if self.db is not None:
            self.db.dispose()  # (SQLite folds its write-ahead log back into the file)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        for folder in self._folders:
            try:
                folder.rmdir()
            except OSError:  # not empty: something else was written there meanwhile
                break
        return self.path


@contextmanager
def store_kept_if_used(settings: Settings) -> Iterator[NewStore]:
    """Around a command that may store nothing: see `NewStore`. A store it removes is said
    (a warning on logger `tuneloop.settings`, which names it as it was started)."""
    store = NewStore(settings)
    try:
        yield store
    finally:
        removed = store.drop_if_unused()
        if removed is not None:
            logging.getLogger("tuneloop.settings").warning(
                "nothing was imported, so the new store %s was not kept", removed
            )
