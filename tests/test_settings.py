"""Settings: read from the environment with the documented names and defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneloop.settings import Settings


def test_defaults_run_offline_on_a_sqlite_file_in_the_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "OPENAI_API_KEY", "TUNELOOP_PROVIDER", "TUNELOOP_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'tuneloop.db'}"
    assert settings.resolved_provider == "local"
    assert settings.reviewers == []


def test_environment_names_and_list_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNELOOP_REVIEWERS", "U1, U2 U3")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("TUNELOOP_EVAL_FRACTION", "0.1")
    monkeypatch.setenv(
        "TUNELOOP_MODEL_SPECS",
        '{"my-model": {"max_example_tokens": 1000, "training_price_per_million": 2}}',
    )
    settings = Settings()
    assert settings.reviewers == ["U1", "U2", "U3"]
    assert settings.resolved_database_url == "postgresql://u@h/db"
    assert settings.resolved_provider == "openai"
    assert settings.eval_fraction == 0.1
    assert settings.models.spec("ft:my-model:org::x").max_example_tokens == 1000


def test_a_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNELOOP_REVIEWERS", raising=False)
    (tmp_path / ".env").write_text("TUNELOOP_REVIEWERS=UDOTENV\n")
    assert Settings().reviewers == ["UDOTENV"]


def test_a_dotenv_file_saved_with_a_byte_order_mark_is_read_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Notepad saves "UTF-8 with BOM": the mark is no part of the first variable's name."""
    from tuneloop.settings import unknown_variables

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNELOOP_REVIEWERS", raising=False)
    (tmp_path / ".env").write_text("TUNELOOP_REVIEWERS=UBOM\n", encoding="utf-8-sig")
    assert Settings().reviewers == ["UBOM"]
    assert unknown_variables({}, tmp_path / ".env") == []


def test_tiktoken_cache_dir_in_dotenv_reaches_tiktoken(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """tiktoken reads only the environment: a team's `.env` entry is passed on, resolved
    against the folder it was read in; one already in the environment wins."""
    import os

    from tuneloop.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    (tmp_path / ".env").write_text("TIKTOKEN_CACHE_DIR=tiktoken\n")
    load_settings()
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tmp_path / "tiktoken")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "/elsewhere")
    load_settings()
    assert os.environ["TIKTOKEN_CACHE_DIR"] == "/elsewhere"


def test_bad_values_are_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNELOOP_EVAL_FRACTION", "1.5")
    with pytest.raises(ValueError, match="TUNELOOP_EVAL_FRACTION"):
        Settings()
