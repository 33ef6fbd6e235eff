"""Builds the parts from settings and hands each what it needs.

Each builder imports what it builds, so a command loads only the parts it uses: `tuneloop
stats` and `examples show` read the database without the store's services (capture, review,
secret scrubbing, token counting) or the scheduler's."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from curation.correction_limits import CorrectionLimits
    from curation.db import Database
    from curation.personal_data import PersonalDataPolicy
    from curation.store import Store
    from curation.token_limit import TokenLimit
    from tuneloop.settings import Settings


def open_database(settings: Settings, *, existing: bool = False) -> Database:
    """The configured database; a SQLite file is created and migrated on first use. Raises
    ConfigError (naming DATABASE_URL) for a URL it cannot use or a server it cannot reach,
    and with `existing` (a command that only reads the store) for a store not made yet:
    such a command must not create one."""
    from tuneloop.database import open_database as open_checked

    return open_checked(settings, existing=existing)


def open_store(settings: Settings, db: Database | None = None) -> Store:
    """The store's services over `db` (else the configured database), set up by `settings`."""
    from curation.store import Store

    return Store.build(
        db or open_database(settings),
        reviewers=settings.reviewers,
        eval_fraction=settings.eval_fraction,
        limit=example_limit(settings),
        personal_data=personal_data_policy(settings),
        correction_limits=correction_limits(settings),
    )


def correction_limits(settings: Settings) -> CorrectionLimits:
    """How many corrections one person, and one reply, may get within a window."""
    from curation.correction_limits import CorrectionLimits

    return CorrectionLimits(
        per_person=settings.correction_limit_per_person,
        per_reply=settings.correction_limit_per_reply,
        window=timedelta(seconds=settings.correction_limit_window_seconds),
    )


def personal_data_policy(settings: Settings) -> PersonalDataPolicy:
    """What counts as personal data, and the team's public contacts that are kept."""
    from curation.personal_data import PersonalDataPolicy

    return PersonalDataPolicy(
        allow_list=tuple(settings.pii_allow_list), phone_regions=tuple(settings.pii_phone_regions)
    )


def example_limit(settings: Settings) -> TokenLimit | None:
    """The base model's per-example token limit, which the doors into the store check; None
    for a model the table does not list (export names that problem)."""
    from curation.model_specs import UnknownModelError
    from curation.token_limit import TokenLimit

    try:
        return TokenLimit.for_model(settings.models, settings.base_model)
    except UnknownModelError:
        return None


def system_prompt(settings: Settings) -> str | None:
    """The team's system prompt, None without a seeds folder or a `system_prompt.md`."""
    from curation.importing import read_system_prompt

    path = settings.system_prompt_file
    return read_system_prompt(path) if path is not None else None


# --- retraining (scheduler/) ------------------------------------------------------------------
# One block, appended: scheduler modules are imported inside the functions, so commands that
# never retrain do not load them.
import logging  # noqa: E402
import shlex  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from collections.abc import Callable

    import openai

    from scheduler.control import RetrainingService
    from scheduler.cycle import CycleConfig, CycleRunner
    from scheduler.cycle.context import ModelServing
    from scheduler.evaluation import Evaluator, Grader
    from scheduler.evaluation.runner import OnStored
    from scheduler.gate import GatePolicy
    from scheduler.notify import Notifier
    from scheduler.registry import ActiveModelLookup, Registry
    from scheduler.service import Lease, RetrainScheduler
    from scheduler.training import Trainer
    from scheduler.training.lora import AdapterStore
    from scheduler.training.together import TogetherClient, TogetherTrainer


def model_registry(db: Database) -> Registry:
    from scheduler.registry import Registry

    return Registry(db)


def active_model_lookup(
    settings: Settings, db: Database, *, registry: Registry | None = None
) -> ActiveModelLookup:
    """What the bot calls before each reply: the promoted model, or the base model until one
    is promoted. Sees a promotion on the next call (see TUNELOOP_ACTIVE_MODEL_TTL_SECONDS);
    with a TTL, changes made through `registry` (this process's scheduler and Slack commands)
    drop the cached answer at once."""
    from scheduler.registry import ActiveModelLookup

    lookup = ActiveModelLookup(
        db, default=settings.base_model, ttl_s=settings.active_model_ttl_seconds
    )
    if registry is not None:
        registry.on_change(lookup.invalidate)
    return lookup


