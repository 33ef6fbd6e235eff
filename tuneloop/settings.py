"""Settings from the environment (and an optional `.env`), with pydantic-settings.

Each field names the environment variable it reads; the README's configuration table lists them
all. Other packages never read the environment themselves: the composition root passes them the
values they need.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from curation.model_specs import DEFAULT_MODEL_SPECS, ModelSpec, ModelTable
from tuneloop.base_models import SMOLLM2_NAME
from tuneloop.errors import ConfigError

#: Together's base model when TUNELOOP_TRAINER=together and TUNELOOP_BASE_MODEL is not set.
TOGETHER_BASE_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"

log = logging.getLogger(__name__)

#: The sample company's seeds (Fernhill's IT/HR help desk), shipped with the repository: what
#: `demo` and `chat` run on, and what `seeds import --sample` imports. A team's own bot starts
#: from its own folder (`tuneloop init`), never from these by default.
SAMPLE_SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
#: The default retraining schedule (daily at 03:00 UTC).
DEFAULT_RETRAIN_CRON = "0 3 * * *"


def _env(name: str) -> AliasChoices:
    """Read a field from exactly this environment variable (no prefix magic)."""
    return AliasChoices(name)


class Settings(BaseSettings):
    """Everything tuneloop can be told from outside. Defaults run fully offline."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8-sig", extra="ignore", populate_by_name=True
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=_env("TUNELOOP_LOG_LEVEL")
    )
    #: `json`: one JSON object a line (time, level, logger, message, exc_info) for log
    #: collectors; `text`: plain timestamped lines.
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=_env("TUNELOOP_LOG_FORMAT")
    )
    #: A separate HTTP server with /metrics and /healthz, for `tuneloop scheduler` (which has
    #: no other) and `tuneloop serve` (whose HTTP mode also serves /metrics on its own port).
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, validation_alias=_env("TUNELOOP_METRICS_PORT")
    )
    metrics_host: str = Field(default="127.0.0.1", validation_alias=_env("TUNELOOP_METRICS_HOST"))

    # --- storage -----------------------------------------------------------------------------
    data_dir: Path = Field(default=Path("data"), validation_alias=_env("TUNELOOP_DATA_DIR"))
    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    #: tiktoken reads only its own environment variable: `load_settings` passes this on to it
    #: when it comes from `.env` (a variable already in the environment wins, as everywhere).
    tiktoken_cache_dir: Path | None = Field(
        default=None, validation_alias=_env("TIKTOKEN_CACHE_DIR")
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Database connections a process keeps open (SQLAlchemy's pool_size). "
        "Each answer holds one only for a statement or two, so a few dozen serve hundreds of "
        "reply workers; SQLAlchemy's default of 5 made 200 answers at once queue for them.",
        validation_alias=_env("TUNELOOP_DATABASE_POOL_SIZE"),
    )
    database_max_overflow: int = Field(
        default=10,
        ge=0,
        le=1000,
        description="Connections opened beyond the pool in a burst, closed when returned. "
        "Every process (each `serve` replica, the scheduler) may open pool + overflow: keep "
        "their sum under PostgreSQL's max_connections (100 by default).",
        validation_alias=_env("TUNELOOP_DATABASE_MAX_OVERFLOW"),
    )

    # --- curation ----------------------------------------------------------------------------
    reviewers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("TUNELOOP_REVIEWERS")
    )
    seeds_dir: Path | None = Field(default=None, validation_alias=_env("TUNELOOP_SEEDS_DIR"))
    eval_fraction: float = Field(
        default=0.2, ge=0.0, lt=1.0, validation_alias=_env("TUNELOOP_EVAL_FRACTION")
    )
    redact_pii_in_export: bool = Field(
        default=True, validation_alias=_env("TUNELOOP_REDACT_PII_IN_EXPORT")
    )
    pii_allow_list: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("TUNELOOP_PII_ALLOW_LIST")
    )
    pii_phone_regions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["US", "GB"], validation_alias=_env("TUNELOOP_PII_PHONE_REGIONS")
    )
    export_epochs: int = Field(default=3, ge=1, le=50, validation_alias=_env("TUNELOOP_EPOCHS"))
    model_specs: dict[str, ModelSpec] = Field(
        default_factory=lambda: dict(DEFAULT_MODEL_SPECS),
        validation_alias=_env("TUNELOOP_MODEL_SPECS"),
    )

    # --- model provider ----------------------------------------------------------------------
    provider: Literal["openai", "local"] | None = Field(
        default=None, validation_alias=_env("TUNELOOP_PROVIDER")
    )
    openai_api_key: str | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=_env("OPENAI_BASE_URL"))
    base_model: str = Field(
        default="gpt-4.1-mini-2025-04-14", validation_alias=_env("TUNELOOP_BASE_MODEL")
    )

    # --- offline OpenAI stand-in
    local_openai_data_dir: Path | None = Field(
        default=None, validation_alias=_env("TUNELOOP_LOCAL_OPENAI_DATA_DIR")
    )
    local_openai_stage_seconds: float = Field(
        default=2.0, ge=0, validation_alias=_env("TUNELOOP_LOCAL_OPENAI_STAGE_SECONDS")
    )
    local_openai_load_delay_seconds: float = Field(
        default=2.0, ge=0, validation_alias=_env("TUNELOOP_LOCAL_OPENAI_LOAD_DELAY_SECONDS")
    )
    local_openai_similarity_threshold: float = Field(
        default=80.0,
        ge=0,
        le=100,
        validation_alias=_env("TUNELOOP_LOCAL_OPENAI_SIMILARITY_THRESHOLD"),
    )
    # (end of the stand-in block)

    # --- training backend: OpenAI's fine-tuning API, self-hosted LoRA served by vLLM, or Together
    trainer: Literal["openai", "lora", "together"] = Field(
        default="openai", validation_alias=_env("TUNELOOP_TRAINER")
    )
    vllm_url: str | None = Field(default=None, validation_alias=_env("TUNELOOP_VLLM_URL"))
    vllm_api_key: str | None = Field(default=None, validation_alias=_env("TUNELOOP_VLLM_API_KEY"))
    lora_base_model_path: Path | None = Field(
        default=None, validation_alias=_env("TUNELOOP_LORA_BASE_MODEL_PATH")
    )
    lora_rank: int = Field(default=16, ge=1, le=512, validation_alias=_env("TUNELOOP_LORA_RANK"))
    lora_alpha: int = Field(default=32, ge=1, validation_alias=_env("TUNELOOP_LORA_ALPHA"))
    lora_dropout: float = Field(
        default=0.05, ge=0, lt=1, validation_alias=_env("TUNELOOP_LORA_DROPOUT")
    )
    lora_target_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["all-linear"],
        validation_alias=_env("TUNELOOP_LORA_TARGET_MODULES"),
    )
    lora_learning_rate: float = Field(
        default=2e-4, gt=0, lt=1, validation_alias=_env("TUNELOOP_LORA_LEARNING_RATE")
    )
    lora_max_seq_length: int = Field(
        default=2048, ge=64, validation_alias=_env("TUNELOOP_LORA_MAX_SEQ_LENGTH")
    )
    lora_batch_size: int = Field(
        default=4, ge=1, le=1024, validation_alias=_env("TUNELOOP_LORA_BATCH_SIZE")
    )
    lora_launcher: Literal["python", "accelerate", "external"] = Field(
        default="python", validation_alias=_env("TUNELOOP_LORA_LAUNCHER")
    )
    lora_accelerate_args: str = Field(
        default="", validation_alias=_env("TUNELOOP_LORA_ACCELERATE_ARGS")
    )
    lora_jobs_dir: Path | None = Field(
        default=None, validation_alias=_env("TUNELOOP_LORA_JOBS_DIR")
    )
    models_dir: Path | None = Field(default=None, validation_alias=_env("TUNELOOP_MODELS_DIR"))
    adapter_store_dir: Path | None = Field(
        default=None, validation_alias=_env("TUNELOOP_ADAPTER_STORE")
    )

    # --- Together AI (TUNELOOP_TRAINER=together): hosted LoRA fine-tuning, no GPU -------------
    together_api_key: str | None = Field(
        default=None,
        validation_alias=_env("TOGETHER_API_KEY"),
        description="Together's API key; without one, the offline Together stand-in is used.",
    )
    together_base_url: str | None = Field(
        default=None,
        validation_alias=_env("TOGETHER_BASE_URL"),
        description="Together's API (https://api.together.xyz/v1), or a `tuneloop "
        "local-together` server.",
    )
    together_serving: Literal["together", "vllm"] = Field(
        default="together",
        validation_alias=_env("TUNELOOP_TOGETHER_SERVING"),
        description="together: Together serves the fine-tuned model on its chat API. vllm: the "
        "adapter is downloaded into the adapter store and served by TUNELOOP_VLLM_URL.",
    )
    together_training_type: Literal["lora", "full"] = Field(
        default="lora",
        validation_alias=_env("TUNELOOP_TOGETHER_TRAINING_TYPE"),
        description="LoRA adapters (TUNELOOP_LORA_RANK/ALPHA/DROPOUT/TARGET_MODULES) or a full "
        "fine-tune (Together serving only).",
    )
    together_learning_rate: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        validation_alias=_env("TUNELOOP_TOGETHER_LEARNING_RATE"),
        description="Together's learning rate; default TUNELOOP_LORA_LEARNING_RATE for LoRA, "
        "1e-5 (Together's default) for a full fine-tune.",
    )
    together_batch_size: int | None = Field(
        default=None,
        ge=1,
        validation_alias=_env("TUNELOOP_TOGETHER_BATCH_SIZE"),
        description="Training batch size; unset sends Together's 'max'.",
    )
    together_n_evals: int = Field(
        default=0,
        ge=0,
        le=100,
        validation_alias=_env("TUNELOOP_TOGETHER_N_EVALS"),
        description="Validation-loss evaluations during training (0: the held-out file is not "
        "uploaded; evaluation tokens are billed).",
    )
    local_together_data_dir: Path | None = Field(
        default=None,
        validation_alias=_env("TUNELOOP_LOCAL_TOGETHER_DATA_DIR"),
        description="The Together stand-in's folder (default: TUNELOOP_DATA_DIR/local-together).",
    )

    # --- retraining -------------------------------------------------------------------------
    min_new_examples: int = Field(
        default=20, ge=1, validation_alias=_env("TUNELOOP_MIN_NEW_EXAMPLES")
    )
    training_method: Literal["supervised", "dpo"] = Field(
        default="supervised", validation_alias=_env("TUNELOOP_TRAINING_METHOD")
    )
    training_strategy: Literal["full", "incremental"] = Field(
        default="full", validation_alias=_env("TUNELOOP_TRAINING_STRATEGY")
    )
    training_suffix: str = Field(
        default="tuneloop",
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9._-]+$",
        validation_alias=_env("TUNELOOP_TRAINING_SUFFIX"),
    )
    training_seed: int | None = Field(
        default=None, ge=0, validation_alias=_env("TUNELOOP_TRAINING_SEED")
    )
    incremental_learning_rate_multiplier: float = Field(
        default=0.5, gt=0, validation_alias=_env("TUNELOOP_INCREMENTAL_LR_MULTIPLIER")
    )
    replay_ratio: float = Field(default=1.0, ge=0, validation_alias=_env("TUNELOOP_REPLAY_RATIO"))
    budget_per_run_usd: float = Field(
        default=50.0, ge=0, validation_alias=_env("TUNELOOP_BUDGET_PER_RUN_USD")
    )
    budget_per_month_usd: float = Field(
        default=200.0, ge=0, validation_alias=_env("TUNELOOP_BUDGET_PER_MONTH_USD")
    )
    model_ready_timeout_minutes: int = Field(
        default=30, ge=1, validation_alias=_env("TUNELOOP_MODEL_READY_TIMEOUT_MINUTES")
    )
    grader: Literal["similarity", "exact", "judge"] = Field(
        default="similarity", validation_alias=_env("TUNELOOP_GRADER")
    )
    judge_model: str = Field(
        default="gpt-4.1-2025-04-14", validation_alias=_env("TUNELOOP_JUDGE_MODEL")
    )
    #: Score differences within this are ties: a generative model rewords answers it did not
    #: learn anything new about, and those rewordings are noise, not evidence.
    eval_tie_margin: float = Field(
        default=0.03,
        ge=0,
        lt=1,
        validation_alias=_env("TUNELOOP_EVAL_TIE_MARGIN"),
        description="Similarity-score differences (0-1) within which an item is a tie",
    )
    eval_concurrency: int = Field(
        default=16, ge=1, le=256, validation_alias=_env("TUNELOOP_EVAL_CONCURRENCY")
    )
    eval_timeout_seconds: float = Field(
        default=60.0, gt=0, validation_alias=_env("TUNELOOP_EVAL_TIMEOUT_SECONDS")
    )
    eval_attempts: int = Field(
        default=4, ge=1, le=20, validation_alias=_env("TUNELOOP_EVAL_ATTEMPTS")
    )
    eval_max_tokens: int = Field(
        default=1024, ge=1, validation_alias=_env("TUNELOOP_EVAL_MAX_TOKENS")
    )
    #: 0 (greedy) so that evaluation compares the models, not their sampling noise.
    eval_temperature: float = Field(
        default=0.0, ge=0, le=2, validation_alias=_env("TUNELOOP_EVAL_TEMPERATURE")
    )
    #: The bot's sampling temperature; unset: the model server's default (1 at OpenAI and vLLM).
    reply_temperature: float | None = Field(
        default=None, ge=0, le=2, validation_alias=_env("TUNELOOP_REPLY_TEMPERATURE")
    )
    eval_retry_wait_seconds: float = Field(
        default=300.0,
        ge=0,
        validation_alias=_env("TUNELOOP_EVAL_RETRY_WAIT_SECONDS"),
        description="Seconds an evaluation may wait out a burst of 429s or 5xx (honouring "
        "retry-after) before it pauses, undecided; the next tick or poll resumes it.",
    )
    gate_margin: float = Field(
        default=0.0, ge=0, lt=0.5, validation_alias=_env("TUNELOOP_GATE_MARGIN")
    )
    gate_min_eval_items: int = Field(
        default=30, ge=1, validation_alias=_env("TUNELOOP_GATE_MIN_EVAL_ITEMS")
    )
    gate_min_differing_items: int = Field(
        default=10, ge=1, validation_alias=_env("TUNELOOP_GATE_MIN_DIFFERING_ITEMS")
    )
    gate_golden_tolerance: float = Field(
        default=0.02, ge=0, le=1, validation_alias=_env("TUNELOOP_GATE_GOLDEN_TOLERANCE")
    )
    gate_golden_floor: float = Field(
        default=0.4, ge=0, le=1, validation_alias=_env("TUNELOOP_GATE_GOLDEN_FLOOR")
    )
    gate_shutdown_days: int = Field(
        default=30, ge=0, validation_alias=_env("TUNELOOP_GATE_SHUTDOWN_DAYS")
    )
    retrain_cron: str = Field(
        default=DEFAULT_RETRAIN_CRON, validation_alias=_env("TUNELOOP_RETRAIN_CRON")
    )
    retrain_interval_minutes: int | None = Field(
        default=None, ge=1, validation_alias=_env("TUNELOOP_RETRAIN_INTERVAL_MINUTES")
    )
    poll_interval_seconds: int = Field(
        default=60, ge=1, validation_alias=_env("TUNELOOP_POLL_INTERVAL_SECONDS")
    )
    scheduler_lease_seconds: int = Field(
        default=90, ge=3, validation_alias=_env("TUNELOOP_SCHEDULER_LEASE_SECONDS")
    )
    misfire_grace_seconds: int = Field(
        default=3600, ge=1, validation_alias=_env("TUNELOOP_MISFIRE_GRACE_SECONDS")
    )
    active_model_ttl_seconds: float = Field(
        default=0.0, ge=0, validation_alias=_env("TUNELOOP_ACTIVE_MODEL_TTL_SECONDS")
    )

    # --- slack -------------------------------------------------------------------------------
    slack_bot_token: str | None = Field(default=None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: str | None = Field(
        default=None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: str | None = Field(default=None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str | None = Field(default=None, validation_alias=_env("SLACK_API_URL"))
    review_channel: str | None = Field(
        default=None, validation_alias=_env("TUNELOOP_REVIEW_CHANNEL")
    )
    reviewer_group: str | None = Field(
        default=None, validation_alias=_env("TUNELOOP_REVIEWER_GROUP")
    )
    prompt_token_budget: int = Field(
        default=8000, ge=100, validation_alias=_env("TUNELOOP_PROMPT_TOKEN_BUDGET")
    )
    max_reply_tokens: int = Field(
        default=1024, ge=16, validation_alias=_env("TUNELOOP_MAX_REPLY_TOKENS")
    )
    correction_max_tokens: int = Field(
        default=1024, ge=16, validation_alias=_env("TUNELOOP_CORRECTION_MAX_TOKENS")
    )
    correction_limit_per_person: int = Field(
        default=30,
        ge=1,
        description="Corrections one person may submit within the correction limit's window.",
        validation_alias=_env("TUNELOOP_CORRECTION_LIMIT_PER_PERSON"),
    )
    correction_limit_per_reply: int = Field(
        default=5,
        ge=1,
        description="Corrections one reply may get (from anyone) within the window.",
        validation_alias=_env("TUNELOOP_CORRECTION_LIMIT_PER_REPLY"),
    )
    correction_limit_window_seconds: int = Field(
        default=600,
        ge=1,
        description="The sliding window of the correction limits, in seconds.",
        validation_alias=_env("TUNELOOP_CORRECTION_LIMIT_WINDOW_SECONDS"),
    )
    model_timeout_seconds: float = Field(
        default=60.0, gt=0, validation_alias=_env("TUNELOOP_MODEL_TIMEOUT_SECONDS")
    )
    slack_streaming: bool = Field(default=True, validation_alias=_env("TUNELOOP_SLACK_STREAMING"))
    status_delay_seconds: float = Field(
        default=0.3, ge=0, le=30, validation_alias=_env("TUNELOOP_STATUS_DELAY_SECONDS")
    )
    slack_reply_workers: int = Field(
        default=256, ge=1, le=1024, validation_alias=_env("TUNELOOP_SLACK_REPLY_WORKERS")
    )
    slack_listener_threads: int = Field(
        default=16, ge=2, le=256, validation_alias=_env("TUNELOOP_SLACK_LISTENER_THREADS")
    )
    slack_max_body_bytes: int = Field(
        default=2**20,
        ge=64 * 1024,
        description="Largest request body /slack/events reads (bytes); Slack's are a few KiB.",
        validation_alias=_env("TUNELOOP_SLACK_MAX_BODY_BYTES"),
    )
    slack_team_id: str | None = Field(
        default=None,
        description="The workspace (or Enterprise Grid org) whose requests are served; others "
        "are ignored. Default: the bot token's, from auth.test.",
        validation_alias=_env("TUNELOOP_SLACK_TEAM_ID"),
    )
    slack_app_id: str | None = Field(
        default=None,
        description="The Slack app whose requests are served; others are ignored. Default: the "
        "bot token's, from auth.test.",
        validation_alias=_env("TUNELOOP_SLACK_APP_ID"),
    )

    # --- health ------------------------------------------------------------------------------
    health_store_check_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long /healthz reuses its last store write probe.",
        validation_alias=_env("TUNELOOP_HEALTH_STORE_CHECK_SECONDS"),
    )
    health_model_check_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long /healthz reuses its last one-token probe of the served model.",
        validation_alias=_env("TUNELOOP_HEALTH_MODEL_CHECK_SECONDS"),
    )

    # --- slack conversations ---------------------------------------------------------------
    slack_follow_ups: Literal["asker", "anyone", "mention"] = Field(
        default="asker",
        validation_alias=_env("TUNELOOP_SLACK_FOLLOW_UPS"),
        description="In a thread the bot answered, who may go on without mentioning it "
        "(a message that mentions someone else is never for the bot)",
    )
    slack_file_chars: int = Field(
        default=20_000,
        ge=0,
        le=1_000_000,
        validation_alias=_env("TUNELOOP_SLACK_FILE_CHARS"),
        description="Characters of an attached plain-text file read into the question",
    )
    slack_rate_limit_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        le=600,
        validation_alias=_env("TUNELOOP_SLACK_RATE_LIMIT_WAIT_SECONDS"),
        description="Seconds one answer may wait out Slack's rate limits before it is kept "
        "and delivered later",
    )

    # --- stopping and Socket Mode ----------------------------------------------------------
    shutdown_grace_seconds: float = Field(
        default=25.0,
        ge=0,
        le=3600,
        validation_alias=_env("TUNELOOP_SHUTDOWN_GRACE_SECONDS"),
        description="On SIGTERM/SIGINT, how long `tuneloop serve` may finish the answers in "
        "flight before it exits (keep it under the orchestrator's own limit: Kubernetes 30 s).",
    )
    socket_mode_ping_interval_seconds: float = Field(
        default=3.0,
        gt=0,
        le=300,
        validation_alias=_env("TUNELOOP_SOCKET_MODE_PING_INTERVAL_SECONDS"),
        description="Socket Mode: how often the bot pings Slack over its WebSocket.",
    )
    socket_mode_ping_timeout_seconds: float = Field(
        default=1.5,
        gt=0,
        le=300,
        validation_alias=_env("TUNELOOP_SOCKET_MODE_PING_TIMEOUT_SECONDS"),
        description="Socket Mode: a ping unanswered this long means the connection is dead "
        "(a silent stall), and the bot reconnects. Must be below the ping interval.",
    )

    # --- replicas and outages ---------------------------------------------------------------
    replica_heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias=_env("TUNELOOP_REPLICA_HEARTBEAT_SECONDS"),
        description="How often each `tuneloop serve` process says it is alive and sweeps for "
        "questions left unanswered by processes that died.",
    )
    replica_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias=_env("TUNELOOP_REPLICA_TIMEOUT_SECONDS"),
        description="A bot process silent this long is dead: another process (or the next "
        "start) answers the questions it had claimed.",
    )
    recovery_max_age_seconds: float = Field(
        default=3600.0,
        gt=0,
        validation_alias=_env("TUNELOOP_RECOVERY_MAX_AGE_SECONDS"),
        description="A question left unanswered by a dead process is answered when found "
        "within this long of being asked; an older one gets an apology instead. An answer "
        "Slack would not take, left by a dead process, is posted within this long too; an "
        "older one is given up.",
    )
    store_outage_wait_seconds: float = Field(
        default=600.0,
        ge=0,
        validation_alias=_env("TUNELOOP_STORE_OUTAGE_WAIT_SECONDS"),
        description="How long the bot holds a question while the database cannot be "
        "reached, answering it once the store is back; past this the person gets an apology.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("reviewers", "lora_target_modules", mode="before")
    @classmethod
    def _split_reviewers(cls, value: object) -> object:
        """Accept `U1,U2 U3` from the environment as well as a real list."""
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("retrain_cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        """Checked by APScheduler's own parser, loaded only for a schedule that is not the
        default (it would add a tenth of a second to every command's start)."""
        if value == DEFAULT_RETRAIN_CRON:
            return value
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(
                f"{exc}; a crontab expression has five fields (minute hour day-of-month month "
                f"day-of-week, in UTC), such as '{DEFAULT_RETRAIN_CRON}'"
            ) from None
        return value

    @model_validator(mode="after")
    def _socket_mode_ping(self) -> Settings:
        if self.socket_mode_ping_timeout_seconds >= self.socket_mode_ping_interval_seconds:
            raise ValueError(
                "TUNELOOP_SOCKET_MODE_PING_TIMEOUT_SECONDS must be below "
                "TUNELOOP_SOCKET_MODE_PING_INTERVAL_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _heartbeat_within_timeout(self) -> Settings:
        """A replica must heartbeat several times per timeout, or live ones look dead."""
        if self.replica_heartbeat_seconds * 2 > self.replica_timeout_seconds:
            raise ValueError(
                "TUNELOOP_REPLICA_TIMEOUT_SECONDS must be at least twice "
                "TUNELOOP_REPLICA_HEARTBEAT_SECONDS "
                f"(got {self.replica_timeout_seconds} and {self.replica_heartbeat_seconds})"
            )
        return self

    @model_validator(mode="after")
    def _lora_base_model(self) -> Settings:
        """The LoRA backend trains an open model: SmolLM2 (embedded) unless one is named;
        Together trains one of its own (Llama 3.1 8B Instruct) unless one is named."""
        if "base_model" not in self.model_fields_set:
            if self.trainer == "lora":
                self.base_model = SMOLLM2_NAME
            elif self.trainer == "together":
                self.base_model = TOGETHER_BASE_MODEL
        full_on_vllm = self.together_serving == "vllm" and self.together_training_type == "full"
        if self.trainer == "together" and full_on_vllm:
            raise ValueError(
                "TUNELOOP_TOGETHER_SERVING=vllm serves LoRA adapters: a full fine-tune "
                "(TUNELOOP_TOGETHER_TRAINING_TYPE=full) has none; use "
                "TUNELOOP_TOGETHER_SERVING=together or TUNELOOP_TOGETHER_TRAINING_TYPE=lora"
            )
        return self

    @property
    def serves_on_vllm(self) -> bool:
        """Whether chat goes to the team's vLLM server (self-hosted LoRA, or Together's
        adapters downloaded into the adapter store)."""
        return self.trainer == "lora" or (
            self.trainer == "together" and self.together_serving == "vllm"
        )

    @property
    def uses_local_together(self) -> bool:
        """With TUNELOOP_TRAINER=together: the offline stand-in, unless TOGETHER_API_KEY is
        set (TUNELOOP_PROVIDER=local forces the stand-in)."""
        return self.provider == "local" or not self.together_api_key

    @property
    def resolved_local_together_dir(self) -> Path:
        """The Together stand-in's folder."""
        return self.local_together_data_dir or self.data_dir / "local-together"

    @property
    def resolved_lora_jobs_dir(self) -> Path:
        """Where the LoRA trainer keeps one folder per job."""
        return self.lora_jobs_dir or self.data_dir / "lora-jobs"

    @property
    def resolved_adapter_store_dir(self) -> Path:
        """Where trained adapters are published (the serving side reads them here)."""
        return self.adapter_store_dir or self.data_dir / "adapters"

    @property
    def base_models_dir(self) -> Path:
        """Where embedded base models (SmolLM2, the tiny test model) are converted to."""
        return self.models_dir or self.data_dir / "models"

    @field_validator("pii_allow_list", "pii_phone_regions", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """`it-help@x.example, +44 113 496 0018` (a phone number has spaces: commas split)."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        """`DATABASE_URL`, or a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tuneloop.db').resolve()}"

    @property
    def resolved_provider(self) -> Literal["openai", "local"]:
        """`local` (the offline stand-in) unless told otherwise or an OpenAI key is present."""
        if self.provider:
            return self.provider
        return "openai" if self.openai_api_key else "local"

    @cached_property
    def models(self) -> ModelTable:
        """The token limits and prices of the fine-tunable models."""
        return ModelTable(self.model_specs)

    @property
    def system_prompt_file(self) -> Path | None:
        """The team's system prompt (`system_prompt.md` in TUNELOOP_SEEDS_DIR), None without a
        seeds folder: the bot then answers with no system prompt."""
        return self.seeds_dir / "system_prompt.md" if self.seeds_dir else None


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (from CLI options).

    Logs a warning (logger `tuneloop.settings`) for each TUNELOOP_* variable that no setting
    reads, with the closest real name. Raises ConfigError naming each bad variable, its value
    and what is allowed."""
    for unknown in unknown_variables(os.environ):
        log.warning("%s", unknown)
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors()]
        raise ConfigError(
            "invalid setting" + ("s" if len(problems) > 1 else "") + ": " + "; ".join(problems),
            problems,
        ) from None
    if settings.tiktoken_cache_dir is not None and "TIKTOKEN_CACHE_DIR" not in os.environ:
        # A relative folder is the team folder's, where `.env` was read.
        os.environ["TIKTOKEN_CACHE_DIR"] = str(settings.tiktoken_cache_dir.resolve())
    return settings


def _problem(error: Mapping[str, Any]) -> str:
    """`TUNELOOP_GRADER='foo': Input should be 'similarity', 'exact' or 'judge'`."""
    name = ".".join(str(part) for part in error["loc"]) or "settings"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error.get("type") == "missing":
        return f"{name}: {message}"
    return f"{name}={error.get('input')!r}: {message}"


# --- misspelt variables -----------------------------------------------------------------------
#: TUNELOOP_* variables read outside Settings: a command option's environment variable and the
#: LoRA worker's test hook. Known, so never reported as misspelt.
OTHER_VARIABLES = frozenset(
    {"TUNELOOP_REVIEWER", "TUNELOOP_LORA_HOLD_AT_STEP", "TUNELOOP_VLLM_PYTHON"}
)
#: The prefix of tuneloop's own variables; others (DATABASE_URL, OPENAI_*, SLACK_*) are shared
#: with other programs, so an unknown one there is none of tuneloop's business.
PREFIX = "TUNELOOP_"


@dataclass(frozen=True)
class UnknownVariable:
    """A TUNELOOP_* variable that no setting reads, and the closest real name (if any is
    close)."""

    name: str
    where: str
    suggestion: str | None

    def __str__(self) -> str:
        hint = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        return f"{self.name} (in {self.where}) is not a tuneloop setting and is ignored{hint}"


def known_variables() -> frozenset[str]:
    """Every environment variable tuneloop reads."""
    names = {
        str(choice)
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, AliasChoices)
        for choice in field.validation_alias.choices
    }
    return frozenset(names | OTHER_VARIABLES)


def unknown_variables(
    environ: Mapping[str, str], env_file: Path | None = Path(".env")
) -> list[UnknownVariable]:
    """TUNELOOP_* names in `environ` and in the `.env` file (as Settings reads it) that no
    setting reads, each with the closest known name by rapidfuzz's similarity ratio; and names
    in the `.env` file that are a typo of another name tuneloop reads (DATABSE_URL)."""
    found: list[tuple[str, str]] = [(name, "the environment") for name in environ]
    in_file: list[str] = []
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        in_file = list(dotenv_values(env_file, encoding="utf-8-sig"))
        found += [(name, str(env_file)) for name in in_file]
    known = known_variables()
    unknown = [(n, where) for n, where in found if n.upper().startswith(PREFIX)]
    unknown = [(n, where) for n, where in unknown if n.upper() not in known]
    result = [UnknownVariable(name, where, _closest(name, known)) for name, where in unknown]
    # A team's `.env` is written for tuneloop: a name there one typo away from one of the
    # shared names tuneloop reads (DATABSE_URL) is a mistake, not another program's setting.
    shared = [name for name in known if not name.startswith(PREFIX)]
    for name in in_file:
        if name.upper().startswith(PREFIX) or name.upper() in known:
            continue
        suggestion = _closest(name, shared, cutoff=SHARED_NAME_CUTOFF)
        if suggestion is not None:
            result.append(UnknownVariable(name, str(env_file), suggestion))
    return result


#: How close (rapidfuzz ratio, 0-100) a `.env` name outside TUNELOOP_* must be to a shared
#: name tuneloop reads to be reported as a typo of it: DATABSE_URL (96) and SLACK_BOT_TOKN
#: (97) are; OPENAI_ORG_ID or AWS_REGION, another program's settings, are not.
SHARED_NAME_CUTOFF = 88


def _closest(name: str, known: Iterable[str], cutoff: float = 75) -> str | None:
    from rapidfuzz import fuzz, process

    match = process.extractOne(name.upper(), list(known), scorer=fuzz.ratio, score_cutoff=cutoff)
    return match[0] if match else None
