"""The model behind the stand-in: one transformers causal LM with PEFT LoRA adapters by name.

A single `PeftModel` holds every loaded adapter. New prompts are prefilled together in one
forward (`prefill`), then their sequences join the running batch, and each `decode_step`
feeds every running sequence its next token in one forward pass. Each row names its adapter
(PEFT's mixed-batch `adapter_names`, `__base__` for the base model), so requests for
different adapters share a pass. A lock serialises forward passes and adapter loading,
because adapters are state of the whole model. The scheduler (`scheduler.py`) decides which
sequences run. CPU, float32.

This module imports torch, transformers and PEFT: only the stand-in's server process loads it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import safetensors
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from tuneloop.local_vllm.kv_batch import PaddedBatch, can_batch, prefill_inputs

log = logging.getLogger(__name__)

#: The always-present, never-served adapter that keeps the model a `PeftModel` when no real
#: adapter is loaded (PEFT cannot run a `PeftModel` whose last adapter was deleted).
_PLACEHOLDER = "__local_vllm_base__"
#: PEFT's name for "no adapter" in a mixed batch's `adapter_names`.
_BASE = "__base__"
_ADAPTER_CONFIG = "adapter_config.json"
_SAFETENSORS = "adapter_model.safetensors"
#: PEFT's weight files: safetensors since PEFT 0.6, `.bin` from older saves (vLLM reads both).
_ADAPTER_WEIGHTS = (_SAFETENSORS, "adapter_model.bin")
_LORA_KEY_MARKERS = (".lora_A.", ".lora_B.", ".lora_embedding_A", ".lora_embedding_B")


class AdapterNotFound(Exception):
    """The path holds no PEFT adapter (vLLM's `LoRAAdapterNotFoundError`)."""


class AdapterRefused(Exception):
    """The adapter cannot be applied to this model; the message is what vLLM's worker says."""


class AdaptersUnloaded(AdapterRefused):
    """A step needed adapters that were unloaded; `names` are those adapters."""

    def __init__(self, names: set[str]) -> None:
        self.names = frozenset(names)
        super().__init__(", ".join(f"LoRA adapter {name!r} was unloaded" for name in sorted(names)))


class Engine:
    """Tokenizer, model and adapters; `prefill` and `decode_step` run forward passes.

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
        #: Whether sequences can share a padded cache (`kv_batch.can_batch`); False runs one
        #: sequence at a time.
        self.batchable = can_batch(DynamicCache(config=base.config))
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
        if name in (_BASE, _PLACEHOLDER):
            raise AdapterRefused(f"the name {name!r} is reserved by the local vLLM stand-in")
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
        # The placeholder stays the active adapter, so deleting another never switches it.
        if self._peft is not None and name in self._peft.peft_config:
            self._peft.delete_adapter(name)

    def _checked_adapter(self, path: Path) -> dict[str, Any]:
        """The adapter's config, after vLLM's checks (vllm/lora/peft_helper.py
        `validate_legal`): no DoRA, rank, target modules."""
        config_path = path / _ADAPTER_CONFIG
        weights = [path / name for name in _ADAPTER_WEIGHTS if (path / name).is_file()]
        if not config_path.is_file() or not weights:
            raise AdapterNotFound(str(path))
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise AdapterRefused(f"cannot read {config_path}: {error}") from error
        if config.get("use_dora"):  # and PEFT's mixed batches cannot run it either
            raise AdapterRefused("vLLM does not yet support DoRA.")
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

    def prefill(
        self, prompts: Sequence[Sequence[int]], adapters: Sequence[str | None]
    ) -> tuple[Any, PaddedBatch]:
        """Feed whole prompts in one forward, one per row, row i with `adapters[i]` (None: the
        base model); shorter prompts are left-padded (`kv_batch.prefill_inputs`).

        Returns the next-token logits (float32 [rows, vocab]) and the rows' cache, for
        `PaddedBatch.extend`. Raises AdaptersUnloaded when some of `adapters` are no longer
        loaded.
        """
        inputs = prefill_inputs(prompts)
        cache = DynamicCache(config=self.config)
        with self._lock, torch.inference_mode():
            self._check_loaded(adapters)
            output = self._model(
                **inputs,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,  # the prompts' other positions need no logits
                **self._adapter_kwargs(adapters),
            )
        if cache.get_seq_length() != inputs["input_ids"].shape[1]:
            raise RuntimeError("this transformers version did not fill the key/value cache")
        return output.logits[:, -1].float(), PaddedBatch(cache, inputs["attention_mask"])

    def decode_step(
        self, batch: PaddedBatch, tokens: Sequence[int], adapters: Sequence[str | None]
    ) -> Any:
        """One forward over every row of `batch`: row i is fed `tokens[i]` with `adapters[i]`
        (None: the base model); rows with different adapters share the pass (PEFT's mixed
        batch, `adapter_names`).

        Returns the next-token logits, float32 [rows, vocab]. Raises AdaptersUnloaded, before
        touching the batch, when some of `adapters` are no longer loaded.
        """
        with self._lock, torch.inference_mode():
            self._check_loaded(adapters)
            before = batch.length
            output = self._model(
                **batch.decode_inputs(list(tokens)),
                use_cache=True,
                logits_to_keep=1,
                **self._adapter_kwargs(adapters),
            )
        if batch.cache is None or batch.cache.get_seq_length() != before + 1:
            raise RuntimeError("this transformers version did not fill the key/value cache")
        return output.logits[:, -1].float()

    def _check_loaded(self, adapters: Sequence[str | None]) -> None:
        loaded = self._peft.peft_config if self._peft is not None else {}
        missing = {adapter for adapter in adapters if adapter is not None and adapter not in loaded}
        if missing:
            raise AdaptersUnloaded(missing)

    def _adapter_kwargs(self, adapters: Sequence[str | None]) -> dict[str, Any]:
        """Which adapter each row runs: PEFT's `adapter_names`, `__base__` for the base model
        (peft/tuners/lora/layer.py `_mixed_batch_forward`). The placeholder stays the active
        adapter and is never named, so it adds nothing."""
        if self._peft is None:
            return {}
        return {"adapter_names": [adapter or _BASE for adapter in adapters]}

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
