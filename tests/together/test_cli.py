"""`TUNELOOP_TRAINER=together` through the real command line: `retrain --now --wait` against
the in-process stand-in and against `tuneloop local-together` over HTTP, and the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curation.db import Database
from scheduler.serving import VLLMAdapterServing
from scheduler.training.together import TogetherTrainer
from tests.scheduler.test_cycle import seed
from tests.together.conftest import BASE
from tuneloop.cli import app
from tuneloop.local_openai import RealClock
from tuneloop.local_openai.http_server import serve_in_thread
from tuneloop.local_together import LocalTogether
from tuneloop.provider import ProviderConfigError, build_openai_client, describe_provider
from tuneloop.settings import load_settings
from tuneloop.wiring import build_serving, build_trainer

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)
    for name in (
        "TOGETHER_API_KEY",
        "TOGETHER_BASE_URL",
        "TUNELOOP_BASE_MODEL",
        "TUNELOOP_PROVIDER",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TUNELOOP_TRAINER", "together")
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TUNELOOP_LOCAL_OPENAI_STAGE_SECONDS", "0")
    monkeypatch.setenv("TUNELOOP_LOCAL_OPENAI_LOAD_DELAY_SECONDS", "0")
    monkeypatch.setenv("TUNELOOP_MIN_NEW_EXAMPLES", "10")
    monkeypatch.setenv("TUNELOOP_GATE_MIN_EVAL_ITEMS", "10")
    monkeypatch.setenv("TUNELOOP_REVIEWERS", "UREVIEW1")
    return database_url


def test_retrain_now_wait_trains_serves_evaluates_and_decides(env: str, db: Database) -> None:
    seed(db)
    result = runner.invoke(app, ["retrain", "--now", "--wait", "--json", "--poll-seconds", "0"])
    code, out = result.exit_code, result.stdout
    # No TOGETHER_API_KEY: the stand-in's figures and "cost" must not pass for Together's.
    assert "local Together stand-in (TUNELOOP_TRAINER=together, no TOGETHER_API_KEY)" in (
        result.stderr
    )
    assert code == 0, out
    report = json.loads(out)
    assert report["outcome"] == "promoted", report
    code, out = run("status", "--json")
    status = json.loads(out)
    active = status["active_model"]["model"]
    assert active.startswith("tuneloop-local/Meta-Llama-3.1-8B-Instruct-Reference-tuneloop-dv")
    assert status["recent_decisions"][0]["verdict"] == "promote"
    assert status["recent_cycles"][0]["outcome"] == "promoted"


def test_retrain_against_the_stand_in_over_http(
    env: str, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stand_in = LocalTogether(tmp_path / "served", clock=RealClock(0))
    with serve_in_thread(stand_in.handle) as server:
        monkeypatch.setenv("TOGETHER_BASE_URL", server.base_url)
        monkeypatch.setenv("TOGETHER_API_KEY", "local")
        assert describe_provider(load_settings()).startswith(
            f"Model provider: Together AI at {server.base_url}"
        )
        seed(db)
        code, out = run("retrain", "--now", "--wait", "--json", "--poll-seconds", "0")
        assert code == 0, out
        assert json.loads(out)["outcome"] == "promoted"
        [job] = stand_in.client().list_fine_tunes()
        assert job["status"] == "completed"
    assert not (tmp_path / "data" / "local-together").exists()  # the real-API path was used


def test_wiring_follows_the_settings(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.base_model == BASE and not settings.serves_on_vllm
    client = build_openai_client(settings, max_retries=0)
    assert isinstance(build_trainer(settings, client), TogetherTrainer)
    assert build_serving(settings, client) is None
    assert "local Together stand-in" in describe_provider(settings)
    vllm = load_settings(together_serving="vllm", vllm_url="http://127.0.0.1:9/v1")
    assert vllm.serves_on_vllm
    assert isinstance(build_serving(vllm, build_openai_client(vllm)), VLLMAdapterServing)
    with pytest.raises(ProviderConfigError, match="TUNELOOP_TOGETHER_SERVING=vllm"):
        build_openai_client(load_settings(together_serving="vllm"))
    with pytest.raises(ValueError, match="a full fine-tune"):
        load_settings(together_serving="vllm", together_training_type="full")


@pytest.mark.slow
def test_demo_with_the_together_stand_in_exits_0(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TUNELOOP_TRAINER", "DATABASE_URL", "TOGETHER_API_KEY", "TUNELOOP_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    code, out = run("demo", "--trainer", "together", "--json", "--report", str(tmp_path / "r.md"))
    assert code == 0, out
    summary = json.loads(out[out.index("{") :])
    assert summary["numbers"]["trainer"] == "together"
    assert summary["ok"] is True
