"""Fixtures: the tiny base model, adapters of it, and every server the tests run against.

`server` is parametrised: the local stand-in always; real vLLM (marked slow) where it is
installed and starts, skipped with the reason otherwise. Each server starts once per session;
`serving` unloads every adapter before a test, so tests do not see each other's adapters.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from scheduler.serving import VLLMAdapterServing
from tests.serving.adapters import AdapterFolders, StoredAdapter, write_adapter, write_narrow_llama
from tests.serving.servers import (
    BaseModel,
    Server,
    ServerUnavailable,
    StandInServer,
    VLLMServer,
)
from tuneloop.base_models.tiny import TINY_MODEL_NAME, build_tiny_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ADAPTER = "tuneloop-lora-dv1"
OTHER_ADAPTER = "tuneloop-lora-dv2"
THIRD_ADAPTER = "tuneloop-lora-dv3"
RANK_16_ADAPTER = "rank16-lora-dv1"
FOREIGN_ADAPTER = "other-base-lora-dv1"
UNREGISTERED = "tuneloop-lora-dv999"


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine the tiny model runs several times faster
    than with two threads fighting other processes for the cores. (Without the lora extra,
    the tests that need torch skip, and the others need no thread setting.)"""
    try:
        import torch
    except ImportError:
        yield
        return

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> BaseModel:
    folder = build_tiny_model(tmp_path_factory.mktemp("models") / TINY_MODEL_NAME)
    return BaseModel(folder, TINY_MODEL_NAME)


@pytest.fixture(scope="session")
def adapters(tmp_path_factory: pytest.TempPathFactory, base_model: BaseModel) -> AdapterFolders:
    """Registered adapters: three of the tiny model, one of rank 16 (over the servers'
    --max-lora-rank 8), one of another base model, and one whose folder is empty."""
    root = tmp_path_factory.mktemp("adapters")
    store = AdapterFolders()
    for seed, name in enumerate((ADAPTER, OTHER_ADAPTER, THIRD_ADAPTER), start=1):
        path = write_adapter(base_model.path, root / name, seed=seed, base_model=base_model.name)
        store.add(StoredAdapter(name, path, base_model.name))
    path = write_adapter(
        base_model.path, root / RANK_16_ADAPTER, seed=4, base_model=base_model.name, rank=16
    )
    store.add(StoredAdapter(RANK_16_ADAPTER, path, base_model.name))
    narrow = write_narrow_llama(root / "narrow-llama")
    path = write_adapter(narrow, root / FOREIGN_ADAPTER, seed=5, base_model="narrow-llama")
    store.add(StoredAdapter(FOREIGN_ADAPTER, path, "narrow-llama"))
    return store


@pytest.fixture(scope="session", params=["stand-in", pytest.param("vllm", marks=pytest.mark.slow)])
def server(
    request: pytest.FixtureRequest,
    base_model: BaseModel,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """A server with the tiny model as `tiny-llama`, LoRA on (rank <= 8), key `API_KEY`."""
    try:
        if request.param == "stand-in":
            started: Server = StandInServer(base_model)
        else:
            started = VLLMServer(base_model, tmp_path_factory.mktemp("vllm-logs"))
    except ServerUnavailable as why:
        pytest.skip(f"{request.param}: {why}")
    yield started
    started.stop()


@pytest.fixture
def serving(server: Server, adapters: AdapterFolders) -> VLLMAdapterServing:
    """The adapter management under test, on a server with no adapter loaded."""
    managed = VLLMAdapterServing(server.client(), adapters)
    managed.keep([])
    return managed
