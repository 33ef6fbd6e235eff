"""Models through the real SDK: the list says what the stand-in is, shutdown dates, delete,
and the moment a new model stays unloadable after its job succeeded."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.local_openai.conftest import Api
from tests.local_openai.helpers import FAQ, ask, sft_file, train, upload
from tuneloop.local_openai import LocalOpenAI, ManualClock
from tuneloop.local_openai.catalog import STAND_IN_OWNER


def test_base_models_are_listed_with_openais_retirement_dates(api: Api) -> None:
    models = {m.id: m for m in api.client().models.list()}
    for model_id in ("gpt-4.1-mini-2025-04-14", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"):
        assert models[model_id].shutdown_date == "2027-01-14"
        assert models[model_id].object == "model"
    # Every model says plainly that it is a retrieval stand-in, not a language model.
    assert all("not a language model" in m.owned_by for m in models.values())
    assert STAND_IN_OWNER.startswith("tuneloop-local-stand-in")
    retrieved = api.client().models.retrieve("gpt-4.1-mini-2025-04-14")
    assert retrieved.shutdown_date == "2027-01-14"


def test_fine_tuned_models_inherit_the_base_shutdown_date_and_can_be_deleted(api: Api) -> None:
    client = api.client()
    done = train(client, api.clock, model="gpt-4o-mini-2024-07-18")
    model_id = done.fine_tuned_model
    assert model_id is not None
    model = client.models.retrieve(model_id)
    assert (model.id, model.shutdown_date, model.created) == (
        model_id,
        "2027-01-14",
        done.finished_at,
    )

    deleted = client.models.delete(model_id)
    assert (deleted.id, deleted.deleted) == (model_id, True)
    assert model_id not in [m.id for m in client.models.list()]
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve(model_id)
    assert raised.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        ask(client, model_id, FAQ[0][0])
    with pytest.raises(openai.BadRequestError):  # nor can training continue from it
        client.fine_tuning.jobs.create(model=model_id, training_file=done.training_file)


def test_base_models_cannot_be_deleted_and_unknown_models_are_404(api: Api) -> None:
    client = api.client()
    with pytest.raises(openai.PermissionDeniedError):
        client.models.delete("gpt-4o-mini")
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.delete("ft:gpt-4o-mini-2024-07-18:local::nothere")
    assert raised.value.code == "model_not_found"


def test_a_new_model_is_unloadable_for_the_load_delay(tmp_path: Path) -> None:
    clock = ManualClock(stage_seconds=1.0)
    stand_in = LocalOpenAI(tmp_path, clock=clock, load_delay_s=30)
    client = stand_in.client(max_retries=0)
    done = train(client, clock)
    assert done.fine_tuned_model is not None
    assert done.fine_tuned_model in [m.id for m in client.models.list()]
    with pytest.raises(openai.NotFoundError) as raised:
        ask(client, done.fine_tuned_model, FAQ[0][0])
    assert raised.value.code == "model_not_found"
    clock.advance(30)
    assert ask(client, done.fine_tuned_model, FAQ[0][0]) == FAQ[0][1]


def test_models_appear_without_anyone_polling_the_job(api: Api) -> None:
    client = api.client()
    file_id = upload(client, api.clock, sft_file())
    client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, suffix="quiet")
    api.clock.advance_stages(3)
    listed = [m.id for m in client.models.list() if m.id.startswith("ft:")]
    assert len(listed) == 1 and ":quiet:" in listed[0]
    assert ask(client, listed[0], FAQ[2][0]) == FAQ[2][1]
