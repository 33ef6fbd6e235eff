"""Faults on demand: 429 with retry-after, server errors, latency, limited to some paths."""

from __future__ import annotations

import time

import openai
import pytest

from tests.local_openai.conftest import Api

HELLO = [{"role": "user", "content": "hello"}]


def test_429_for_the_next_n_calls_with_retry_after(api: Api) -> None:
    client = api.client(max_retries=0)
    api.stand_in.faults.rate_limit(2, retry_after_s=3)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as raised:
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
        assert raised.value.response.headers["retry-after"] == "3"
        assert raised.value.code == "rate_limit_exceeded"
    assert client.chat.completions.create(model="gpt-4o-mini", messages=HELLO).choices  # type: ignore[arg-type]


def test_the_sdk_retries_after_the_advertised_wait(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = api.client(max_retries=2)
    api.stand_in.faults.rate_limit(2, retry_after_s=0.01)
    waits: list[float] = []  # what the SDK slept between attempts, not the wall clock
    monkeypatch.setattr(openai._base_client.time, "sleep", waits.append)
    reply = client.with_options(max_retries=2).models.list()
    assert reply.data
    assert len(waits) == 2 and sum(waits) < 1  # honoured retry-after-ms, not the 0.5 s back-off
    assert api.stand_in.faults.rate_limited_calls == 0


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(api: Api, status: int) -> None:
    client = api.client(max_retries=0)
    api.stand_in.faults.fail_requests(1, status=status)
    with pytest.raises(openai.InternalServerError) as raised:
        client.models.list()
    assert raised.value.status_code == status
    assert raised.value.body is not None
    assert client.models.list().data


def test_faults_can_be_limited_to_some_paths(api: Api) -> None:
    client = api.client(max_retries=0)
    api.stand_in.faults.only_paths = ("/chat/completions",)
    api.stand_in.faults.fail_requests(1)
    assert client.models.list().data  # not affected, and the fault is still pending
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]


def test_added_latency(api: Api) -> None:
    client = api.client()
    api.stand_in.faults.latency_s = 0.2
    started = time.monotonic()
    client.models.retrieve("gpt-4o-mini")
    assert time.monotonic() - started >= 0.2
    api.stand_in.faults.clear()
    assert api.stand_in.faults.latency_s == 0
