"""Probing a model before promoting it, on a self-hosted server: a registered adapter is loaded
and answers; an unregistered one, or one the server refuses, does not; a restarted server gets
the adapter back. Through the real `openai` SDK and `VLLMAdapterServing`."""

from __future__ import annotations

import pytest

pytest.importorskip("peft", reason="the lora extra is not installed")

from scheduler.serving import VLLMAdapterServing
from scheduler.serving.probe import ProbeOutcome, probe_model
from tests.serving.conftest import ADAPTER, RANK_16_ADAPTER, UNREGISTERED
from tests.serving.servers import BaseModel, Server


def test_a_registered_adapter_is_loaded_then_answers(
    server: Server, serving: VLLMAdapterServing
) -> None:
    result = probe_model(server.client(), ADAPTER, serving=serving)
    assert result.answers and ADAPTER in serving.loaded()
    server.restart()  # forgets its runtime adapters
    assert probe_model(server.client(), ADAPTER, serving=serving).answers


def test_the_base_model_answers(
    server: Server, serving: VLLMAdapterServing, base_model: BaseModel
) -> None:
    assert probe_model(server.client(), base_model.name, serving=serving).answers


def test_an_adapter_that_cannot_be_served_does_not_answer(
    server: Server, serving: VLLMAdapterServing
) -> None:
    unknown = probe_model(server.client(), UNREGISTERED, serving=serving)
    assert unknown.outcome is ProbeOutcome.NOT_SERVED
    assert unknown.problem == "is neither the served base model nor an adapter in the adapter store"
    refused = probe_model(server.client(), RANK_16_ADAPTER, serving=serving)  # over max rank
    assert refused.outcome is ProbeOutcome.NOT_SERVED
    assert refused.problem == "could not be loaded for serving" and refused.detail
