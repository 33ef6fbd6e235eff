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

import contextlib
import gc
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import openai
from slack_bolt import App
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse

from bot import BotConfig, RetrainingControl, build_app
from bot.app import build_responder
from bot.asgi import EVENTS_PATH, HEALTH_PATH, create_asgi_app
from bot.conversation.delivery import DeliveryOptions
from bot.conversation.recovery import Recovery
from bot.conversation.triggers import FollowUpRule
from bot.listeners.events.app_removal import register_app_removal
from bot.origin import AppIdentity
from bot.replies import TokenBudget
from bot.replies.prompt import DEFAULT_ENCODING
from bot.reviewers import UserGroupReviewers, any_of
from bot.threads import started_pool
from curation.claims import ClaimRules, Replicas
from curation.store import Store
from curation.tokens import get_encoding
from tuneloop.health import HealthCheck
from tuneloop.metrics import Metrics
from tuneloop.metrics.http import metrics_route
from tuneloop.settings import Settings
from tuneloop.shutdown import Stopper
from tuneloop.slack_link import SlackLink
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
    store_collector,
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
        reply_temperature=settings.reply_temperature,
        delivery=DeliveryOptions(
            status_delay_s=settings.status_delay_seconds,
            rate_limit_budget_s=settings.slack_rate_limit_wait_seconds,
        ),
        streaming=settings.slack_streaming,
        follow_ups=FollowUpRule(settings.slack_follow_ups),
        file_chars=settings.slack_file_chars,
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
    settings: Settings
    closers: list[Callable[[], None]] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    #: Runs Bolt's listeners; drained before the reply workers, since listeners feed them.
    listeners: Executor | None = None
    link: SlackLink = field(default_factory=SlackLink)
    #: This replica's heartbeat and the sweep for questions that died with another process;
    #: `start()` it when the bot starts serving.
    recovery: Recovery | None = None

    def retrain_scheduler(self, settings: Settings) -> RetrainScheduler:
        """The scheduler for this process, over the same runner the Slack commands use."""
        return build_retrain_scheduler(
            settings, self.store.db, runner=self.runner, on_leadership=self.metrics.set_leader
        )

    def asgi(self) -> Starlette:
        """/slack/events (signature checked before the body is read, body capped by
        TUNELOOP_SLACK_MAX_BODY_BYTES) and /healthz (a store write and the served model,
        each probed at most once per its TUNELOOP_HEALTH_*_CHECK_SECONDS)."""
        settings = self.settings
        secret = settings.slack_signing_secret
        if not secret:
            if serving_mode(settings) == "http":
                raise SlackSettingsError("SLACK_SIGNING_SECRET is not set: HTTP mode needs it")
            # Socket Mode serves /healthz only (`_health_only` drops /slack/events), so no
            # request is ever verified with this secret.
            secret = secrets.token_hex(16)
        app = create_asgi_app(
            self.app,
            signing_secret=secret,
            health=self.health,
            max_body_bytes=settings.slack_max_body_bytes,
        )
        app.router.routes.append(metrics_route(self.metrics.registry))  # GET /metrics
        return app

    @cached_property
    def _checks(self) -> HealthCheck:
        settings = self.settings
        return HealthCheck(
            self.store.db,
            self.active_model,
            self.runner.ctx.client,
            serving=self.runner.ctx.serving,
            store_ttl_s=settings.health_store_check_seconds,
            model_ttl_s=settings.health_model_check_seconds,
        )

    def health(self) -> dict[str, Any]:
        """/healthz: `ok`, `active_model`, `checks` (the store and the served model, see
        `HealthCheck`) and `slack_connection`; not ok (so /healthz answers 503) when a check
        fails, once the link with Slack is lost for good, or while the process is stopping."""
        link = self.link.health()
        details = {**self._checks(), **link}
        if self.link.final or self.link.state == "stopping":
            details["ok"] = False
        return details

    def warm_up(self) -> None:
        """Ready for a burst, called once before serving: the served model's tokenizer is
        loaded (the first answer would otherwise spend a second or so on it, on a small
        machine), and what start-up made (modules, the app, the tokenizer's tables) is moved
        out of the garbage collector's sight (`gc.freeze`): it stays for the life of the
        process, and every full collection walked all of it again, with the GIL held, while
        200 answers waited (CPU per answer in bench/bench_bot.py: down by a fifth). Never
        raises: a tokenizer that cannot be loaded is reported by the first answer too."""
        try:
            get_encoding(bot_config(self.settings).encoding_for(self.active_model()))
        except Exception as error:
            log.warning("could not load the tokenizer before serving: %s", error)
        gc.freeze()

    def drain(self, grace_s: float) -> bool:
        """Finish what was accepted (listeners, then the answers they handed over) within
        `grace_s` seconds; True if everything finished."""
        deadline = time.monotonic() + grace_s
        if self.recovery is not None:
            self.recovery.stop()  # take over nothing more: this process is going
        pools = [pool for pool in (self.listeners, self.reply_workers) if pool is not None]
        for pool in pools:
            if not _shut_down_by(pool, deadline):
                log.error(
                    "the %.0f s shutdown grace ran out with answers still being written; "
                    "they are cut short (TUNELOOP_SHUTDOWN_GRACE_SECONDS)",
                    grace_s,
                )
                return False
        return True

    def close(self, *, wait: bool = True) -> None:
        """Release what the bot holds; `wait=False` after a drain that ran out of time (this
        replica's claims are then left for another to take over once it times out)."""
        if self.recovery is not None:
            self.recovery.stop()
        for pool in (self.listeners, self.reply_workers):
            if pool is not None:
                pool.shutdown(wait=wait, cancel_futures=not wait)
        if self.recovery is not None and wait:
            self.recovery.retire()  # after the answers in flight: nothing left to take over
        for close in self.closers:
            close()


