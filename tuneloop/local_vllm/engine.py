"""The model behind the stand-in: one transformers causal LM with PEFT LoRA adapters by name.

A single `PeftModel` holds every loaded adapter; a request picks its adapter for each forward
step (`set_adapter`), and the base model is the same network with the adapters disabled
(`disable_adapter`). A lock serialises the steps, because the active adapter is state of the
whole model: requests interleave step by step instead of waiting for each other to finish,
and an abandoned stream holds nothing. CPU, float32.

This module imports torch, transformers and PEFT: only the stand-in's server process loads it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import safetensors
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

log = logging.getLogger(__name__)

#: The always-present, never-served adapter that keeps the model a `PeftModel` when no real
#: adapter is loaded (PEFT cannot run a `PeftModel` whose last adapter was deleted).
_PLACEHOLDER = "__local_vllm_base__"
_ADAPTER_CONFIG = "adapter_config.json"
_SAFETENSORS = "adapter_model.safetensors"
#: PEFT's weight files: safetensors since PEFT 0.6, `.bin` from older saves (vLLM reads both).
_ADAPTER_WEIGHTS = (_SAFETENSORS, "adapter_model.bin")
_LORA_KEY_MARKERS = (".lora_A.", ".lora_B.", ".lora_embedding_A", ".lora_embedding_B")


class AdapterNotFound(Exception):
    """The path holds no PEFT adapter (vLLM's `LoRAAdapterNotFoundError`)."""


class AdapterRefused(Exception):
    """The adapter cannot be applied to this model; the message is what vLLM's worker says."""


class Engine:
    """Tokenizer, model and adapters; `step` runs one forward pass for one request.

    `model_path`: a Hugging Face model folder with a tokenizer that has a chat template.
    `enable_lora` False keeps the plain model (adapters are refused, as `--enable-lora` off).
    Raises OSError/ValueError from transformers when the folder is not a loadable model.
    """

    def __init__(self, model_path: Path, *, enable_lora: bool, max_lora_rank: int) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        if not self.tokenizer.chat_template:
            raise ValueError(f"the tokenizer in {model_path} has no chat template")
        base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
        self.config = base.config
        self.max_position_embeddings = int(getattr(base.config, "max_position_embeddings", 2048))
        self.eos_token_ids = _eos_token_ids(self.tokenizer, base)
        self.sampling_defaults = _sampling_defaults(model_path)
        #: Module names an adapter may target: every linear layer but the output head, as in
        #: vLLM (`get_supported_lora_modules`: all `LinearBase` layers).
        self.supported_lora_modules = sorted(
            {
                name.rsplit(".", 1)[-1]
                for name, module in base.named_modules()
                if isinstance(module, torch.nn.Linear) and not name.endswith("lm_head")
            }
        )
        self._max_lora_rank = max_lora_rank
        self._lock = threading.Lock()
        self._model: Any = base
        self._peft: PeftModel | None = None
        if enable_lora:
            placeholder = LoraConfig(r=1, target_modules=self.supported_lora_modules[:1])
            self._peft = get_peft_model(base, placeholder, adapter_name=_PLACEHOLDER).eval()
            self._model = self._peft

    # --- adapters ---------------------------------------------------------------------------
    def add_adapter(self, name: str, path: Path) -> None:
        """Load the PEFT adapter at `path` as `name` (replacing one of that name).

        Raises AdapterNotFound when `path` has no adapter, AdapterRefused when its rank is over
        `max_lora_rank`, it targets modules this model lacks, or its shapes do not fit.
        """
        if self._peft is None:
            raise AdapterRefused("LoRA is not enabled. Use --enable-lora to enable LoRA.")
        config = self._checked_adapter(path)
        with self._lock:
            self._drop(name)
            try:
                self._peft.load_adapter(str(path), adapter_name=name, is_trainable=False)
            except Exception as error:
                self._drop(name)
                raise AdapterRefused(f"{type(error).__name__}: {error}") from error
        log.info("loaded LoRA adapter %r (rank %s) from %s", name, config.get("r"), path)

    def remove_adapter(self, name: str) -> None:
        """Forget adapter `name` (nothing happens when it is not loaded)."""
        with self._lock:
            self._drop(name)

    def _drop(self, name: str) -> None:
        if self._peft is not None and name in self._peft.peft_config:
            self._peft.set_adapter(_PLACEHOLDER)
            self._peft.delete_adapter(name)

    def _checked_adapter(self, path: Path) -> dict[str, Any]:
        """The adapter's config, after vLLM's checks: rank and target modules."""
        config_path = path / _ADAPTER_CONFIG
        weights = [path / name for name in _ADAPTER_WEIGHTS if (path / name).is_file()]
        if not config_path.is_file() or not weights:
            raise AdapterNotFound(str(path))
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise AdapterRefused(f"cannot read {config_path}: {error}") from error
        rank = config.get("r")
        if not isinstance(rank, int) or rank < 1:
            raise AdapterRefused(f"{config_path} has no valid LoRA rank 'r': {rank!r}")
        if rank > self._max_lora_rank:
            raise AdapterRefused(
                f"LoRA rank {rank} is greater than max_lora_rank {self._max_lora_rank}."
            )
        # The module names are read from safetensors; a `.bin` adapter is checked by PEFT.
        modules = _adapter_modules(weights[0]) if weights[0].name == _SAFETENSORS else []
        unexpected = [
            module
            for module in modules
            if module.rsplit(".", 1)[-1] not in self.supported_lora_modules
        ]
        if unexpected:
            raise AdapterRefused(
                f"While loading {path}, expected target modules in "
                f"{set(self.supported_lora_modules)} but received {unexpected}. Please verify "
                "that the loaded LoRA module is correct"
            )
        return config

    # --- generation -------------------------------------------------------------------------
    def render(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The prompt's token ids: the tokenizer's chat template with the generation prompt,
        tokenized without adding special tokens again (as vLLM renders chat requests)."""
        text = self.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def new_cache(self) -> DynamicCache:
        """An empty key/value cache for one sequence."""
        return DynamicCache(config=self.config)

    def step(self, token_ids: Sequence[int], cache: DynamicCache, adapter: str | None) -> Any:
        """The next-token logits (float32 tensor [vocab]) after feeding `token_ids` (the whole
        prompt first, then one token at a time) into `cache`, with `adapter` or the base.

        Raises AdapterRefused when `adapter` is no longer loaded.
        """
        inputs = torch.tensor([list(token_ids)], dtype=torch.long)
        before = cache.get_seq_length()
        with self._lock, torch.inference_mode(), self._active(adapter):
            output = self._model(input_ids=inputs, cache=cache, use_cache=True)
        if cache.get_seq_length() != before + len(token_ids):
            raise RuntimeError("this transformers version did not fill the key/value cache")
        return output.logits[0, -1].float()

    @contextmanager
    def _active(self, adapter: str | None) -> Iterator[None]:
        if self._peft is None:
            yield
        elif adapter is None:
            with self._peft.disable_adapter():
                yield
        else:
            if adapter not in self._peft.peft_config:
                raise AdapterRefused(f"LoRA adapter {adapter!r} was unloaded")
            if self._peft.active_adapters != [adapter]:  # switching walks every module
                self._peft.set_adapter(adapter)
            yield

    def decode(self, token_ids: Sequence[int]) -> str:
        """Text of generated tokens, special tokens skipped (vLLM's default)."""
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)


def _adapter_modules(weights_path: Path) -> list[str]:
    """The modules an adapter's tensors adapt, as vLLM names them (`model.layers.0...q_proj`)."""
    modules: list[str] = []
    with safetensors.safe_open(str(weights_path), framework="pt") as tensors:
        for key in tensors.keys():  # noqa: SIM118 - safe_open is not a mapping
            for marker in _LORA_KEY_MARKERS:
                if marker in key:
                    module = key.split(marker, 1)[0].removeprefix("base_model.model.")
                    if module not in modules:
                        modules.append(module)
    return modules


def _eos_token_ids(tokenizer: Any, model: Any) -> frozenset[int]:
    """The tokenizer's EOS plus the generation config's (vLLM stops on both)."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, list):
        ids.update(int(token) for token in configured)
    return frozenset(ids)


def _sampling_defaults(model_path: Path) -> dict[str, float | int]:
    """Sampling defaults written in the model's `generation_config.json`, which vLLM applies
    to requests that leave them out (`--generation-config auto`)."""
    path = model_path / "generation_config.json"
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        key: config[key]
        for key in ("temperature", "top_p", "top_k")
        if isinstance(config.get(key), int | float)
    }
