"""`tuneloop local-together`: options, defaults from settings, and what it serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tuneloop import provider
from tuneloop.cli import app
from tuneloop.local_openai import http_server


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """Record what the command would serve instead of blocking on a real server."""
    for name in ("TUNELOOP_LOCAL_TOGETHER_DATA_DIR", "TUNELOOP_LOCAL_OPENAI_STAGE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(provider, "_together_instances", {})
    calls: dict[str, Any] = {}

    def fake_serve(handle: Any, *, host: str, port: int) -> None:
        calls.update(handle=handle, host=host, port=port)

    monkeypatch.setattr(http_server, "serve", fake_serve)
    return calls


def test_defaults_and_the_settings_to_use(served: dict[str, Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["local-together"])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 8091)
    assert "TOGETHER_BASE_URL=http://127.0.0.1:8091/v1" in result.output
    assert "not a language model" in result.output
    stand_in = served["handle"].__self__
    assert stand_in.data_dir == (tmp_path / "data" / "local-together").resolve()


def test_options_override_settings(served: dict[str, Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["local-together", "--port", "9002", "--data", str(tmp_path / "d"), "--stage-seconds", "3"],
    )
    assert result.exit_code == 0, result.output
    stand_in = served["handle"].__self__
    assert (served["port"], stand_in.clock.stage_seconds) == (9002, 3.0)
    assert stand_in.data_dir == (tmp_path / "d").resolve()
    warned = CliRunner().invoke(app, ["local-together", "--host", "0.0.0.0"])
    assert "accepts any API key" in warned.output