def _shut_down_by(pool: Executor, deadline: float) -> bool:
    """Shut `pool` down, waiting for its running and queued work until `deadline` (monotonic)."""
    waiter = threading.Thread(target=pool.shutdown, name="tuneloop-drain", daemon=True)
    waiter.start()
    waiter.join(max(0.0, deadline - time.monotonic()))
    return not waiter.is_alive()


class SlackSettingsError(RuntimeError):
    """What is missing to talk to Slack, in words for the person starting the bot."""


#: What to try when Slack cannot be reached or refuses the token at start-up.
_WITHOUT_SLACK = (
    "To try tuneloop without a Slack workspace, `tuneloop chat` runs the bot in a local one "
    "in this terminal (`tuneloop demo` runs the whole loop)."
)


@contextlib.contextmanager
def reaching_slack(client: WebClient) -> Iterator[None]:
    """Bolt's start-up call to Slack's Web API (auth.test, which checks SLACK_BOT_TOKEN)
    inside the block: a network failure or a refused token becomes SlackSettingsError that
    names the URL called and what to check."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    url = f"{client.base_url}auth.test"
    try:
        yield
    except OSError as exc:  # URLError, timeouts, refused connections: no answer from Slack
        reason = getattr(exc, "reason", None) or exc
        said = getattr(reason, "strerror", None) or str(reason)
        raise SlackSettingsError(
            f"could not reach Slack's Web API at {url} ({said}): check this machine's network "
            "connection to Slack (and its proxy, HTTPS_PROXY, if it needs one), and "
            f"SLACK_API_URL if it is set. {_WITHOUT_SLACK}"
        ) from None
    except BoltError as exc:
        answer = exc.__context__
        if not isinstance(answer, SlackApiError):
            raise
        error = answer.response.get("error") if answer.response is not None else None
        raise SlackSettingsError(
            f"Slack's Web API at {url} refused SLACK_BOT_TOKEN ({error or answer}): set it to "
            "the app's Bot User OAuth Token (xoxb-..., under OAuth & Permissions once the app "
            "is installed in the workspace), and check SLACK_API_URL if it is set. "
            f"{_WITHOUT_SLACK}"
        ) from None


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
    # Started up front (`bot.threads`): a burst of questions must not wait for thread starts.
    workers = started_pool(config.reply_workers, "tuneloop-reply")
    metrics = Metrics()
    metrics.watch(store_collector(store.db, runner, active_model))
    listeners = started_pool(config.listener_threads, "tuneloop-listener")
    responder = build_responder(
        store=store,
        openai_client=openai_client,
        active_model=active_model,
        system_prompt=system_prompt(settings),
        config=config,
        reply_workers=workers,
        reload_model=model_reloader(runner),
        observe_reply=metrics.observe_reply,
    )
    signing_secret = settings.slack_signing_secret if serving_mode(settings) == "http" else None
    try:
        with reaching_slack(client):  # Bolt checks the token with auth.test at start-up
            app = build_app(
                store=store,
                openai_client=openai_client,
                active_model=active_model,
                system_prompt=None,  # the responder's
                control=control or retraining_control(settings, store.db, runner=runner),
                client=client,
                signing_secret=signing_secret,
                config=config,
                listener_executor=listeners,
                identity=AppIdentity(team_id=settings.slack_team_id, app_id=settings.slack_app_id),
                responder=responder,
            )
    except SlackSettingsError:
        listeners.shutdown(wait=False)
        workers.shutdown(wait=False)
        store.db.dispose()
        raise
    app.use(metrics.slack_middleware)
    link = SlackLink("http" if serving_mode(settings) == "http" else "starting")
    register_app_removal(app, lambda reason: link.lost("revoked", reason))
    recovery = Recovery(
        capture=store.capture,
        replicas=Replicas(store.db, claims),
        responder=responder,
        client=client,
        heartbeat_s=settings.replica_heartbeat_seconds,
        answer_within=timedelta(seconds=settings.recovery_max_age_seconds),
    )
    return BotRuntime(
        app,
        store,
        active_model,
        workers,
        runner,
        settings=settings,
        closers=[store.db.dispose],
        metrics=metrics,
        listeners=listeners,
        link=link,
        recovery=recovery,
    )


def run_http(runtime: BotRuntime, *, host: str, port: int, grace_s: float) -> bool:
    """Serve /slack/events and /healthz with uvicorn until SIGTERM or SIGINT, then drain:
    stop listening (Slack's retries get connection refused, or 503 on a connection still
    open), finish the requests and answers in flight within `grace_s`. True if all finished."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # tuneloop's Stopper owns the signals: uvicorn would re-raise SIGTERM once it has
            # stopped, killing the process before the answers in flight are finished.
            yield

    server = Server(uvicorn_config(runtime, host=host, port=port, grace_s=grace_s))

    def stop(why: str) -> None:
        runtime.link.set("stopping", f"{why} received")
        server.should_exit = True

    stopper = Stopper(grace_s).install(stop)
    server.run()
    return runtime.drain(stopper.grace_left())


