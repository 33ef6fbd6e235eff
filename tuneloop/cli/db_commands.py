"""`tuneloop db ...`: schema migrations."""

from __future__ import annotations

import typer

from tuneloop.cli.app import app
from tuneloop.cli.output import console
from tuneloop.terminal import literal

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade", short_help="Apply migrations.")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations (PostgreSQL needs this; a SQLite file is upgraded on first use)."""
    from curation.db import current_revision, upgrade
    from tuneloop.database import connection_errors, database_engine
    from tuneloop.settings import load_settings

    settings = load_settings()
    engine = database_engine(settings)
    with connection_errors(settings.resolved_database_url):
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    console.print(literal(f"{url}: {before or 'empty'} -> {after}"))
    engine.dispose()


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the code's."""
    from curation.db import current_revision, head_revision
    from tuneloop.database import connection_errors, database_engine
    from tuneloop.settings import load_settings

    settings = load_settings()
    engine = database_engine(settings, existing=True)
    with connection_errors(settings.resolved_database_url):
        revision = current_revision(engine)
    console.print(f"database: {revision or 'empty'}  code: {head_revision()}")
    engine.dispose()
