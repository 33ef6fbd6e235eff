"""Files through the real SDK: upload, retrieve, content, list (paginated), delete, errors."""

from __future__ import annotations

import openai
import pytest

from tests.local_openai.conftest import Api
from tests.local_openai.helpers import sft_file, upload


def test_upload_is_uploaded_then_processed_and_wait_for_processing_sees_it(api: Api) -> None:
    client = api.client()
    data = sft_file()
    created = client.files.create(file=("train.jsonl", data), purpose="fine-tune")
    assert created.id.startswith("file-")
    assert (created.object, created.purpose, created.filename) == (
        "file",
        "fine-tune",
        "train.jsonl",
    )
    assert created.bytes == len(data)
    assert created.status == "uploaded"
    assert created.created_at == int(api.clock.now())

    # The SDK sleeps between polls; let its sleep move our clock instead of wall time.
    client.files._sleep = api.clock.advance  # type: ignore[method-assign]
    processed = client.files.wait_for_processing(created.id, poll_interval=0.25)
    assert processed.status == "processed"
    assert client.files.content(created.id).read() == data


def test_retrieve_list_and_delete(api: Api) -> None:
    client = api.client()
    first = upload(client, api.clock, sft_file(), name="a.jsonl")
    second = client.files.create(file=("notes.txt", b"hello"), purpose="user_data").id

    assert client.files.retrieve(first).filename == "a.jsonl"
    newest_first = [f.id for f in client.files.list()]
    assert newest_first == [second, first]
    assert [f.id for f in client.files.list(order="asc")] == [first, second]
    assert [f.id for f in client.files.list(purpose="fine-tune")] == [first]

    deleted = client.files.delete(first)
    assert (deleted.id, deleted.deleted, deleted.object) == (first, True, "file")
    assert [f.id for f in client.files.list()] == [second]
    with pytest.raises(openai.NotFoundError) as raised:
        client.files.retrieve(first)
    assert raised.value.body == {
        "message": f"No such File object: {first}",
        "type": "invalid_request_error",
        "param": "id",
        "code": None,
    }


def test_list_paginates_with_the_sdk_cursor(api: Api) -> None:
    client = api.client()
    ids = [client.files.create(file=(f"f{i}.txt", b"x"), purpose="user_data").id for i in range(5)]
    page = client.files.list(limit=2, order="asc")
    assert [f.id for f in page.data] == ids[:2]
    assert page.has_more is True
    pages = [[f.id for f in each.data] for each in page.iter_pages()]
    assert pages == [ids[:2], ids[2:4], ids[4:]]
    assert [f.id for f in client.files.list(limit=2, order="asc")] == ids  # auto-paging
    last_page = client.files.list(limit=2, order="asc", after=ids[3])
    assert [f.id for f in last_page.data] == ids[4:]
    assert last_page.has_more is False


def test_expiring_files_disappear(api: Api) -> None:
    client = api.client()
    made = client.files.create(
        file=("t.txt", b"x"),
        purpose="user_data",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert made.expires_at == made.created_at + 3600
    api.clock.advance(3600)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(made.id)


@pytest.mark.parametrize(
    ("name", "purpose", "message"),
    [
        ("train.csv", "fine-tune", "Invalid file format for Fine-Tuning API. Must be .jsonl"),
        ("train.jsonl", "fine-tune-results", "Invalid value for 'purpose'"),
    ],
)
def test_refused_uploads(api: Api, name: str, purpose: str, message: str) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        api.client().files.create(file=(name, b"{}"), purpose=purpose)  # type: ignore[arg-type]
    assert raised.value.status_code == 400
    assert message in raised.value.message


def test_results_files_are_downloadable_csv(api: Api) -> None:
    client = api.client()
    file_id = upload(client, api.clock, sft_file())
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    api.clock.advance_stages(3)
    done = client.fine_tuning.jobs.retrieve(job.id)
    (results_id,) = done.result_files
    results = client.files.retrieve(results_id)
    assert (results.purpose, results.status, results.filename) == (
        "fine-tune-results",
        "processed",
        "step_metrics.csv",
    )
    text = client.files.content(results_id).text
    lines = text.splitlines()
    assert lines[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(lines) > 2
    assert [f.id for f in client.files.list(purpose="fine-tune-results")] == [results_id]
