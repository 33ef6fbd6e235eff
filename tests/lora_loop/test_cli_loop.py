"""The self-hosted LoRA loop through the real CLI, with no OpenAI key: seeds, `retrain --now
--wait` (a real TRL + PEFT worker on the tiny model, the adapter loaded into the vLLM stand-in,
evaluated and gated), promotion and rollback by hand with no restart, and a restarted server
that the bot's reply path reloads.

SQLite only: real training is slow, and the cycle's database code is the same one the OpenAI
backend's tests run on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

pytest.importorskip("trl", reason="the lora extra is not installed")

from bot.replies import ModelCall
from curation.db import Database
from scheduler.records import TrainingRun
from scheduler.training.lora import AdapterStore
from tests.conftest import SEEDS_DIR
from tests.serving.servers import API_KEY, BaseModel, StandInServer
from tuneloop.base_models import TINY_MODEL_NAME, build_tiny_model
from tuneloop.cli import app
from tuneloop.settings import load_settings
from tuneloop.wiring import build_cycle_runner, model_reloader

pytestmark = pytest.mark.slow
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / TINY_MODEL_NAME)


@pytest.fixture
def server(tiny_model: Path) -> Iterator[StandInServer]:
    running = StandInServer(BaseModel(tiny_model, TINY_MODEL_NAME))
    yield running
    running.stop()


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model: Path, server: StandInServer
) -> Path:
    data = tmp_path / "data"
    settings = {
        "TUNELOOP_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'tuneloop.db'}",
        "TUNELOOP_TRAINER": "lora",
        "TUNELOOP_BASE_MODEL": TINY_MODEL_NAME,
        "TUNELOOP_LORA_BASE_MODEL_PATH": str(tiny_model),
        "TUNELOOP_VLLM_URL": server.base_url,
        "TUNELOOP_VLLM_API_KEY": API_KEY,
        "TUNELOOP_LORA_RANK": "4",
        "TUNELOOP_LORA_ALPHA": "8",
        "TUNELOOP_LORA_MAX_SEQ_LENGTH": "1024",
        "TUNELOOP_EPOCHS": "1",
        "TUNELOOP_EVAL_MAX_TOKENS": "8",
        "TUNELOOP_GATE_MIN_EVAL_ITEMS": "10",
        "TUNELOOP_REVIEWERS": "UREVIEW1",
        "TUNELOOP_SEEDS_DIR": str(SEEDS_DIR),
        "HF_HUB_OFFLINE": "1",
    }
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return data


def served(server: StandInServer) -> set[str]:
    return {m.id for m in server.client().models.list()}


def test_retrain_trains_serves_evaluates_and_decides_without_openai(
    env: Path, server: StandInServer
) -> None:
    assert run("seeds", "import")[0] == 0
    code, out = run("retrain", "--now", "--wait", "--json", "--poll-seconds", "1")
    report = json.loads(out)
    assert report["outcome"] in ("promoted", "rejected", "insufficient_evidence"), out
    adapters = AdapterStore(env / "adapters").list()
    assert [a.name for a in adapters] == ["tuneloop-lora-dv1"]
    adapter = adapters[0]
    assert adapter.base_model == TINY_MODEL_NAME
    settings = load_settings()
    db = Database.open(settings.resolved_database_url)
    with db.read_session() as session:
        trained = session.scalars(select(TrainingRun)).one()
    assert (trained.fine_tuned_model, trained.artifact_sha256) == (adapter.name, adapter.sha256)
    assert trained.trainer == "lora" and trained.trained_tokens

    # Promotion and rollback by hand: the serving side follows at once, nothing restarts.
    if report["outcome"] != "promoted":
        code, out = run("models", "promote", adapter.name, "--reason", "by hand")
        assert code == 0, out
    assert served(server) == {TINY_MODEL_NAME, adapter.name}
    reply = server.client().chat.completions.create(
        model=adapter.name, messages=[{"role": "user", "content": "hi"}], max_tokens=4
    )
    assert reply.model == adapter.name

    # A restarted vLLM has forgotten its adapters; the bot's reply path loads it again.
    server.restart()
    assert served(server) == {TINY_MODEL_NAME}
    cycle_runner = build_cycle_runner(settings, db)
    call = ModelCall(
        cycle_runner.ctx.client,
        max_tokens=4,
        timeout_s=60,
        reload_model=model_reloader(cycle_runner),
    )
    answer = call.stream(adapter.name, [{"role": "user", "content": "How do I reset Okta?"}])
    assert "".join(answer)
    assert served(server) == {TINY_MODEL_NAME, adapter.name}

    code, out = run("models", "rollback", "--reason", "back")
    assert code == 0, out
    assert served(server) == {TINY_MODEL_NAME}
    code, out = run("status", "--json")
    assert json.loads(out)["active_model"]["model"] == TINY_MODEL_NAME
    db.dispose()


def test_without_a_vllm_url_the_lora_backend_says_what_to_set(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUNELOOP_VLLM_URL")
    code, out = run("retrain", "--now")
    assert code == 1 and "TUNELOOP_VLLM_URL" in out and "tuneloop local-vllm" in out
    assert "Traceback" not in out
