"""`python -m tuneloop.local_vllm`: the stand-in, started with `vllm serve`'s flags.

    VLLM_ALLOW_RUNTIME_LORA_UPDATING=True python -m tuneloop.local_vllm \
        --model ./models/smollm2-135m-instruct --served-model-name smollm2-135m-instruct \
        --enable-lora --max-lora-rank 16 --max-loras 2 --api-key KEY --port 8000

Flags that tune vLLM's engine and mean nothing here (`--dtype`,
`--gpu-memory-utilization`, `--max-cpu-loras`, `--enforce-eager`) are accepted and ignored,
so the same command line starts either server.

Generation uses one CPU thread unless OMP_NUM_THREADS says otherwise: on a machine whose few
cores are shared, torch's default (a thread per core, spinning while it waits) ran SmolLM2
ten times slower here than one thread did. Batched decoding too: 16 concurrent requests of 48
tokens took 10-18 s with one thread and 69-146 s with two on this 2-core machine, shared with
other work (bench/bench_local_vllm.py --threads N --modes batched).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tuneloop.local_vllm.config import (
    DEFAULT_MAX_NUM_SEQS,
    RUNTIME_LORA_UPDATING_ENV,
    ServerConfig,
    runtime_lora_updating,
)

_IGNORED = ("--dtype", "--gpu-memory-utilization", "--max-cpu-loras")


def parser() -> argparse.ArgumentParser:
    """The command line, with vLLM's flag names and defaults (host aside)."""
    cli = argparse.ArgumentParser(
        prog="python -m tuneloop.local_vllm",
        description="A local stand-in for vLLM's OpenAI-compatible server (transformers + PEFT "
        "on CPU): chat completions, /v1/models and runtime LoRA loading.",
    )
    cli.add_argument("--model", required=True, type=Path, help="a Hugging Face model folder")
    cli.add_argument("--served-model-name", nargs="+", default=[], metavar="NAME")
    cli.add_argument("--enable-lora", action="store_true")
    cli.add_argument("--max-lora-rank", type=int, default=16)
    cli.add_argument("--max-loras", type=int, default=1)
    cli.add_argument(
        "--max-num-seqs",
        type=int,
        default=DEFAULT_MAX_NUM_SEQS,
        help="sequences decoded together at most (vLLM's CPU default; 1: one at a time)",
    )
    cli.add_argument("--max-model-len", type=int, default=None)
    cli.add_argument(
        "--api-key", nargs="+", default=None, help="bearer keys for /v1 (default: $VLLM_API_KEY)"
    )
    cli.add_argument(
        "--host", default="127.0.0.1", help="default 127.0.0.1 (vLLM binds every interface)"
    )
    cli.add_argument("--port", type=int, default=8000)
    cli.add_argument("--seed", type=int, default=0)
    for flag in _IGNORED:
        cli.add_argument(flag, default=None, help="accepted for vLLM compatibility; ignored")
    cli.add_argument("--enforce-eager", action="store_true", help="ignored")
    return cli


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The server's configuration from parsed flags and the environment (vLLM's variables)."""
    keys = args.api_key
    if keys is None:
        keys = [os.environ["VLLM_API_KEY"]] if os.environ.get("VLLM_API_KEY") else []
    return ServerConfig(
        model=args.model,
        served_model_names=tuple(args.served_model_name),
        enable_lora=args.enable_lora,
        max_lora_rank=args.max_lora_rank,
        max_loras=args.max_loras,
        max_num_seqs=args.max_num_seqs,
        max_model_len=args.max_model_len,
        api_keys=tuple(keys),
        allow_runtime_lora_updating=runtime_lora_updating(),
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, load the model, serve until interrupted. 2 on a bad command line or model."""
    cli = parser()
    args = cli.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        cli.error(str(error))
    if not args.model.is_dir():
        cli.error(f"--model {args.model}: not a folder (give a Hugging Face model folder)")
    import torch

    from tuneloop.local_openai.http_server import serve
    from tuneloop.local_vllm.instance import LocalVLLM

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)

    try:
        server = LocalVLLM(config)
    except (OSError, ValueError) as error:
        print(f"Cannot load the model in {args.model}: {error}", file=sys.stderr)
        return 2
    if config.enable_lora and not config.allow_runtime_lora_updating:
        print(
            f"Runtime LoRA loading is off: set {RUNTIME_LORA_UPDATING_ENV}=True to serve "
            "/v1/load_lora_adapter and /v1/unload_lora_adapter.",
            file=sys.stderr,
        )
    if not config.api_keys:
        print("No --api-key: every /v1 route answers without a key.", file=sys.stderr)
    print(
        f"Serving {', '.join(config.names)} on http://{args.host}:{args.port}/v1 "
        "(local vLLM stand-in: transformers + PEFT on CPU)",
        flush=True,
    )
    serve(server.handle, host=args.host, port=args.port)
    return 0
