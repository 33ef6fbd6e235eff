"""LoRA adapters for the serving tests, written with PEFT the way the trainer publishes them.

Their weights are drawn at random (seeded), large enough that an adapter's greedy replies
differ from the base model's: an adapter that changed nothing would make the "served by the
adapter" checks meaningless. The lookup is the adapter store's `get`, reduced to what
serving reads (`scheduler.serving.AdapterLookup`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tuneloop.base_models.folders import make_readable


@dataclass(frozen=True)
class StoredAdapter:
    name: str
    path: Path
    base_model: str


@dataclass
class AdapterFolders:
    """Registered adapters by name, like `AdapterStore.get`."""

    records: dict[str, StoredAdapter] = field(default_factory=dict)

    def add(self, record: StoredAdapter) -> StoredAdapter:
        self.records[record.name] = record
        return record

    def get(self, name: str) -> StoredAdapter | None:
        return self.records.get(name)


def write_adapter(
    model_dir: Path,
    out: Path,
    *,
    seed: int,
    base_model: str,
    rank: int = 4,
    targets: tuple[str, ...] = ("q_proj", "v_proj"),
) -> Path:
    """A PEFT LoRA adapter of the model in `model_dir`, with random weights, saved in `out`.

    `adapter_config.json` names `base_model` (the base's serving name), as the store writes it.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = LoraConfig(
        r=rank, lora_alpha=2 * rank, target_modules=list(targets), init_lora_weights=False
    )
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    peft_model.save_pretrained(out)
    config_path = out / "adapter_config.json"
    written = json.loads(config_path.read_text(encoding="utf-8"))
    written["base_model_name_or_path"] = base_model
    config_path.write_text(json.dumps(written, indent=2), encoding="utf-8")
    make_readable(out)
    return out


def write_narrow_llama(out: Path) -> Path:
    """A Llama whose hidden size (64) differs from the tiny model's: adapters of it cannot fit."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=1024,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=1,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=512,
    )
    LlamaForCausalLM(config).save_pretrained(out)
    return out
