"""`tuneloop local-openai`: serve the offline OpenAI stand-in over HTTP."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

import typer

from tuneloop.cli.app import app
from tuneloop.cli.output import configure_logging, console, fail, warn
from tuneloop.terminal import literal


@app.command("local-openai", short_help="Serve the offline OpenAI stand-in over HTTP.")
def local_openai(
    host: Annotated[
        str, typer.Option(help="Address to bind. Keep it on localhost: any key is accepted.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8089,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Folder for the stand-in's files, jobs and models (default: "
            "TUNELOOP_LOCAL_OPENAI_DATA_DIR, else TUNELOOP_DATA_DIR/local-openai).",
        ),
    ] = None,
    stage_seconds: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds per fine-tuning stage (default: TUNELOOP_LOCAL_OPENAI_STAGE_SECONDS).",
        ),
    ] = None,
    load_delay: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds a new model answers model_not_found after its job succeeds "
            "(default: TUNELOOP_LOCAL_OPENAI_LOAD_DELAY_SECONDS).",
        ),
    ] = None,
) -> None:
    """Serve the OpenAI stand-in under /v1 (retrieval over training examples, not a language
    model). Point any OpenAI client at it with OPENAI_BASE_URL=http://HOST:PORT/v1."""
    from tuneloop.local_openai import http_server
    from tuneloop.provider import local_openai_data_dir, local_openai_from_settings
    from tuneloop.settings import load_settings

    overrides: dict[str, Any] = {}
    if data is not None:
        overrides["local_openai_data_dir"] = data
    if stage_seconds is not None:
        overrides["local_openai_stage_seconds"] = stage_seconds
    if load_delay is not None:
        overrides["local_openai_load_delay_seconds"] = load_delay
    settings = load_settings().model_copy(update=overrides)
    configure_logging(settings.log_level)
    if not 0 < port < 65536:
        fail(f"--port must be between 1 and 65535, got {port}")
    stand_in = local_openai_from_settings(settings)
    if not _is_loopback(host):
        warn(
            f"binding {host}: anyone who can reach it can use the stand-in (it accepts any API "
            "key)."
        )
    base_url = f"http://{host}:{port}/v1"
    console.print(
        literal(
            f"OpenAI stand-in (nearest-neighbour retrieval, not a language model) on {base_url}\n"
            f"data: {local_openai_data_dir(settings)}\n"
            f"use it with: OPENAI_BASE_URL={base_url} OPENAI_API_KEY=local "
            "TUNELOOP_PROVIDER=openai"
        ),
        soft_wrap=True,
    )
    http_server.serve(stand_in.handle, host=host, port=port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
