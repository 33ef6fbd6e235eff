"""Over HTTP with a plain HTTP client: what the SDK hides (status lines, headers, SSE framing,
error envelopes for unauthenticated or malformed calls), and many threads at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx2
import openai
import pytest

from tests.local_openai.conftest import Switchboard
from tests.local_openai.helpers import FAQ, ask, train
from tuneloop.local_openai import LocalOpenAI, ManualClock
from tuneloop.local_openai.api import ApiRequest, ApiResponse
from tuneloop.local_openai.http_server import RunningServer, serve_in_thread

AUTH = {"Authorization": "Bearer anything"}


@pytest.fixture
def http(
    http_server: tuple[Switchboard, RunningServer], stand_in: LocalOpenAI
) -> Iterator[httpx2.Client]:
    board, server = http_server
    board.target = stand_in
    with httpx2.Client(base_url=server.base_url) as client:
        yield client


def test_the_server_listens_on_localhost_under_v1(
    http_server: tuple[Switchboard, RunningServer],
) -> None:
    _board, server = http_server
    assert server.host == "127.0.0.1" and server.port > 0
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"


def test_a_call_without_a_key_is_401_in_openais_envelope(http: httpx2.Client) -> None:
    response = http.get("/models")
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert "Bearer" in error["message"]


def test_unknown_paths_and_methods_are_invalid_urls(http: httpx2.Client) -> None:
    for method, path in (("GET", "/nothing"), ("PUT", "/models")):
        response = http.request(method, path, headers=AUTH)
        assert response.status_code == 404
        assert response.json()["error"]["message"] == f"Invalid URL ({method} /v1{path})"


def test_a_body_that_is_not_json_is_400(http: httpx2.Client) -> None:
    response = http.post(
        "/chat/completions", content=b"{nope", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "could not parse the JSON body" in response.json()["error"]["message"]


def test_responses_carry_openai_headers(http: httpx2.Client) -> None:
    response = http.get("/models", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")
    assert "openai-processing-ms" in response.headers


def test_streams_are_server_sent_events(http: httpx2.Client) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with http.stream("POST", "/chat/completions", json=body, headers=AUTH) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_rate_limits_send_retry_after(http: httpx2.Client, stand_in: LocalOpenAI) -> None:
    stand_in.faults.rate_limit(1, retry_after_s=2.5)
    response = http.get("/models", headers=AUTH)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["retry-after-ms"] == "2500"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_many_threads_at_once(
    http_server: tuple[Switchboard, RunningServer], tmp_path_factory: pytest.TempPathFactory
) -> None:
    board, server = http_server
    clock = ManualClock(stage_seconds=1.0)
    board.target = stand_in = LocalOpenAI(tmp_path_factory.mktemp("busy"), clock=clock)
    done = train(stand_in.client(), clock)
    model = done.fine_tuned_model
    assert model is not None

    def work(index: int) -> str:
        with openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0) as client:
            if index % 4 == 0:
                client.files.create(file=(f"f{index}.txt", b"x"), purpose="user_data")
            return ask(client, model, FAQ[index % len(FAQ)][0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(work, range(32)))
    assert answers == [FAQ[i % len(FAQ)][1] for i in range(32)]
    assert len(stand_in.client().files.list(purpose="user_data").data) == 8


def test_more_requests_are_handled_at_once_than_starlettes_forty_threads() -> None:
    """200 callers waiting on a slow model all wait together: none queues behind the others
    (Starlette's thread pool takes 40 at a time, which made 200 one-second completions take
    five seconds)."""
    at_once = 64
    everyone_in = threading.Barrier(at_once)

    def handle(request: ApiRequest) -> ApiResponse:
        everyone_in.wait(timeout=20)  # broken (and 500) unless all are inside together
        return ApiResponse(200, {"content-type": "application/json"}, b"{}")

    with (
        serve_in_thread(handle) as server,
        httpx2.Client(
            base_url=server.base_url, limits=httpx2.Limits(max_connections=at_once)
        ) as client,
        ThreadPoolExecutor(at_once) as callers,
    ):
        statuses = list(callers.map(lambda _: client.get("/models").status_code, range(at_once)))
    assert statuses == [200] * at_once
