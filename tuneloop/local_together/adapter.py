"""The adapter a stand-in job "trains": PEFT's two files in a gzip-compressed tar.

`adapter_config.json` says what PEFT says (LoRA, rank, alpha, dropout, target modules, the
base model); `adapter_model.safetensors` holds one LoRA pair for the first layer's `q_proj`,
`lora_A` drawn from the job's id and `lora_B` zero, so the adapter is valid and changes
nothing: the stand-in cannot train weights. The safetensors file is written by hand (an
8-byte little-endian header length, a JSON header, raw little-endian float32 data), which
keeps the stand-in free of numpy and torch.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import tarfile
from typing import Any

PREFIX = "base_model.model.model.layers.0.self_attn.q_proj"


def adapter_archive(job: dict[str, Any], hidden_size: int) -> bytes:
    """The tar.gz of `job`'s adapter (the same bytes for the same job)."""
    training = job.get("training_type") or {}
    rank = int(training.get("lora_r") or 8)
    modules = str(training.get("lora_trainable_modules") or "all-linear")
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": job["model"],
        "r": rank,
        "lora_alpha": int(training.get("lora_alpha") or rank * 2),
        "lora_dropout": float(training.get("lora_dropout") or 0.0),
        "target_modules": modules if modules == "all-linear" else modules.split(","),
        "bias": "none",
        "inference_mode": True,
    }
    seed = int.from_bytes(hashlib.sha256(job["id"].encode()).digest()[:8], "big")
    draw = random.Random(seed)
    tensors = {
        f"{PREFIX}.lora_A.weight": (
            [rank, hidden_size],
            [draw.gauss(0, 0.02) for _ in range(rank * hidden_size)],
        ),
        f"{PREFIX}.lora_B.weight": ([hidden_size, rank], [0.0] * (hidden_size * rank)),
    }
    files = {
        "adapter_config.json": json.dumps(config, indent=2, sort_keys=True).encode(),
        "adapter_model.safetensors": safetensors_bytes(tensors),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"adapter/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def safetensors_bytes(tensors: dict[str, tuple[list[int], list[float]]]) -> bytes:
    """float32 tensors in the safetensors format (huggingface/safetensors, "Format")."""
    header: dict[str, Any] = {}
    body = io.BytesIO()
    for name, (shape, values) in sorted(tensors.items()):
        start = body.tell()
        body.write(struct.pack(f"<{len(values)}f", *values))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [start, body.tell()]}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    return struct.pack("<Q", len(raw)) + raw + body.getvalue()
