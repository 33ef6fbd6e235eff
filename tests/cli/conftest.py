"""Shared set-up of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REVIEWERS, SEEDS_DIR


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Commands run in an empty folder on `database_url`, with the test reviewers and the
    sample seeds (a test file with other needs defines its own `env`)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TUNELOOP_REVIEWERS", ",".join(REVIEWERS))
    monkeypatch.setenv("TUNELOOP_SEEDS_DIR", str(SEEDS_DIR))
    return database_url
