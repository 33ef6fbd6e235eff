"""Fixtures for the stand-in's tests: a stand-in on a manual clock, real SDK clients into it in
process and over HTTP, and the OpenAPI contract check of every exchange those clients make."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import openai
import pytest

from tests.local_openai.contract import ContractValidator, Exchange, RecordingTransport
from tuneloop.local_openai import ApiRequest, ApiResponse, LocalOpenAI, ManualClock
from tuneloop.local_openai.http_server import RunningServer, serve_in_thread
from tuneloop.local_openai.transport import IN_PROCESS_BASE_URL

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
SPEC_PATH = SHARED / "openai-openapi" / "openapi.yaml"
TRAINING_SPEC_PATH = SHARED / "openai-openapi" / "openapi-2025-05-20-with-training-formats.yaml"
TRANSPORTS = ("in_process", "http")

# tiktoken reads its encodings from the shared folder when there is no internet.
if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))


@pytest.fixture(scope="session")
def contract() -> ContractValidator | None:
    """OpenAI's spec, parsed once per session; None where the shared folder lacks it."""
    return ContractValidator(SPEC_PATH) if SPEC_PATH.is_file() else None


@pytest.fixture
def exchanges(contract: ContractValidator | None) -> Iterator[list[Exchange]]:
    """Every exchange a test's clients make; checked against the spec when the test ends."""
    log: list[Exchange] = []
    yield log
    if contract is not None:
        problems = contract.problems(log)
        if problems:
            pytest.fail("OpenAPI contract violations:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(stage_seconds=1.0)


@pytest.fixture
def stand_in(tmp_path: Path, clock: ManualClock) -> LocalOpenAI:
    return LocalOpenAI(tmp_path / "stand-in", clock=clock)


class Switchboard:
    """Lets one HTTP server per module serve whichever stand-in the current test uses."""

    def __init__(self) -> None:
        self.target: LocalOpenAI | None = None

    def handle(self, request: ApiRequest) -> ApiResponse:
        assert self.target is not None, "no stand-in is plugged into the HTTP server"
        return self.target.handle(request)


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[Switchboard, RunningServer]]:
    """uvicorn on 127.0.0.1 and a free port, in a thread, for the whole test module."""
    board = Switchboard()
    with serve_in_thread(board.handle) as server:
        yield board, server


@dataclass
class Api:
    """A stand-in and a way to reach it (in process or over HTTP) with the real SDK."""

    transport: str
    stand_in: LocalOpenAI
    clock: ManualClock
    _connect: Callable[[int], openai.OpenAI]
    _clients: list[openai.OpenAI] = field(default_factory=list)

    def client(self, max_retries: int = 0) -> openai.OpenAI:
        """An SDK client (no retries unless asked, so errors surface at once)."""
        made = self._connect(max_retries)
        self._clients.append(made)
        return made

    def close(self) -> None:
        for made in self._clients:
            made.close()


def connect(
    transport: str,
    stand_in: LocalOpenAI,
    log: list[Exchange],
    request: pytest.FixtureRequest,
) -> Callable[[int], openai.OpenAI]:
    """How to build recorded SDK clients into `stand_in` over `transport`."""
    if transport == "in_process":
        base_url = IN_PROCESS_BASE_URL

        def inner() -> httpx2.BaseTransport:
            return stand_in.transport()
    else:
        board, server = request.getfixturevalue("http_server")
        board.target = stand_in
        base_url = server.base_url

        def inner() -> httpx2.BaseTransport:
            return httpx2.HTTPTransport()

    def make(max_retries: int) -> openai.OpenAI:
        http_client = httpx2.Client(transport=RecordingTransport(inner(), log))
        return openai.OpenAI(
            api_key="test-key", base_url=base_url, http_client=http_client, max_retries=max_retries
        )

    return make


@pytest.fixture(params=TRANSPORTS)
def api(
    request: pytest.FixtureRequest,
    stand_in: LocalOpenAI,
    clock: ManualClock,
    exchanges: list[Exchange],
) -> Iterator[Api]:
    """The stand-in through the real SDK, once in process and once over HTTP."""
    reach = Api(
        request.param, stand_in, clock, connect(request.param, stand_in, exchanges, request)
    )
    yield reach
    reach.close()


@pytest.fixture
def client(api: Api) -> openai.OpenAI:
    return api.client()
