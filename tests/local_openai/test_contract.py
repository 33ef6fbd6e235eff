"""The contract: every request and response of a tour of the whole API, on both transports,
against OpenAI's OpenAPI description (`../shared/openai-openapi/openapi.yaml`).

Every other test in this folder is checked the same way when it ends (see `conftest.py`); this
one makes sure each operation is covered, with successes and errors, and says clearly when the
spec is missing rather than passing silently.
"""

from __future__ import annotations

import openai
import pytest

from tests.local_openai.conftest import SPEC_PATH, Api
from tests.local_openai.contract import ContractValidator, Exchange
from tests.local_openai.helpers import FAQ, dpo_line, jsonl, sft_file, upload

HELLO: list[dict[str, str]] = [{"role": "user", "content": "x"}]
OPERATIONS = {
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model}"),
    ("DELETE", "/v1/models/{model}"),
    ("POST", "/v1/files"),
    ("GET", "/v1/files"),
    ("GET", "/v1/files/{file_id}"),
    ("DELETE", "/v1/files/{file_id}"),
    ("GET", "/v1/files/{file_id}/content"),
    ("POST", "/v1/fine_tuning/jobs"),
    ("GET", "/v1/fine_tuning/jobs"),
    ("GET", "/v1/fine_tuning/jobs/{fine_tuning_job_id}"),
    ("POST", "/v1/fine_tuning/jobs/{fine_tuning_job_id}/cancel"),
    ("POST", "/v1/fine_tuning/jobs/{fine_tuning_job_id}/pause"),
    ("POST", "/v1/fine_tuning/jobs/{fine_tuning_job_id}/resume"),
    ("GET", "/v1/fine_tuning/jobs/{fine_tuning_job_id}/events"),
    ("GET", "/v1/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints"),
    ("POST", "/v1/chat/completions"),
}


@pytest.fixture
def spec(contract: ContractValidator | None) -> ContractValidator:
    if contract is None:
        pytest.skip(
            f"OpenAI's OpenAPI description is absent at {SPEC_PATH}; the contract test needs "
            "the shared folder beside the repository (../shared/openai-openapi/openapi.yaml)."
        )
    return contract


def test_every_operation_conforms_to_openais_spec(
    api: Api, spec: ContractValidator, exchanges: list[Exchange]
) -> None:
    client, clock = api.client(), api.clock
    # models
    client.models.list()
    client.models.retrieve("gpt-4o-mini-2024-07-18")
    # files
    file_id = upload(client, clock, sft_file())
    dpo_file = upload(client, clock, jsonl(dpo_line(q, a, "no") for q, a in FAQ), "dpo.jsonl")
    client.files.retrieve(file_id)
    client.files.content(file_id)
    list(client.files.list(limit=1, purpose="fine-tune"))
    # jobs: one to completion, one paused and resumed, one cancelled, one DPO, one failing
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=file_id,
        validation_file=file_id,
        suffix="tour",
        metadata={"tour": "yes"},
        method={
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": 2, "learning_rate_multiplier": 0.5}},
        },
    )
    paused = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    cancelled = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=dpo_file, method={"type": "dpo"}
    )
    client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=dpo_file)  # will fail
    client.fine_tuning.jobs.cancel(cancelled.id)
    clock.advance_stages(2.5)
    client.fine_tuning.jobs.pause(paused.id)
    client.fine_tuning.jobs.resume(paused.id)
    clock.advance_stages(3)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.fine_tuned_model
    list(client.fine_tuning.jobs.list(limit=2))
    list(client.fine_tuning.jobs.list(metadata={"tour": "yes"}))
    list(client.fine_tuning.jobs.list_events(job.id, limit=5))
    list(client.fine_tuning.jobs.checkpoints.list(job.id, limit=1))
    client.files.content(done.result_files[0])
    # chat, plain and streamed
    for model in ("gpt-4o-mini", done.fine_tuned_model):
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": FAQ[0][0]}], temperature=0
        )
        list(
            client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": FAQ[0][0]}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    # errors: 404, 400, 429, 5xx
    for call in (
        lambda: client.models.retrieve("nope"),
        lambda: client.files.retrieve("file-nope"),
        lambda: client.fine_tuning.jobs.retrieve("ftjob-nope"),
        lambda: client.chat.completions.create(model="nope", messages=HELLO),  # type: ignore[arg-type]
        lambda: client.fine_tuning.jobs.create(model="nope", training_file=file_id),
    ):
        with pytest.raises(openai.APIStatusError):
            call()
    api.stand_in.faults.rate_limit(1, retry_after_s=2)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO)  # type: ignore[arg-type]
    api.stand_in.faults.fail_requests(1, status=503)
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    # deletions
    client.models.delete(done.fine_tuned_model)
    client.files.delete(dpo_file)

    covered = {
        (e.method, template)
        for e in exchanges
        if e.status < 300
        for method, template in OPERATIONS
        if method == e.method and _fits(template, e.path)
    }
    assert covered == OPERATIONS
    assert any(e.status == 429 for e in exchanges) and any(e.status == 503 for e in exchanges)
    assert spec.problems(exchanges) == []


def test_the_checker_catches_what_the_spec_forbids(spec: ContractValidator) -> None:
    """A sanity check of the checker itself, so a silent validator cannot pass everything."""
    bad_job = Exchange(
        method="GET",
        path="/v1/fine_tuning/jobs/ftjob-1",
        query=(),
        request_headers={"authorization": "Bearer k"},
        request_body=b"",
        status=200,
        response_headers={"content-type": "application/json"},
        response_body=b'{"object": "fine_tuning.job", "id": "ftjob-1", "status": "paused"}',
    )
    assert spec.exchange_problems(bad_job)
    bad_error = Exchange(
        method="GET",
        path="/v1/models",
        query=(),
        request_headers={"authorization": "Bearer k"},
        request_body=b"",
        status=404,
        response_headers={"content-type": "application/json"},
        response_body=b'{"error": {"message": "x"}}',
    )
    assert spec.exchange_problems(bad_error)
    assert spec.schema_errors("ErrorResponse", {"error": {"message": "m", "type": "t"}})


def _fits(template: str, path: str) -> bool:
    parts, actual = template.split("/"), path.split("/")
    return len(parts) == len(actual) and all(
        p == a or p.startswith("{") for p, a in zip(parts, actual, strict=True)
    )
