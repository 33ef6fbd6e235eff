"""Choosing the provider: the stand-in by default, OpenAI (or any compatible server at
OPENAI_BASE_URL) with a key, announced once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local_openai.conftest import Switchboard
from tests.local_openai.helpers import FAQ, ask, sft_file, train
from tuneloop import provider
from tuneloop.local_openai import LocalOpenAI, ManualClock
from tuneloop.local_openai.http_server import RunningServer
from tuneloop.local_openai.transport import IN_PROCESS_BASE_URL
from tuneloop.settings import Settings

_ENV = (
    "TUNELOOP_PROVIDER",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "TUNELOOP_DATA_DIR",
    "TUNELOOP_LOCAL_OPENAI_DATA_DIR",
    "TUNELOOP_LOCAL_OPENAI_STAGE_SECONDS",
    "TUNELOOP_LOCAL_OPENAI_LOAD_DELAY_SECONDS",
    "TUNELOOP_LOCAL_OPENAI_SIMILARITY_THRESHOLD",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setattr(provider, "_announced", None)
    monkeypatch.setattr(provider, "_instances", {})
    yield


def settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def test_without_a_key_the_stand_in_is_used_and_announced_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configured = settings(data_dir=tmp_path / "data")
    assert configured.resolved_provider == "local"
    with caplog.at_level(logging.INFO, logger="tuneloop.provider"):
        client = provider.build_openai_client(configured)
        again = provider.build_openai_client(configured)
    assert str(client.base_url).rstrip("/") == IN_PROCESS_BASE_URL
    announcements = [r.getMessage() for r in caplog.records if r.name == "tuneloop.provider"]
    assert len(announcements) == 1
    assert "OPENAI_API_KEY is not set" in announcements[0]
    assert "not a language model" in announcements[0]
    # One stand-in per data folder: both clients see the same state.
    made = client.files.create(file=("n.txt", b"x"), purpose="user_data")
    assert again.files.retrieve(made.id).id == made.id
    assert (tmp_path / "data" / "local-openai" / "files" / f"{made.id}.json").exists()


def test_the_stand_in_follows_its_settings(tmp_path: Path) -> None:
    configured = settings(
        provider="local",
        local_openai_data_dir=tmp_path / "elsewhere",
        local_openai_stage_seconds=0,
        local_openai_load_delay_seconds=0,
        local_openai_similarity_threshold=90,
    )
    stand_in = provider.local_openai_from_settings(configured)
    assert stand_in.data_dir == (tmp_path / "elsewhere").resolve()
    assert stand_in.clock.stage_seconds == 0
    client = provider.build_openai_client(configured)
    file_id = client.files.create(file=("t.jsonl", sft_file()), purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.fine_tuned_model
    assert ask(client, done.fine_tuned_model, FAQ[0][0]) == FAQ[0][1]


def test_a_given_stand_in_is_used_as_is(tmp_path: Path) -> None:
    clock = ManualClock()
    mine = LocalOpenAI(tmp_path / "mine", clock=clock)
    client = provider.build_openai_client(settings(), local=mine)
    done = train(client, clock)
    assert done.fine_tuned_model in [m.id for m in mine.client().models.list()]


def test_openai_mode_honours_base_url_and_key(
    http_server: tuple[Switchboard, RunningServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    board, server = http_server
    board.target = LocalOpenAI(tmp_path / "served", clock=ManualClock())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    configured = Settings()
    assert configured.resolved_provider == "openai"
    with caplog.at_level(logging.INFO, logger="tuneloop.provider"):
        client = provider.build_openai_client(configured, max_retries=0)
    assert str(client.base_url).rstrip("/") == server.base_url
    assert client.api_key == "sk-test"
    assert any(server.base_url in r.getMessage() for r in caplog.records)
    assert "gpt-4o-mini" in [m.id for m in client.models.list()]  # over real HTTP


def test_openai_mode_without_a_key_says_what_to_set() -> None:
    with pytest.raises(provider.ProviderConfigError, match="OPENAI_API_KEY"):
        provider.build_openai_client(settings(provider="openai"))
