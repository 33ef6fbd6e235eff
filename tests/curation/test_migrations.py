"""Migrations: the same chain on SQLite and PostgreSQL, matching the models, reversible."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

# Every package's tables live in the one database and its one migration chain; the comparison
# must see them all, whatever else pytest has imported.
import scheduler.records  # noqa: F401
from curation.db import Database, current_revision, downgrade, head_revision, make_engine, upgrade
from curation.errors import SchemaOutOfDateError
from curation.models import Base


def test_the_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diffs == []


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    engine = make_engine(database_url)
    downgrade(engine, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_a_fresh_sqlite_file_is_created_and_upgraded_on_first_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'tuneloop.db'}"
    db = Database.open(url)
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_an_out_of_date_server_database_is_refused_with_the_fix() -> None:
    import os

    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    engine = make_engine(base)
    schema = "tl_test_empty_schema"
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = engine.url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        with pytest.raises(SchemaOutOfDateError, match="tuneloop db upgrade"):
            Database.open(url.render_as_string(hide_password=False))
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def test_0005_rehashes_stored_examples_and_goes_back(database_url: str) -> None:
    """Examples stored before 0005 get the whitespace-keeping content hash that the code
    computes, so re-importing them is still a no-op; a downgrade restores the folded one."""
    import hashlib
    import json

    from curation.fingerprints import content_hash, normalise_text

    engine = make_engine(database_url)
    downgrade(engine, "0004")
    messages = [{"role": "user", "content": "What should my  .vpn.yaml look like?"}]
    target = "Use this:\r\n```yaml\ngateway:\n  host: vpn\n```"
    folded = [[m["role"], normalise_text(m["content"])] for m in messages]
    old_hash = hashlib.sha256(
        json.dumps(["example", folded, normalise_text(target)], separators=(",", ":")).encode()
    ).hexdigest()
    examples = Base.metadata.tables["examples"]
    with engine.begin() as conn:  # only the columns revision 0004 has
        conn.execute(
            examples.insert().values(
                messages=messages,
                target=target,
                source="import",
                split="train",
                golden=False,
                thread_key="k",
                content_hash=old_hash,
                prompt_hash="0" * 64,
                approved_by="U",
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT content_hash FROM examples")).scalar()
    assert stored == content_hash(messages, target) != old_hash
    downgrade(engine, "0004")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT content_hash FROM examples")).scalar() == old_hash
    upgrade(engine)
    engine.dispose()


def test_0011_rehashes_examples_whose_first_line_is_indented(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An example stored before 0011 (its hash trimmed the first line's indentation) gets the
    hash the code computes now, so re-importing it is still a no-op; others keep theirs."""
    import unicodedata

    import curation.fingerprints as fingerprints

    engine = make_engine(database_url)
    downgrade(engine, "0010")
    indented = ("def f():\n    return 1", "    return x\n  y = 1")
    plain = ("Ask IT.", "Use Okta.")
    with monkeypatch.context() as old:  # the identity before 0011: trimmed at both ends
        old.setattr(
            fingerprints,
            "exact_text",
            lambda t: unicodedata.normalize("NFC", t.replace("\r\n", "\n")).strip(),
        )
        stored = {
            answer: fingerprints.content_hash([{"role": "user", "content": question}], answer)
            for question, answer in (indented, plain)
        }
    examples = Base.metadata.tables["examples"]
    with engine.begin() as conn:
        for (question, answer), key in zip((indented, plain), ("a", "b"), strict=True):
            conn.execute(
                examples.insert().values(
                    messages=[{"role": "user", "content": question}],
                    target=answer,
                    source="import",
                    split="train",
                    golden=False,
                    thread_key=key,
                    content_hash=stored[answer],
                    prompt_hash="0" * 64,
                    approved_by="U",
                )
            )
    upgrade(engine)
    with engine.connect() as conn:
        now = dict(conn.execute(text("SELECT target, content_hash FROM examples")).all())
    for question, answer in (indented, plain):
        assert now[answer] == fingerprints.content_hash(
            [{"role": "user", "content": question}], answer
        )
    assert now[indented[1]] != stored[indented[1]] and now[plain[1]] == stored[plain[1]]
    engine.dispose()