def uvicorn_config(runtime: BotRuntime, *, host: str, port: int, grace_s: float) -> Any:
    """uvicorn's settings for `run_http` (a `uvicorn.Config`). Its lines go through tuneloop's
    logging (TUNELOOP_LOG_FORMAT, secrets redacted) at tuneloop's level (TUNELOOP_LOG_LEVEL):
    uvicorn's own `log_level` would pin its loggers to one level, so an operator's WARNING
    would still print an access line for every Slack event and health probe."""
    import uvicorn

    return uvicorn.Config(
        _refusing_while_stopping(runtime.asgi(), runtime.link),
        host=host,
        port=port,
        lifespan="off",
        log_level=None,
        log_config=None,
        timeout_graceful_shutdown=max(1, int(grace_s)),
    )


def _refusing_while_stopping(app: Starlette, link: SlackLink) -> Callable[..., Any]:
    """503 for Slack's requests once stopping, so Slack retries them elsewhere or later."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == EVENTS_PATH and link.state == "stopping":
            refused = PlainTextResponse("stopping", status_code=503, headers={"Retry-After": "1"})
            await refused(scope, receive, send)
            return
        await app(scope, receive, send)

    return asgi


def run_socket_mode(
    runtime: BotRuntime,
    app_token: str,
    *,
    host: str,
    port: int,
    grace_s: float,
    ping_interval_s: float,
    ping_timeout_s: float,
) -> bool:
    """Connect to Slack over a WebSocket (no public URL), serve /healthz on `host:port`, until
    SIGTERM or SIGINT; then stop acknowledging (Slack resends those envelopes to another
    connection or later), finish what was accepted within `grace_s`. True if all finished.

    Raises SlackSettingsError when Slack refuses the app-level token at start-up."""
    from slack_sdk.errors import SlackApiError

    from tuneloop.local_slack.threaded import ThreadedServer
    from tuneloop.socket_mode import DrainingSocketModeHandler

    stopper = Stopper(grace_s).install(lambda why: runtime.link.set("stopping", f"{why} received"))
    handler = DrainingSocketModeHandler(
        runtime.app,
        app_token,
        link=runtime.link,
        ping_interval=ping_interval_s,
        ping_timeout=ping_timeout_s,
    )
    try:
        handler.connect()
    except SlackApiError as error:
        handler.close()
        raise SlackSettingsError(
            f"Slack refused SLACK_APP_TOKEN ({error.response.get('error')}): it must be an "
            "app-level token (xapp-...) with connections:write, and Socket Mode must be on."
        ) from error
    health = ThreadedServer(_health_only(runtime.asgi()), host=host, port=port, name="health")
    health.start()
    try:
        stopper.wait()
        if not handler.stop_acknowledging(stopper.grace_left()):
            log.error("envelopes taken before the stop were not all acknowledged in time")
        left = handler.left_unacknowledged
        handler.close()
        if left:
            log.info("%d envelope(s) left unacknowledged for Slack to resend", left)
        return runtime.drain(stopper.grace_left())
    finally:
        health.stop()


def _health_only(app: Starlette) -> Starlette:
    """The bot's /healthz without /slack/events: Socket Mode requests are not signed, so the
    events route must not be reachable over HTTP."""
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) == HEALTH_PATH]
    return app
