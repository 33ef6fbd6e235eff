"""`tuneloop local-vllm`: the offline stand-in for vLLM, serving the LoRA backend's base model
and the adapters tuneloop trains."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from typing import Annotated

import typer

from tuneloop.cli.app import app
from tuneloop.cli.output import console, fail
from tuneloop.terminal import literal


@app.command("local-vllm", short_help="Serve the LoRA base model as vLLM does (CPU stand-in).")
def local_vllm(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="Key every /v1 route requires (default: TUNELOOP_VLLM_API_KEY, else a new one, "
            "printed)."
        ),
    ] = None,
) -> None:
    """Serve TUNELOOP_BASE_MODEL (SmolLM2 by default) with runtime LoRA loading, as
    `vllm serve --enable-lora` does, on CPU with transformers + PEFT. For development, demos
    and tests; on a GPU machine run vLLM itself with the same flags."""
    from tuneloop.base_models import BaseModelUnavailable, base_model_folder
    from tuneloop.settings import load_settings

    settings = load_settings(trainer="lora")
    if not 0 < port < 65536:
        fail(f"--port must be between 1 and 65535, got {port}")
    try:
        folder = base_model_folder(
            settings.base_model,
            models_dir=settings.base_models_dir,
            configured=settings.lora_base_model_path,
        )
    except BaseModelUnavailable as exc:
        fail(str(exc))
    key = api_key or settings.vllm_api_key or secrets.token_urlsafe(16)
    url = f"http://{host}:{port}/v1"
    console.print(
        literal(
            f"vLLM stand-in for {settings.base_model} ({folder}) on {url}\n"
            f"use it with: TUNELOOP_TRAINER=lora TUNELOOP_VLLM_URL={url} "
            f"TUNELOOP_VLLM_API_KEY={key}"
        ),
        soft_wrap=True,
    )
    command = [
        sys.executable,
        "-m",
        "tuneloop.local_vllm",
        "--model",
        str(folder),
        "--served-model-name",
        settings.base_model,
        "--enable-lora",
        "--max-lora-rank",
        str(max(settings.lora_rank, 16)),
        "--max-loras",
        "4",
        "--host",
        host,
        "--port",
        str(port),
    ]
    env = {**os.environ, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", "VLLM_API_KEY": key}
    try:
        raise typer.Exit(subprocess.call(command, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
