"""The adapter store: atomic, world-readable, one adapter per name, base name for vLLM."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from scheduler.training.lora.adapters import (
    AdapterConflict,
    AdapterError,
    AdapterStore,
    adapter_name,
    adapter_sha256,
)


def peft_folder(path: Path, weights: bytes = b"weights-1") -> Path:
    """A folder shaped like PEFT's `save_pretrained` output (contents are opaque here)."""
    path.mkdir(parents=True)
    config = {"base_model_name_or_path": "/models/local/path", "r": 4, "peft_type": "LORA"}
    (path / "adapter_config.json").write_text(json.dumps(config))
    (path / "adapter_model.safetensors").write_bytes(weights)
    (path / "README.md").write_text("model card")
    (path / "adapter_model.safetensors").chmod(0o600)  # PEFT saves owner-only files
    return path


def test_publish_writes_a_readable_adapter_named_for_the_serving_base(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path / "store", clock=lambda: "2026-03-01T12:00:00+00:00")
    name = adapter_name("tuneloop", 7)

    info = store.publish(
        name, peft_folder(tmp_path / "out"), base_model="tiny-llama", dataset_version_id=7
    )

    assert name == "tuneloop-lora-dv7"
    assert info.path == tmp_path / "store" / name
    assert sorted(p.name for p in info.path.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "tuneloop-adapter.json",
    ]
    config = json.loads((info.path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny-llama"
    assert config["r"] == 4
    for path in info.path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o755
    assert info.sha256 == adapter_sha256(info.path)
    assert (info.base_model, info.dataset_version_id) == ("tiny-llama", 7)
    assert info.created_at == "2026-03-01T12:00:00+00:00"
    assert store.get(name) == info
    assert name in store
    assert "tuneloop-lora-dv8" not in store
    assert store.list() == [info]
    assert not [p for p in (tmp_path / "store").iterdir() if p.name.startswith(".")]


def test_publishing_again_is_idempotent_and_other_weights_conflict(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path / "store")
    first = store.publish(
        "a-lora-dv1", peft_folder(tmp_path / "one"), base_model="b", dataset_version_id=1
    )
    again = store.publish(
        "a-lora-dv1", peft_folder(tmp_path / "same"), base_model="b", dataset_version_id=1
    )
    assert again == first

    with pytest.raises(AdapterConflict, match="one adapter per dataset version"):
        store.publish(
            "a-lora-dv1",
            peft_folder(tmp_path / "other", b"weights-2"),
            base_model="b",
            dataset_version_id=1,
        )
    assert store.list() == [first]


def test_the_sha_covers_the_config_too(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path / "store")
    one = store.publish("x1", peft_folder(tmp_path / "one"), base_model="b", dataset_version_id=1)
    two = store.publish("x2", peft_folder(tmp_path / "two"), base_model="c", dataset_version_id=1)
    assert one.sha256 != two.sha256  # same weights, another base model name


def test_bad_sources_and_names_are_refused(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path / "store")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AdapterError, match="not a PEFT adapter"):
        store.publish("x", empty, base_model="b", dataset_version_id=1)
    source = peft_folder(tmp_path / "ok")
    for bad in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(AdapterError, match="adapter name"):
            store.publish(bad, source, base_model="b", dataset_version_id=1)
        assert store.get(bad) is None


def test_folders_without_valid_metadata_are_not_adapters(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path / "store")
    assert store.list() == []
    (tmp_path / "store" / "half").mkdir(parents=True)
    broken = tmp_path / "store" / "broken"
    broken.mkdir()
    (broken / "tuneloop-adapter.json").write_text("{not json")
    assert store.list() == []
    assert store.get("broken") is None
