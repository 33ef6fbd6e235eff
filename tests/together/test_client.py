"""The small Together client: the three-call upload, downloads, and errors in Together's words."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from scheduler.training.together import (
    TogetherClient,
    TogetherError,
    TogetherRateLimited,
    TogetherUnavailable,
)
from tests.together.conftest import Recorder
from tuneloop.local_openai.http_server import serve_in_thread
from tuneloop.local_together import LocalTogether


def test_an_upload_is_three_calls_and_the_presigned_put_carries_no_key(
    client: TogetherClient, recorder: Recorder
) -> None:
    uploaded = client.upload_file("data.jsonl", b'{"messages": []}\n')
    assert recorder.sequence() == [
        "POST /v1/files",
        "PUT /upload/{id}",
        "POST /v1/files/{id}/preprocess",
    ]
    assert [call.authorized for call in recorder.calls] == [True, False, True]
    assert uploaded["Processed"] is True and uploaded["filename"] == "data.jsonl"
    assert uploaded["bytes"] == len(b'{"messages": []}\n')
    assert client.retrieve_file(uploaded["id"]) == uploaded


def test_an_interrupted_upload_leaves_an_unprocessed_empty_file(
    client: TogetherClient, stand_in: LocalTogether
) -> None:
    http = httpx2.Client(transport=stand_in.transport())
    answer = http.post(
        "http://local-together.invalid/v1/files",
        json={"purpose": "fine-tune", "file_name": "cut.jsonl", "file_type": "jsonl"},
        headers={"Authorization": "Bearer k"},
    )
    assert answer.status_code == 302 and answer.headers["location"].startswith("http://")
    [listed] = client.list_files()
    assert (listed["Processed"], listed["bytes"]) == (False, 0)
    with pytest.raises(TogetherError, match="has no content") as refused:
        client._json("POST", f"/files/{listed['id']}/preprocess")
    assert refused.value.status == 400


def test_errors_carry_togethers_type_code_and_message(client: TogetherClient) -> None:
    with pytest.raises(TogetherError) as refused:
        client.create_fine_tune({"training_file": "file-missing", "model": "x"})
    assert refused.value.status == 400
    assert refused.value.type == "invalid_request_error"
    assert refused.value.message == "File file-missing not found"
    assert refused.value.reason == "invalid_request_error"
    with pytest.raises(TogetherError) as missing:
        client.retrieve_fine_tune("ft-nope")
    assert missing.value.status == 404


def test_rate_limits_and_outages_are_told_apart(
    client: TogetherClient, stand_in: LocalTogether
) -> None:
    stand_in.faults.rate_limit(1, retry_after_s=7)
    with pytest.raises(TogetherRateLimited) as limited:
        client.list_fine_tunes()
    assert limited.value.retry_after_s == 7
    stand_in.faults.fail_requests(1, status=503)
    with pytest.raises(TogetherUnavailable, match="HTTP 503"):
        client.list_fine_tunes()
    assert client.list_fine_tunes() == []


def test_a_dropped_connection_is_unavailable() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    client = TogetherClient(
        "k",
        "http://together.invalid/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(refuse)),
    )
    with pytest.raises(TogetherUnavailable, match="ConnectError"):
        client.list_files()


def test_the_upload_works_over_http_with_an_absolute_presigned_url(
    stand_in: LocalTogether, tmp_path: Path
) -> None:
    with serve_in_thread(stand_in.handle) as server:
        client = TogetherClient("k", server.base_url)
        uploaded = client.upload_file("over-http.jsonl", b"{}\n")
        assert uploaded["Processed"] is True
        assert client.list_files()[0]["filename"] == "over-http.jsonl"
        models = httpx2.get(server.base_url + "/models", headers={"Authorization": "Bearer k"})
        assert isinstance(models.json(), list)  # Together's /models is a bare array


def test_a_key_is_required() -> None:
    with pytest.raises(ValueError, match="TOGETHER_API_KEY"):
        TogetherClient("")


def test_a_route_without_a_key_is_refused(stand_in: LocalTogether) -> None:
    answer = httpx2.Client(transport=stand_in.transport()).get(
        "http://local-together.invalid/v1/files"
    )
    assert answer.status_code == 401
    assert json.loads(answer.content)["error"]["message"]