def gate_policy(settings: Settings) -> GatePolicy:
    from scheduler.gate import GatePolicy

    return GatePolicy(
        margin=settings.gate_margin,
        golden_tolerance=settings.gate_golden_tolerance,
        golden_floor=settings.gate_golden_floor,
        min_items=settings.gate_min_eval_items,
        min_differing_items=settings.gate_min_differing_items,
        shutdown_days=settings.gate_shutdown_days,
    )


def cycle_config(settings: Settings) -> CycleConfig:
    from scheduler.cycle import CycleConfig

    return CycleConfig(
        base_model=settings.base_model,
        export_dir=settings.data_dir / "datasets",
        method=settings.training_method,
        strategy=settings.training_strategy,
        epochs=settings.export_epochs,
        redact_pii=settings.redact_pii_in_export,
        personal_data=personal_data_policy(settings),
        suffix=settings.training_suffix,
        seed=settings.training_seed,
        incremental_learning_rate_multiplier=settings.incremental_learning_rate_multiplier,
        replay_ratio=settings.replay_ratio,
        min_new_examples=settings.min_new_examples,
        budget_per_run_usd=settings.budget_per_run_usd,
        budget_per_month_usd=settings.budget_per_month_usd,
        model_ready_timeout=timedelta(minutes=settings.model_ready_timeout_minutes),
        gate=gate_policy(settings),
    )


def build_evaluator(
    settings: Settings,
    db: Database,
    client: openai.OpenAI,
    *,
    concurrency: int | None = None,
    on_stored: OnStored | None = None,
) -> Evaluator:
    """The evaluator with the configured grader, concurrency, timeout and retries;
    `on_stored` hears how many items are stored after each commit (a progress display)."""
    from scheduler.evaluation import (
        Asker,
        EvalOptions,
        Evaluator,
        ExactMatchGrader,
        JudgeGrader,
        RetryPolicy,
        SimilarityGrader,
    )

    options = EvalOptions(
        concurrency=concurrency or settings.eval_concurrency,
        timeout_s=settings.eval_timeout_seconds,
        attempts=settings.eval_attempts,
        max_tokens=settings.eval_max_tokens,
        temperature=settings.eval_temperature,
        retry_wait_s=settings.eval_retry_wait_seconds,
    )
    retry = RetryPolicy(attempts=settings.eval_attempts)
    asker = Asker(
        client,
        timeout_s=options.timeout_s,
        retry=retry,
        max_tokens=options.max_tokens,
        temperature=options.temperature,
    )
    grader: Grader
    if settings.grader == "exact":
        grader = ExactMatchGrader()
    elif settings.grader == "judge":
        judge_asker = Asker(client, timeout_s=options.timeout_s, retry=retry)
        grader = JudgeGrader(
            judge_asker,
            settings.judge_model,
            similarity=SimilarityGrader(tie_margin=settings.eval_tie_margin),
        )
    else:
        grader = SimilarityGrader(tie_margin=settings.eval_tie_margin)
    return Evaluator(db, asker, grader, options, on_stored=on_stored)


def adapter_store(settings: Settings) -> AdapterStore:
    """The LoRA backend's adapters (TUNELOOP_ADAPTER_STORE)."""
    from scheduler.training.lora import AdapterStore

    return AdapterStore(settings.resolved_adapter_store_dir)


def build_trainer(settings: Settings, client: openai.OpenAI) -> Trainer:
    """The configured training backend (TUNELOOP_TRAINER): OpenAI's fine-tuning API through
    `client`, self-hosted LoRA in detached worker processes, or Together's fine-tuning API."""
    if settings.trainer == "together":
        return together_trainer(settings)
    if settings.trainer != "lora":
        from scheduler.training import OpenAITrainer

        return OpenAITrainer(client)
    from scheduler.training.lora import LoraTrainer, LoraTrainerConfig
    from tuneloop.base_models import base_model_folder

    def base_models(name: str) -> Path:
        return base_model_folder(
            name, models_dir=settings.base_models_dir, configured=settings.lora_base_model_path
        )

    config = LoraTrainerConfig(
        base_models=base_models,
        base_model=settings.base_model,
        lora_r=settings.lora_rank,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=(
            "all-linear"
            if settings.lora_target_modules == ["all-linear"]
            else tuple(settings.lora_target_modules)
        ),
        learning_rate=settings.lora_learning_rate,
        n_epochs=settings.export_epochs,
        max_seq_length=settings.lora_max_seq_length,
        batch_size=settings.lora_batch_size,
        launcher=settings.lora_launcher,
        accelerate_args=tuple(shlex.split(settings.lora_accelerate_args)),
        seed=settings.training_seed or 0,
        worker_env={"HF_HUB_OFFLINE": "1"},
    )
    return LoraTrainer(settings.resolved_lora_jobs_dir, adapter_store(settings), config)


