"""`tuneloop local-together`: serve the offline Together AI stand-in over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tuneloop.cli.app import app
from tuneloop.cli.local_openai_commands import _is_loopback
from tuneloop.cli.output import configure_logging, console, errors, fail


@app.command("local-together")
def local_together(
    host: Annotated[
        str, typer.Option(help="Address to bind. Keep it on localhost: any key is accepted.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8091,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Folder for the stand-in's files, jobs and models (default: "
            "TUNELOOP_LOCAL_TOGETHER_DATA_DIR, else TUNELOOP_DATA_DIR/local-together).",
        ),
    ] = None,
    stage_seconds: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds per job status (default: TUNELOOP_LOCAL_OPENAI_STAGE_SECONDS).",
        ),
    ] = None,
) -> None:
    """Serve the Together stand-in under /v1: files, fine-tuning jobs, adapters and chat
    (retrieval over training examples, not a language model). Point tuneloop at it with
    TOGETHER_BASE_URL=http://HOST:PORT/v1 TOGETHER_API_KEY=local."""
    from tuneloop.local_openai import http_server
    from tuneloop.provider import local_together_from_settings
    from tuneloop.settings import load_settings

    overrides: dict[str, Any] = {}
    if data is not None:
        overrides["local_together_data_dir"] = data
    if stage_seconds is not None:
        overrides["local_openai_stage_seconds"] = stage_seconds
    settings = load_settings().model_copy(update=overrides)
    configure_logging(settings.log_level)
    if not 0 < port < 65536:
        fail(f"--port must be between 1 and 65535, got {port}")
    stand_in = local_together_from_settings(settings)
    if not _is_loopback(host):
        errors.print(
            f"[yellow]warning:[/] binding {host}: anyone who can reach it can use the stand-in "
            "(it accepts any API key).",
            highlight=False,
        )
    base_url = f"http://{host}:{port}/v1"
    console.print(
        f"Together stand-in (nearest-neighbour retrieval, not a language model) on {base_url}\n"
        f"data: {settings.resolved_local_together_dir}\n"
        f"use it with: TUNELOOP_TRAINER=together TOGETHER_BASE_URL={base_url} "
        "TOGETHER_API_KEY=local",
        highlight=False,
        soft_wrap=True,
    )
    http_server.serve(stand_in.handle, host=host, port=port)
