"""Secrets in imported files, reviewer notes and log lines: none reaches the database, a
training export or a log (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curation.db import Database
from curation.store import Store
from tests.conftest import REVIEWERS, ask
from tests.secret_cases import all_cases, stored_text
from tuneloop.cli import app
from tuneloop.cli.output import configure_logging

CASES = all_cases()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_secrets_in_an_import_reach_neither_the_store_nor_the_export(
    env: str, tmp_path: Path
) -> None:
    lines = [
        {
            "messages": [
                {"role": "system", "content": "You are the Fernhill help desk."},
                {"role": "user", "content": f"Question {n}: can I paste this? {text}"},
                {"role": "assistant", "content": f"Answer {n}: never share it. You sent {text}"},
            ]
        }
        for n, (_, text, _) in enumerate(CASES)
    ]
    source = tmp_path / "with-secrets.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    code, out = _run("import", str(source), "--keep-personal-data")
    assert code == 0, out
    code, out = _run("export", "--out", str(tmp_path / "export"))
    assert code == 0, out
    exported = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "export").rglob("*"))
    db = Database.open(env)
    stored = stored_text(db)
    db.dispose()
    assert "[REDACTED:" in exported and "[REDACTED:" in stored
    for name, _, secret in CASES:
        assert secret not in stored, f"{name} reached the database"
        assert secret not in exported, f"{name} reached the export"


def test_secrets_in_reviewer_notes_are_not_stored(env: str) -> None:
    store = Store.build(Database.open(env), reviewers=REVIEWERS)
    items = []
    for n, (_, text, _) in enumerate(CASES):
        exchange_id = ask(store, f"Question {n}?", "I don't know.")
        _, item, _ = store.capture.add_correction(exchange_id, f"UFIX{n}", f"Answer {n}.")
        items.append((item.id, text))
    store.db.dispose()
    for item_id, text in items:
        code, out = _run(
            "review", "reject", str(item_id), "-r", REVIEWERS[0], "--reason", f"leaks {text}"
        )
        assert code == 0, out
    db = Database.open(env)
    stored = stored_text(db)
    db.dispose()
    for name, _, secret in CASES:
        assert secret not in stored, f"{name} in a reviewer's note reached the database"


def test_log_lines_carry_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("INFO")
    log = logging.getLogger("tuneloop.test")
    with caplog.at_level(logging.INFO):
        for _, text, _ in CASES:
            log.warning("the model failed on %r", text)
        try:
            raise RuntimeError(f"upstream said: {CASES[0][1]}")
        except RuntimeError:
            log.exception("a failure")
    written = "\n".join(caplog.handler.format(record) for record in caplog.records)
    for name, _, secret in CASES:
        assert secret not in written, f"{name} reached a log line"
