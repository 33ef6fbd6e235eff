"""`build_app(...)`: the Bolt app, given everything it uses. Thin on purpose: it wires the
reply path and registers the listeners; the work lives in `replies/`, `conversation/`,
`blocks/` and `listeners/`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor

import openai
from slack_bolt import App
from slack_sdk import WebClient

from bot.config import BotConfig
from bot.control import RetrainingControl
from bot.conversation.delivery import StreamingSwitch
from bot.conversation.files import FileReader
from bot.conversation.names import SlackNames
from bot.conversation.responder import Responder
from bot.conversation.triggers import FollowUps
from bot.deps import Deps
from bot.incidents import listener_failed
from bot.listeners import register_listeners
from bot.origin import AppIdentity, ExpectedOrigin, origin_middleware
from bot.replies import ModelCall, PromptBuilder, ReplyService
from bot.replies.observer import ReplyObserver
from bot.threads import started_pool
from curation.outage import OutageRetry
from curation.store import Store


def build_responder(
    *,
    store: Store,
    openai_client: openai.OpenAI,
    active_model: Callable[[], str],
    system_prompt: str | None,
    config: BotConfig,
    reply_workers: Executor | None = None,
    reload_model: Callable[[str], bool] | None = None,
    observe_reply: ReplyObserver | None = None,
) -> Responder:
    """The reply path: prompt, claim, model call, delivery, on `reply_workers` (made here,
    sized by `config`, when not given). Store writes ride out a database outage for
    `config.store_outage_wait_s`. `reload_model` is asked to load a model again when the model
    server answers 404 for it (see `ModelCall`); `observe_reply` is told of every question
    handled (outcome, model, seconds; see `ReplyRecord`), for metrics."""
    store_calls = OutageRetry(max_wait_s=config.store_outage_wait_s)
    replies = ReplyService(
        store.capture,
        ModelCall(
            openai_client,
            max_tokens=config.budget.reply_tokens,
            timeout_s=config.model_timeout_s,
            temperature=config.reply_temperature,
            reload_model=reload_model,
        ),
        PromptBuilder(
            system_prompt,
            budget_tokens=config.budget.prompt_tokens,
            encoding_for=config.encoding_for,
        ),
        active_model,
        observe=observe_reply,
        store_calls=store_calls,
    )
    return Responder(
        replies=replies,
        capture=store.capture,
        workers=reply_workers or started_pool(config.reply_workers, "tuneloop-reply"),
        streaming=StreamingSwitch(config.streaming),
        delivery=config.delivery,
        history_messages=config.history_messages,
        follow_ups=FollowUps(config.follow_ups),
        names=SlackNames(ttl_s=config.names_ttl_s),
        files=FileReader(max_chars=config.file_chars),
        store_calls=store_calls,
    )


def build_app(
    *,
    store: Store,
    openai_client: openai.OpenAI,
    active_model: Callable[[], str],
    system_prompt: str | None,
    control: RetrainingControl,
    client: WebClient,
    signing_secret: str | None,
    config: BotConfig | None = None,
    reply_workers: Executor | None = None,
    listener_executor: Executor | None = None,
    logger: logging.Logger | None = None,
    reload_model: Callable[[str], bool] | None = None,
    observe_reply: ReplyObserver | None = None,
    identity: AppIdentity | None = None,
    responder: Responder | None = None,
) -> App:
    """The tuneloop Bolt app.

    `client` is the Slack Web API client (its `base_url` may point at the local workspace);
    `signing_secret` None turns request verification off, for Socket Mode only.
    `active_model` is called for every message. `reply_workers` runs model calls and
    `listener_executor` Bolt's listeners (each made here, sized by `config`, when not given;
    whoever passes one shuts it down). `reload_model` is asked to load a model again when
    the model server answers 404 for it (see `ModelCall`). `observe_reply` is told of every
    question handled (outcome, model, seconds; see `ReplyRecord`), for metrics. Requests of
    another team or app than `identity` (by default the bot token's, from auth.test) are
    ignored (`bot.origin`). `responder`: a reply path built with `build_responder` (the
    composition root shares it with the recovery sweep); one is built here from the arguments
    above when not given.
    """
    config = config or BotConfig()
    responder = responder or build_responder(
        store=store,
        openai_client=openai_client,
        active_model=active_model,
        system_prompt=system_prompt,
        config=config,
        reply_workers=reply_workers,
        reload_model=reload_model,
        observe_reply=observe_reply,
    )
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        listener_executor=listener_executor
        or started_pool(config.listener_threads, "tuneloop-listener"),
        logger=logger or logging.getLogger("tuneloop.bot"),
        name="tuneloop",
    )
    app.use(origin_middleware(ExpectedOrigin(identity)))
    app.error(listener_failed)
    register_listeners(app, Deps(store, responder, control, config))
    return app