def together_trainer(settings: Settings, client: TogetherClient | None = None) -> TogetherTrainer:
    """Together's fine-tuning API (or its offline stand-in) with the configured LoRA settings;
    with TUNELOOP_TOGETHER_SERVING=vllm it downloads adapters into the adapter store."""
    from scheduler.training.together import TogetherTrainer, TogetherTrainerConfig
    from tuneloop.provider import together_client

    lora = settings.together_training_type == "lora"
    rate = settings.together_learning_rate or (settings.lora_learning_rate if lora else 1e-5)
    config = TogetherTrainerConfig(
        base_model=settings.base_model,
        training_type=settings.together_training_type,
        lora_r=settings.lora_rank,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        lora_trainable_modules=",".join(settings.lora_target_modules),
        learning_rate=rate,
        n_epochs=settings.export_epochs,
        batch_size=settings.together_batch_size,
        n_evals=settings.together_n_evals,
        serving=settings.together_serving,
    )
    adapters = adapter_store(settings) if settings.together_serving == "vllm" else None
    return TogetherTrainer(client or together_client(settings), config, adapters=adapters)


def build_serving(settings: Settings, client: openai.OpenAI) -> ModelServing | None:
    """What loads models on the serving side before they answer: vLLM's runtime LoRA adapters
    with the `lora` backend (and Together's adapters served on vLLM); nothing for OpenAI or
    Together, which serve their own fine-tunes."""
    if not settings.serves_on_vllm:
        return None
    from scheduler.serving import VLLMAdapterServing

    return VLLMAdapterServing(client, adapter_store(settings))


def build_cycle_runner(
    settings: Settings,
    db: Database | None = None,
    *,
    client: openai.OpenAI | None = None,
    notifier: Notifier | None = None,
    trainer: Trainer | None = None,
    on_evaluated: OnStored | None = None,
) -> CycleRunner:
    """The retraining cycle over the configured database, trainer and model provider (or the
    given `trainer`, say one on a stand-in the caller holds). Each
    cycle that ends (a decision, a failed job) is posted to TUNELOOP_REVIEW_CHANNEL when one is
    set, else logged, unless `notifier` is given. With a serving side that loads adapters,
    every registry change (a promotion, a rollback by hand) updates what is loaded at once: no
    restart. `on_evaluated` hears the evaluation's progress as its results are stored."""
    from scheduler.cycle import CycleRunner
    from scheduler.notify import log_notifier
    from tuneloop.provider import build_openai_client

    db = db or open_database(settings)
    client = client or build_openai_client(settings)
    registry = model_registry(db)
    runner = CycleRunner(
        db,
        client=client,
        trainer=trainer or build_trainer(settings, client),
        evaluator=build_evaluator(settings, db, client, on_stored=on_evaluated),
        registry=registry,
        models=settings.models,
        config=cycle_config(settings),
        notifier=notifier or slack_decision_notifier(settings) or log_notifier,
        serving=build_serving(settings, client),
    )
    registry.on_change(runner.sync_serving)
    return runner


def registry_for_changes(
    settings: Settings, db: Database, client: openai.OpenAI
) -> tuple[Registry, ModelServing | None]:
    """The registry for promotions and rollbacks by hand, and the serving side (None when the
    provider serves its own models). Each committed change updates what the serving side has
    loaded before the command returns: no restart anywhere."""
    from scheduler.cycle.context import keep_served

    registry = model_registry(db)
    serving = build_serving(settings, client)
    if serving is not None:
        registry.on_change(lambda: keep_served(serving, registry))
    return registry, serving


def model_reloader(runner: CycleRunner) -> Callable[[str], bool] | None:
    """For the bot: load a model again when the server answers 404 for it (a restarted vLLM
    has forgotten its runtime adapters). None without a serving side to ask."""
    serving = runner.ctx.serving
    if serving is None:
        return None

    def reload(model: str) -> bool:
        from scheduler.errors import ServingError

        try:
            return serving.ensure(model)
        except ServingError as exc:
            log.warning("could not reload %s on the serving side: %s", model, exc)
            return False

    return reload


def scheduler_lease(settings: Settings, db: Database) -> Lease:
    from scheduler.service import Lease

    return Lease(db, ttl=timedelta(seconds=settings.scheduler_lease_seconds))


