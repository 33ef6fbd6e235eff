"""Alembic environment: runs migrations on the engine that curation.db hands it.

On SQLite, migrations use batch mode (SQLite cannot ALTER most things), and foreign keys are
switched off around them: a batch rebuild of a parent table drops and recreates it, and with
foreign keys on, ON DELETE CASCADE would silently delete every child row. `PRAGMA foreign_keys`
is a no-op inside a transaction, so it is set on the raw connection before Alembic begins one,
and `foreign_key_check` afterwards proves the rebuild left no dangling reference. The check
reads every row, so it runs only when a migration did (an up-to-date `tuneloop db upgrade` on a
big store stays instant).
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Engine

from curation.db import make_engine
from curation.models import Base

config = context.config
# The composition root may pass a metadata that also holds other packages' tables (the
# scheduler's), so autogenerate and comparisons see the whole database.
target_metadata = config.attributes.get("metadata", Base.metadata)


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no engine or sqlalchemy.url given to the migrations")
    return make_engine(url)


def run_migrations_online() -> None:
    engine = _engine()
    applied: list[Any] = []  # Alembic's MigrationInfo of each step run

    def _note_applied(*, step: Any, **_: Any) -> None:
        applied.append(step)

    with engine.connect() as connection:
        is_sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.driver_connection if is_sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=is_sqlite,
                compare_type=True,
                on_version_apply=_note_applied,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
            if raw is not None and applied:
                problems = raw.execute("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise RuntimeError(f"migration left broken foreign keys: {problems[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise RuntimeError(
        "offline (SQL script) migrations are not supported; use `tuneloop db upgrade`"
    )
run_migrations_online()
