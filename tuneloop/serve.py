"""The composition root of `tuneloop serve`: the Bolt app from settings, served over HTTP
(uvicorn, signature-verified) or Socket Mode.

Builds what bot/ is given: the store (reviewers from TUNELOOP_REVIEWERS and, optionally, a
Slack user group), the model client, the active-model lookup (the registry, read per message),
the Slack Web API client (SLACK_API_URL may point it at the local workspace), and the
retraining control: one cycle runner, shared by the Slack commands and (unless
`--no-scheduler`) the scheduler running in the same process, whose decisions are posted to
TUNELOOP_REVIEW_CHANNEL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import openai
from slack_bolt import App
from slack_sdk import WebClient
from starlette.applications import Starlette

from bot import BotConfig, RetrainingControl, build_app
from bot.app import build_responder
from bot.asgi import create_asgi_app
from bot.conversation.delivery import DeliveryOptions
from bot.conversation.recovery import Recovery
from bot.replies import TokenBudget
from bot.replies.prompt import DEFAULT_ENCODING
from bot.reviewers import UserGroupReviewers, any_of
from curation.claims import ClaimRules, Replicas
from curation.store import Store
from tuneloop.settings import Settings
from tuneloop.wiring import (
    active_model_lookup,
    build_cycle_runner,
    build_retrain_scheduler,
    example_limit,
    model_reloader,
    open_database,
    personal_data_policy,
    retraining_control,
    slack_decision_notifier,
    slack_web_client,
    system_prompt,
)

if TYPE_CHECKING:
    from scheduler.cycle import CycleRunner
    from scheduler.service import RetrainScheduler

log = logging.getLogger("tuneloop.serve")

Mode = Literal["socket", "http"]


def serving_mode(settings: Settings) -> Mode:
    """Socket Mode when an app-level token is set (no public URL needed), else HTTP."""
    return "socket" if settings.slack_app_token else "http"


def bot_config(settings: Settings) -> BotConfig:
    def encoding_for(model: str) -> str:
        return (
            settings.models.spec(model).encoding if model in settings.models else DEFAULT_ENCODING
        )

    return BotConfig(
        budget=TokenBudget(
            prompt_tokens=settings.prompt_token_budget,
            reply_tokens=settings.max_reply_tokens,
            correction_tokens=settings.correction_max_tokens,
        ),
        encoding_for=encoding_for,
        model_timeout_s=settings.model_timeout_seconds,
        delivery=DeliveryOptions(status_delay_s=settings.status_delay_seconds),
        streaming=settings.slack_streaming,
        listener_threads=settings.slack_listener_threads,
        reply_workers=settings.slack_reply_workers,
        store_outage_wait_s=settings.store_outage_wait_seconds,
    )


def bot_store(settings: Settings, client: WebClient, claims: ClaimRules | None = None) -> Store:
    """The store, with reviewers from TUNELOOP_REVIEWERS and TUNELOOP_REVIEWER_GROUP, claiming
    exchanges by `claims` (this replica)."""
    groups = (
        [UserGroupReviewers(client, settings.reviewer_group)] if settings.reviewer_group else []
    )
    return Store.build(
        open_database(settings),
        reviewers=any_of(settings.reviewers, *groups),
        eval_fraction=settings.eval_fraction,
        limit=example_limit(settings),
        personal_data=personal_data_policy(settings),
        claims=claims,
    )


@dataclass
class BotRuntime:
    """The built bot and what must be closed when it stops."""

    app: App
    store: Store
    active_model: Callable[[], str]
    reply_workers: ThreadPoolExecutor
    runner: CycleRunner
    closers: list[Callable[[], None]] = field(default_factory=list)
    #: This replica's heartbeat and the sweep for questions that died with another process;
    #: `start()` it when the bot starts serving.
    recovery: Recovery | None = None

    def retrain_scheduler(self, settings: Settings) -> RetrainScheduler:
        """The scheduler for this process, over the same runner the Slack commands use."""
        return build_retrain_scheduler(settings, self.store.db, runner=self.runner)

    def asgi(self) -> Starlette:
        return create_asgi_app(self.app, health=lambda: {"active_model": self.active_model()})

    def close(self) -> None:
        if self.recovery is not None:
            self.recovery.stop()
        self.reply_workers.shutdown(wait=True)
        if self.recovery is not None:
            self.recovery.retire()  # after the answers in flight: nothing left to take over
        for close in self.closers:
            close()


class SlackSettingsError(RuntimeError):
    """What is missing to talk to Slack, in words for the person starting the bot."""


def build_bot(
    settings: Settings,
    *,
    openai_client: openai.OpenAI | None = None,
    client: WebClient | None = None,
    control: RetrainingControl | None = None,
) -> BotRuntime:
    """The bot from settings (tests pass their own model client)."""
    if not settings.slack_bot_token:
        raise SlackSettingsError(
            "SLACK_BOT_TOKEN is not set: create the Slack app from manifest.yaml, install it, "
            "and set its Bot User OAuth Token (xoxb-...)."
        )
    if serving_mode(settings) == "http" and not settings.slack_signing_secret:
        raise SlackSettingsError(
            "SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it "
            "(Basic Information > App Credentials), or set SLACK_APP_TOKEN for Socket Mode."
        )
    from tuneloop.provider import build_openai_client

    client = client or slack_web_client(settings)
    claims = ClaimRules(timeout=timedelta(seconds=settings.replica_timeout_seconds))
    store = bot_store(settings, client, claims)
    openai_client = openai_client or build_openai_client(settings)
    runner = build_cycle_runner(
        settings,
        store.db,
        client=openai_client,
        notifier=slack_decision_notifier(settings, client),
    )
    # The runner's registry is the one the scheduler and the Slack commands promote through.
    active_model = active_model_lookup(settings, store.db, registry=runner.ctx.registry)
    config = bot_config(settings)
    workers = ThreadPoolExecutor(config.reply_workers, thread_name_prefix="tuneloop-reply")
    responder = build_responder(
        store=store,
        openai_client=openai_client,
        active_model=active_model,
        system_prompt=system_prompt(settings),
        config=config,
        reply_workers=workers,
        reload_model=model_reloader(runner),
    )
    app = build_app(
        store=store,
        openai_client=openai_client,
        active_model=active_model,
        system_prompt=None,  # the responder's
        control=control or retraining_control(settings, store.db, runner=runner),
        client=client,
        signing_secret=settings.slack_signing_secret if serving_mode(settings) == "http" else None,
        config=config,
        responder=responder,
    )
    recovery = Recovery(
        capture=store.capture,
        replicas=Replicas(store.db, claims),
        responder=responder,
        client=client,
        heartbeat_s=settings.replica_heartbeat_seconds,
        answer_within=timedelta(seconds=settings.recovery_max_age_seconds),
    )
    return BotRuntime(
        app, store, active_model, workers, runner, [store.db.dispose], recovery=recovery
    )


def run_http(runtime: BotRuntime, *, host: str, port: int) -> None:
    """Serve /slack/events and /healthz with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(runtime.asgi(), host=host, port=port, lifespan="off", log_level="info")


def run_socket_mode(runtime: BotRuntime, app_token: str) -> None:
    """Connect to Slack over a WebSocket (no public URL) until interrupted."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(runtime.app, app_token).start()