def build_retrain_scheduler(
    settings: Settings,
    db: Database | None = None,
    *,
    runner: CycleRunner | None = None,
    notifier: Notifier | None = None,
    on_leadership: Callable[[bool], None] | None = None,
) -> RetrainScheduler:
    """The APScheduler service for `tuneloop scheduler` and `tuneloop serve`: call `start()`,
    and `shutdown()` on exit (it hands the leader lease over at once)."""
    from scheduler.service import RetrainScheduler, ScheduleConfig

    db = db or open_database(settings)
    runner = runner or build_cycle_runner(settings, db, notifier=notifier)
    config = ScheduleConfig(
        cron=settings.retrain_cron,
        interval_minutes=settings.retrain_interval_minutes,
        poll_seconds=settings.poll_interval_seconds,
        misfire_grace_s=settings.misfire_grace_seconds,
    )
    return RetrainScheduler(
        runner, scheduler_lease(settings, db), config, on_leadership=on_leadership
    )


def retraining_control(
    settings: Settings, db: Database, *, runner: CycleRunner | None = None
) -> RetrainingService:
    """Retraining for the bot's commands and App Home (its `RetrainingControl` protocol):
    refusals arrive as the bot's own `ControlError`."""
    from bot.control import ControlError
    from curation.models.base import utcnow
    from scheduler.control import RetrainingService
    from scheduler.service import ScheduleConfig

    schedule = ScheduleConfig(
        cron=settings.retrain_cron, interval_minutes=settings.retrain_interval_minutes
    ).trigger()
    return RetrainingService(
        runner or build_cycle_runner(settings, db),
        refusal=ControlError,
        next_run=lambda: schedule.get_next_fire_time(None, utcnow()),
    )


# --- Slack (bot/) ---------------------------------------------------------------------------
# Appended: the Slack Web API client from settings, and the notifier the scheduler calls with
# each decision (posting to TUNELOOP_REVIEW_CHANNEL).
if TYPE_CHECKING:
    from slack_sdk import WebClient

    from scheduler.notify import CycleEvent


def slack_web_client(settings: Settings) -> WebClient:
    """The bot's Web API client: SLACK_BOT_TOKEN, SLACK_API_URL (the local workspace, say),
    and retries that honour Slack's rate limits (`Retry-After`) and dropped connections."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )

    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url or WebClient.BASE_URL,
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


def slack_decision_notifier(settings: Settings, client: WebClient | None = None) -> Notifier | None:
    """Posts each retraining decision to TUNELOOP_REVIEW_CHANNEL (None when it is not set):
    pass it as `notifier` to `build_cycle_runner` / `build_retrain_scheduler`."""
    if not settings.review_channel or not (client or settings.slack_bot_token):
        return None
    from dataclasses import asdict

    from bot.notify import SlackDecisionNotifier

    poster = SlackDecisionNotifier(client or slack_web_client(settings), settings.review_channel)

    def notify(event: CycleEvent) -> None:
        poster.notify(asdict(event))

    return notify


# --- metrics (tuneloop/metrics) -------------------------------------------------------------
# Appended: the store's figures read at each scrape, and the separate /metrics server.
if TYPE_CHECKING:
    from tuneloop.metrics import Metrics, StoreCollector
    from tuneloop.metrics.http import Health, MetricsServer


def store_collector(
    db: Database, runner: CycleRunner, active_model: Callable[[], str]
) -> StoreCollector:
    """What /metrics reads from the store: review queue, feedback, corrections, the open
    cycle's stage, decisions, and `active_model()` (the bot's lookup)."""
    from tuneloop.metrics import StoreCollector

    return StoreCollector(db, active_model=active_model, new_examples=runner.new_examples)


def metrics_server(
    settings: Settings, metrics: Metrics, health: Health | None = None
) -> MetricsServer | None:
    """/metrics and /healthz on TUNELOOP_METRICS_HOST:TUNELOOP_METRICS_PORT (None when no port
    is set). Raises MetricsServerError, naming both settings, when the port cannot be bound."""
    if settings.metrics_port is None:
        return None
    from tuneloop.metrics.http import MetricsServer, MetricsServerError

    try:
        return MetricsServer(
            metrics.registry, host=settings.metrics_host, port=settings.metrics_port, health=health
        )
    except OSError as exc:
        raise MetricsServerError(
            f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port} "
            f"(TUNELOOP_METRICS_HOST, TUNELOOP_METRICS_PORT): {exc.strerror or exc}"
        ) from exc
