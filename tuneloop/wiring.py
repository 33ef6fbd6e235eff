"""Builds the parts from settings and hands each what it needs."""

from __future__ import annotations

from curation.db import Database
from curation.importing import read_system_prompt
from curation.store import Store
from tuneloop.settings import Settings


def open_database(settings: Settings) -> Database:
    """The configured database; a SQLite file is created and migrated on first use."""
    return Database.open(settings.resolved_database_url)


def open_store(settings: Settings, db: Database | None = None) -> Store:
    return Store.build(
        db or open_database(settings),
        reviewers=settings.reviewers,
        eval_fraction=settings.eval_fraction,
    )


def system_prompt(settings: Settings) -> str | None:
    return read_system_prompt(settings.system_prompt_file)
