"""The framework-free router both transports share, called directly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.local_openai.helpers import sft_file, upload
from tuneloop.local_openai import ApiRequest, LocalOpenAI, ManualClock
from tuneloop.local_openai.files import FileService

AUTH = {"authorization": "Bearer k"}


def call(
    stand_in: LocalOpenAI, method: str, path: str, query: tuple[tuple[str, str], ...] = ()
) -> tuple[int, dict[str, Any]]:
    response = stand_in.handle(ApiRequest(method, path, query=query, headers=AUTH))
    return response.status, json.loads(response.body)


def test_metadata_null_lists_jobs_without_metadata(
    stand_in: LocalOpenAI, clock: ManualClock
) -> None:
    client = stand_in.client()
    file_id = upload(client, clock, sft_file())
    bare = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, metadata={"a": "1"})
    status, body = call(stand_in, "GET", "/v1/fine_tuning/jobs", query=(("metadata", "null"),))
    assert status == 200
    assert [job["id"] for job in body["data"]] == [bare.id]


def test_an_unexpected_failure_is_a_500_in_openais_envelope(
    stand_in: LocalOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(FileService, "list", broken)
    status, body = call(stand_in, "GET", "/v1/files")
    assert status == 500
    assert body["error"]["type"] == "server_error"
    assert "disk on fire" not in body["error"]["message"]


@pytest.mark.parametrize(
    ("query", "code"),
    [((("limit", "0"),), "integer_below_min_value"), ((("limit", "x"),), "invalid_type")],
)
def test_bad_limits(stand_in: LocalOpenAI, query: tuple[tuple[str, str], ...], code: str) -> None:
    status, body = call(stand_in, "GET", "/v1/fine_tuning/jobs", query=query)
    assert (status, body["error"]["code"], body["error"]["param"]) == (400, code, "limit")


def test_paths_outside_v1_are_invalid_urls(stand_in: LocalOpenAI) -> None:
    status, body = call(stand_in, "GET", "/models")
    assert status == 404 and body["error"]["message"] == "Invalid URL (GET /models)"
