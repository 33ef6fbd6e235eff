"""Fixtures for the Together backend: the offline stand-in with a manual clock, a client that
records every HTTP call it makes, and training files."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

import scheduler.records  # noqa: F401  (registers the scheduler's tables for truncation)
from scheduler.training.protocol import TrainingRequest
from scheduler.training.together import TogetherClient, TogetherTrainer, TogetherTrainerConfig
from tuneloop.local_openai import ManualClock
from tuneloop.local_openai.transport import to_api_request, to_httpx_response
from tuneloop.local_together import IN_PROCESS_BASE_URL, LocalTogether

SHARED = Path(__file__).resolve().parents[3] / "shared"
if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
#: Statuses a job passes through, one clock stage (1 s) each.
STAGE = 1.0


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    authorized: bool


@dataclass
class Recorder:
    """Every request a client sent to the stand-in, in order."""

    stand_in: LocalTogether
    calls: list[Call] = field(default_factory=list)

    def transport(self) -> httpx2.MockTransport:
        def handle(request: httpx2.Request) -> httpx2.Response:
            self.calls.append(
                Call(request.method, request.url.path, "authorization" in request.headers)
            )
            return to_httpx_response(self.stand_in.handle(to_api_request(request)))

        return httpx2.MockTransport(handle)

    def sequence(self) -> list[str]:
        """`METHOD /path` of each call, ids replaced by `{id}`."""
        out = []
        for call in self.calls:
            parts = [
                "{id}" if part.startswith(("file-", "ft-")) else part
                for part in call.path.split("/")
            ]
            out.append(f"{call.method} {'/'.join(parts)}")
        return out

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(stage_seconds=STAGE)


@pytest.fixture
def stand_in(tmp_path: Path, clock: ManualClock) -> LocalTogether:
    return LocalTogether(tmp_path / "local-together", clock=clock)


@pytest.fixture
def recorder(stand_in: LocalTogether) -> Recorder:
    return Recorder(stand_in)


@pytest.fixture
def client(recorder: Recorder) -> TogetherClient:
    return TogetherClient(
        "test-key", IN_PROCESS_BASE_URL, http_client=httpx2.Client(transport=recorder.transport())
    )


MakeTrainer = Callable[..., TogetherTrainer]


@pytest.fixture
def make_trainer(client: TogetherClient) -> MakeTrainer:
    def make(**config: object) -> TogetherTrainer:
        adapters = config.pop("adapters", None)
        settings = TogetherTrainerConfig(**{"base_model": BASE, **config})  # type: ignore[arg-type]
        return TogetherTrainer(client, settings, adapters=adapters)  # type: ignore[arg-type]

    return make


def chat_line(question: str, answer: str) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "system", "content": "You are the Fernhill help desk."},
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
        }
    )


QA = [
    (f"How do I reset the {thing}?", f"Reset the {thing} from the {thing} portal.")
    for thing in ("VPN", "printer", "laptop", "badge", "headset", "monitor", "phone", "desk")
]


def write_training_file(path: Path, lines: list[str] | None = None) -> Path:
    path.write_text("\n".join(lines or [chat_line(q, a) for q, a in QA]) + "\n", encoding="utf-8")
    return path


def request_for(
    path: Path, dataset_version_id: int = 7, *, model: str = BASE, **options: object
) -> TrainingRequest:
    return TrainingRequest(
        dataset_version_id=dataset_version_id,
        train_path=path,
        eval_path=None,
        train_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        model=model,
        **options,  # type: ignore[arg-type]
    )


class Uploads:
    """What `on_uploaded` was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, kind: str, file_id: str) -> None:
        self.seen.append((kind, file_id))
