"""`tuneloop serve`: the Slack bot, over HTTP (signature-verified, with /healthz) or Socket Mode."""

from __future__ import annotations

from typing import Annotated

import typer

from tuneloop.cli.app import app
from tuneloop.cli.output import configure_logging, console, fail, reported_errors

DEFAULT_PORT = 3000


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to bind in HTTP mode.")] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(
            envvar="PORT", help=f"Port in HTTP mode (default: PORT, else {DEFAULT_PORT})."
        ),
    ] = None,
    no_scheduler: Annotated[
        bool,
        typer.Option("--no-scheduler", help="Leave retraining to a separate `tuneloop scheduler`."),
    ] = False,
) -> None:
    """Run the Slack bot. Socket Mode when SLACK_APP_TOKEN is set (no public URL needed);
    otherwise HTTP on /slack/events (verified with SLACK_SIGNING_SECRET) and /healthz."""
    from tuneloop.provider import ProviderConfigError
    from tuneloop.serve import (
        SlackSettingsError,
        build_bot,
        run_http,
        run_socket_mode,
        serving_mode,
    )
    from tuneloop.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    port = DEFAULT_PORT if port is None else port
    if not 0 < port < 65536:
        fail(f"--port must be between 1 and 65535, got {port}")
    with reported_errors():
        try:
            runtime = build_bot(settings)
        except (SlackSettingsError, ProviderConfigError) as exc:
            fail(str(exc))
        except Exception as exc:  # Bolt checks the token with auth.test at start-up
            fail(f"could not start the Slack app: {exc}")
    if runtime.recovery is not None:
        # Heartbeat, and answer what a process that died left unanswered (now and every
        # TUNELOOP_REPLICA_HEARTBEAT_SECONDS).
        runtime.recovery.start()
    scheduler = None
    if not no_scheduler:
        scheduler = runtime.retrain_scheduler(settings)
        scheduler.start()
    try:
        if serving_mode(settings) == "socket":
            console.print("tuneloop bot: Socket Mode", highlight=False)
            run_socket_mode(runtime, settings.slack_app_token or "")
        else:
            console.print(
                f"tuneloop bot: http://{host}:{port}/slack/events (health: /healthz)",
                highlight=False,
                soft_wrap=True,
            )
            run_http(runtime, host=host, port=port)
    finally:
        if scheduler is not None:
            scheduler.shutdown()  # hands the leader lease over at once
        runtime.close()
