"""Settings from the environment (and an optional `.env`), with pydantic-settings.

Each field names the environment variable it reads; the README's configuration table lists them
all. Other packages never read the environment themselves: the composition root passes them the
values they need.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from curation.model_specs import DEFAULT_MODEL_SPECS, ModelSpec, ModelTable

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

    @field_validator("reviewers", mode="before")
    @classmethod
    def _split_reviewers(cls, value: object) -> object:
        """Accept `U1,U2 U3` from the environment as well as a real list."""
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
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
