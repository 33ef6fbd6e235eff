"""The database connection pool is sized by TUNELOOP_DATABASE_POOL_SIZE and _MAX_OVERFLOW, on
SQLite files and PostgreSQL alike: SQLAlchemy's default (5, and 10 more) made 200 answers at
once queue for connections."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.pool import QueuePool

from tuneloop.database import open_database
from tuneloop.settings import load_settings


def test_the_pool_is_sized_by_the_settings(database_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, database_url=database_url, database_pool_size=24, database_max_overflow=3
    )
    db = open_database(settings)
    try:
        pool = db.engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow) == (24, 3)
    finally:
        db.dispose()


def test_the_default_pool_serves_a_burst_of_answers(tmp_path: Path) -> None:
    db = open_database(load_settings(data_dir=tmp_path))
    try:
        assert db.engine.pool.size() == 20
    finally:
        db.dispose()
