"""`tuneloop local-openai`: options, defaults from settings, and what it serves."""

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
    for name in ("TUNELOOP_LOCAL_OPENAI_DATA_DIR", "TUNELOOP_LOCAL_OPENAI_STAGE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(provider, "_instances", {})
    calls: dict[str, Any] = {}

    def fake_serve(handle: Any, *, host: str, port: int) -> None:
        calls.update(handle=handle, host=host, port=port)

    # The command imports the server module when it runs (the CLI starts lazily).
    monkeypatch.setattr(http_server, "serve", fake_serve)
    return calls


def test_defaults_bind_localhost_8089_with_data_under_the_data_folder(
    served: dict[str, Any], tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["local-openai"])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 8089)
    assert "OPENAI_BASE_URL=http://127.0.0.1:8089/v1" in result.output
    assert "not a language model" in result.output
    stand_in = served["handle"].__self__
    assert stand_in.data_dir == (tmp_path / "data" / "local-openai").resolve()


def test_options_override_settings(served: dict[str, Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["local-openai", "--port", "9001", "--data", str(tmp_path / "d"), "--stage-seconds", "0.5"],
    )
    assert result.exit_code == 0, result.output
    assert served["port"] == 9001
    stand_in = served["handle"].__self__
    assert stand_in.data_dir == (tmp_path / "d").resolve()
    assert stand_in.clock.stage_seconds == 0.5


def test_binding_beyond_localhost_warns(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["local-openai", "--host", "0.0.0.0"])
    assert result.exit_code == 0
    assert served["host"] == "0.0.0.0"
    assert "accepts any API key" in result.output
