"""`tuneloop serve`: the Slack bot, over HTTP (signature-verified, with /healthz) or Socket Mode."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from tuneloop.cli.app import app
from tuneloop.cli.output import configure_logging, console, fail, reported_errors
from tuneloop.terminal import literal

DEFAULT_PORT = 3000


@app.command("serve")
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind (HTTP mode; /healthz in Socket Mode).")
    ] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(envvar="PORT", help=f"Port to bind (default: PORT, else {DEFAULT_PORT})."),
    ] = None,
    no_scheduler: Annotated[
        bool,
        typer.Option("--no-scheduler", help="Leave retraining to a separate `tuneloop scheduler`."),
    ] = False,
) -> None:
    """Run the Slack bot. Socket Mode when SLACK_APP_TOKEN is set (no public URL needed);
    otherwise HTTP on /slack/events (verified with SLACK_SIGNING_SECRET) and /metrics.
    /healthz on --host/--port either way; TUNELOOP_METRICS_PORT serves /metrics and /healthz
    on a port of their own. SIGTERM or Ctrl+C: no new events, answers in flight finished
    within TUNELOOP_SHUTDOWN_GRACE_SECONDS, exit 0 (1 if the grace ran out)."""
    from tuneloop.errors import ProviderConfigError
    from tuneloop.serve import (
        SlackSettingsError,
        build_bot,
        run_http,
        run_socket_mode,
        serving_mode,
    )
    from tuneloop.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    port = DEFAULT_PORT if port is None else port
    if not 0 < port < 65536:
        fail(f"--port must be between 1 and 65535, got {port}")
    with reported_errors():
        try:
            runtime = build_bot(settings)
        except (SlackSettingsError, ProviderConfigError) as exc:
            fail(str(exc))
        except Exception as exc:  # (Slack unreachable or refusing the token: SlackSettingsError)
            fail(f"could not start the Slack app: {exc}")
    from tuneloop.metrics.http import MetricsServerError
    from tuneloop.wiring import metrics_server

    try:  # Socket Mode has no other HTTP server: metrics and health on a port of their own
        exposed = metrics_server(settings, runtime.metrics, health=runtime.health)
    except MetricsServerError as exc:
        runtime.close()
        fail(str(exc))

    if runtime.recovery is not None:
        # Heartbeat, and answer what a process that died left unanswered (now and every
        # TUNELOOP_REPLICA_HEARTBEAT_SECONDS).
        runtime.recovery.start()
    scheduler = None
    if not no_scheduler:
        scheduler = runtime.retrain_scheduler(settings)
        scheduler.start()
    runtime.warm_up()
    grace_s = settings.shutdown_grace_seconds
    drained = False
    try:
        if serving_mode(settings) == "socket":
            console.print(
                f"tuneloop bot: Socket Mode (health: http://{host}:{port}/healthz)",
                highlight=False,
                soft_wrap=True,
            )
            drained = run_socket_mode(
                runtime,
                settings.slack_app_token or "",
                host=host,
                port=port,
                grace_s=grace_s,
                ping_interval_s=settings.socket_mode_ping_interval_seconds,
                ping_timeout_s=settings.socket_mode_ping_timeout_seconds,
            )
        else:
            console.print(
                literal(f"tuneloop bot: http://{host}:{port}/slack/events (health: /healthz)"),
                soft_wrap=True,
            )
            drained = run_http(runtime, host=host, port=port, grace_s=grace_s)
    except SlackSettingsError as exc:
        fail(str(exc))
    finally:
        if scheduler is not None:
            scheduler.shutdown()  # hands the leader lease over at once
        if exposed is not None:
            exposed.close()
        runtime.close(wait=drained)
    if not drained:
        # Answers still running past the grace: their threads would hold the exit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    console.print("tuneloop bot: stopped", highlight=False)
