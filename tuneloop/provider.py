"""The model provider the rest of tuneloop talks to: OpenAI, Together, vLLM, or a stand-in.

bot/, curation/ and scheduler/ only ever receive an `openai.OpenAI` client; this module decides
what it points at. `TUNELOOP_PROVIDER=openai` uses OpenAI (or any OpenAI-compatible server,
through `OPENAI_BASE_URL`) with `OPENAI_API_KEY`; `local` (the default when no key is set) uses
the embedded stand-in in process, the way SQLite is the embedded default database. The choice
is announced once per process, in the log.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import openai

from tuneloop.errors import ProviderConfigError
from tuneloop.local_openai import LocalOpenAI, RealClock
from tuneloop.settings import Settings

if TYPE_CHECKING:
    from scheduler.training.together import TogetherClient
    from tuneloop.local_together import LocalTogether

__all__ = [
    "ProviderConfigError",
    "build_openai_client",
    "describe_provider",
    "local_openai_data_dir",
    "local_openai_from_settings",
    "local_together_from_settings",
    "together_client",
]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_announced: str | None = None
#: One stand-in per data folder and process, shared by everything that asks for a client, so
#: the bot and the scheduler see the same jobs and models (and write the folder from one place).
_instances: dict[Path, LocalOpenAI] = {}
_together_instances: dict[Path, LocalTogether] = {}


def local_openai_data_dir(settings: Settings) -> Path:
    """`TUNELOOP_LOCAL_OPENAI_DATA_DIR`, or `local-openai` inside the data folder."""
    return settings.local_openai_data_dir or settings.data_dir / "local-openai"


def local_openai_from_settings(settings: Settings) -> LocalOpenAI:
    """The process's stand-in for the configured data folder (created on first use)."""
    folder = local_openai_data_dir(settings).resolve()
    with _lock:
        instance = _instances.get(folder)
        if instance is None:
            instance = LocalOpenAI(
                folder,
                clock=RealClock(settings.local_openai_stage_seconds),
                load_delay_s=settings.local_openai_load_delay_seconds,
                similarity_threshold=settings.local_openai_similarity_threshold,
            )
            _instances[folder] = instance
        return instance


def build_openai_client(
    settings: Settings, *, local: LocalOpenAI | None = None, max_retries: int = 2
) -> openai.OpenAI:
    """The real SDK client for the configured provider.

    `local` supplies the stand-in to use in `local` mode (tests pass one with a manual clock);
    without it, the process's stand-in for the configured data folder is used.
    """
    if settings.serves_on_vllm:
        return _vllm_client(settings, max_retries=max_retries)
    if settings.trainer == "together":
        return _together_chat_client(settings, max_retries=max_retries)
    provider = settings.resolved_provider
    if provider == "openai":
        if not settings.openai_api_key:
            raise ProviderConfigError(
                "TUNELOOP_PROVIDER=openai needs OPENAI_API_KEY. Set it (any value works for an "
                "OpenAI-compatible server such as `tuneloop local-openai`), or set "
                "TUNELOOP_PROVIDER=local to use the offline stand-in."
            )
        _announce(describe_provider(settings))
        return openai.OpenAI(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url or None,
            max_retries=max_retries,
        )
    stand_in = local if local is not None else local_openai_from_settings(settings)
    _announce(describe_provider(settings, stand_in.data_dir))
    return stand_in.client(max_retries=max_retries)


def local_together_from_settings(settings: Settings) -> LocalTogether:
    """The process's Together stand-in for the configured folder (created on first use), with
    the stage, load-delay and similarity settings the OpenAI stand-in follows."""
    from tuneloop.local_together import LocalTogether

    folder = settings.resolved_local_together_dir.resolve()
    with _lock:
        instance = _together_instances.get(folder)
        if instance is None:
            instance = LocalTogether(
                folder,
                clock=RealClock(settings.local_openai_stage_seconds),
                load_delay_s=settings.local_openai_load_delay_seconds,
                similarity_threshold=settings.local_openai_similarity_threshold,
            )
            _together_instances[folder] = instance
        return instance


