"""Settings from the environment (and an optional `.env`), with pydantic-settings.

Each field names the environment variable it reads; the README's configuration table lists them
all. Other packages never read the environment themselves: the composition root passes them the
values they need.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from curation.model_specs import DEFAULT_MODEL_SPECS, ModelSpec, ModelTable
from tuneloop.base_models import SMOLLM2_NAME

#: Where the repository's seeds live when tuneloop runs from a checkout (`pip install -e .`).
REPO_SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


def _env(name: str) -> AliasChoices:
    """Read a field from exactly this environment variable (no prefix magic)."""
    return AliasChoices(name)


class Settings(BaseSettings):
    """Everything tuneloop can be told from outside. Defaults run fully offline."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=_env("TUNELOOP_LOG_LEVEL")
    )

    # --- storage -----------------------------------------------------------------------------
    data_dir: Path = Field(default=Path("data"), validation_alias=_env("TUNELOOP_DATA_DIR"))
    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))

    # --- curation ----------------------------------------------------------------------------
    reviewers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("TUNELOOP_REVIEWERS")
    )
    seeds_dir: Path = Field(default=REPO_SEEDS_DIR, validation_alias=_env("TUNELOOP_SEEDS_DIR"))
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

    # --- training backend: OpenAI's fine-tuning API, or self-hosted LoRA served by vLLM --------
    trainer: Literal["openai", "lora"] = Field(
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
    retrain_cron: str = Field(default="0 3 * * *", validation_alias=_env("TUNELOOP_RETRAIN_CRON"))
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
    model_timeout_seconds: float = Field(
        default=60.0, gt=0, validation_alias=_env("TUNELOOP_MODEL_TIMEOUT_SECONDS")
    )
    slack_streaming: bool = Field(default=True, validation_alias=_env("TUNELOOP_SLACK_STREAMING"))
    status_delay_seconds: float = Field(
        default=0.3, ge=0, le=30, validation_alias=_env("TUNELOOP_STATUS_DELAY_SECONDS")
    )
    slack_reply_workers: int = Field(
        default=64, ge=1, le=1024, validation_alias=_env("TUNELOOP_SLACK_REPLY_WORKERS")
    )
    slack_listener_threads: int = Field(
        default=16, ge=2, le=256, validation_alias=_env("TUNELOOP_SLACK_LISTENER_THREADS")
    )
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
        "within this long of being asked; an older one gets an apology instead.",
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

    @field_validator("reviewers", "lora_target_modules", mode="before")
    @classmethod
    def _split_reviewers(cls, value: object) -> object:
        """Accept `U1,U2 U3` from the environment as well as a real list."""
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

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
        """The LoRA backend trains an open model: SmolLM2 (embedded) unless one is named."""
        if self.trainer == "lora" and "base_model" not in self.model_fields_set:
            self.base_model = SMOLLM2_NAME
        return self

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
    def system_prompt_file(self) -> Path:
        return self.seeds_dir / "system_prompt.md"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (from CLI options)."""
    return Settings(**overrides)  # type: ignore[arg-type]