def together_client(settings: Settings, *, local: LocalTogether | None = None) -> TogetherClient:
    """The Together trainer's client: Together (TOGETHER_API_KEY, TOGETHER_BASE_URL), or the
    offline stand-in (`local`, else the process's one for the configured folder)."""
    from scheduler.training.together import DEFAULT_BASE_URL, TogetherClient

    if settings.uses_local_together:
        return (local or local_together_from_settings(settings)).client()
    assert settings.together_api_key is not None
    return TogetherClient(settings.together_api_key, settings.together_base_url or DEFAULT_BASE_URL)


def _together_chat_client(settings: Settings, *, max_retries: int) -> openai.OpenAI:
    """Together's OpenAI-compatible chat API (or the stand-in's), where its fine-tunes answer."""
    from scheduler.training.together import DEFAULT_BASE_URL

    _announce(describe_provider(settings))
    if settings.uses_local_together:
        return local_together_from_settings(settings).chat_client(max_retries=max_retries)
    return openai.OpenAI(
        api_key=settings.together_api_key,
        base_url=settings.together_base_url or DEFAULT_BASE_URL,
        max_retries=max_retries,
    )


def _vllm_client(settings: Settings, *, max_retries: int) -> openai.OpenAI:
    """With the self-hosted backend (or Together's adapters served at home), chat goes to the
    vLLM server that serves the adapters."""
    if not settings.vllm_url:
        raise ProviderConfigError(
            f"TUNELOOP_TRAINER={settings.trainer} serves its models with vLLM"
            f"{' (TUNELOOP_TOGETHER_SERVING=vllm)' if settings.trainer == 'together' else ''}: "
            "set TUNELOOP_VLLM_URL to your "
            "vLLM server's OpenAI-compatible URL (http://HOST:8000/v1, started with "
            "--enable-lora), or start the offline stand-in with `tuneloop local-vllm` and use "
            "the URL it prints."
        )
    _announce(describe_provider(settings))
    # vLLM checks the key only when started with --api-key; the SDK insists on one anyway.
    return openai.OpenAI(
        api_key=settings.vllm_api_key or "EMPTY",
        base_url=settings.vllm_url,
        max_retries=max_retries,
    )


def describe_provider(settings: Settings, data_dir: Path | None = None) -> str:
    """One line that says which provider is in use and how to change it."""
    if settings.serves_on_vllm:
        return (
            f"Model provider: vLLM at {settings.vllm_url} (TUNELOOP_TRAINER={settings.trainer}), "
            f"serving {settings.base_model} and the LoRA adapters tuneloop trains."
        )
    if settings.trainer == "together":
        if settings.uses_local_together:
            return (
                f"Model provider: the local Together stand-in (TUNELOOP_TRAINER=together, no "
                f"TOGETHER_API_KEY), data in {settings.resolved_local_together_dir}. It answers "
                "by nearest-neighbour retrieval over your training examples: a stand-in for "
                "development, demos and tests, not a language model."
            )
        where = settings.together_base_url or "https://api.together.xyz/v1"
        return f"Model provider: Together AI at {where} (TUNELOOP_TRAINER=together)."
    if settings.resolved_provider == "openai":
        where = settings.openai_base_url or "https://api.openai.com/v1"
        return f"Model provider: OpenAI API at {where} (TUNELOOP_PROVIDER=openai)."
    folder = data_dir or local_openai_data_dir(settings)
    why = "TUNELOOP_PROVIDER=local" if settings.provider else "OPENAI_API_KEY is not set"
    return (
        f"Model provider: the local OpenAI stand-in ({why}), data in {folder}. It answers by "
        "nearest-neighbour retrieval over your training examples: a stand-in for development, "
        "demos and tests, not a language model. Set OPENAI_API_KEY to use OpenAI."
    )


def _announce(message: str) -> None:
    """Log the provider once per process (and again only if it changes)."""
    global _announced
    with _lock:
        if _announced == message:
            return
        _announced = message
    log.info("%s", message)
