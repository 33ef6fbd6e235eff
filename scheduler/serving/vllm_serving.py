"""Adapter management on a vLLM server, through its runtime LoRA routes and the `openai` SDK.

vLLM (`vllm serve ... --enable-lora` with `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`) serves:
- `POST /v1/load_lora_adapter {"lora_name", "lora_path"}`: 200 with a plain-text "Success: ..."
  body; 400 "The lora adapter '<name>' has already been loaded." for a name already loaded;
  404 when the path holds no adapter; 400/500 with the engine's reason otherwise.
- `POST /v1/unload_lora_adapter {"lora_name"}`: 200, or 404 "The lora adapter '<name>' cannot
  be found."
- `GET /v1/models`: one card per base model name (`parent` null, `root` the model path) and
  one per loaded adapter (`parent` its base model's name, `root` the adapter's path).
Errors come in vLLM's envelope `{"error": {"message", "type", "param", "code"}}`; without
runtime updating the two routes do not exist (FastAPI's 404 `{"detail": "Not Found"}`).
Source: vllm/entrypoints/openai/serving_models.py (`OpenAIServingModels`) and
vllm/entrypoints/serve/lora/api_router.py.

The calls go through the SDK's generic `get`/`post`, so they carry the client's `--api-key`,
timeouts and retries. Both operations are idempotent here, so the SDK's retries are safe.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import openai

from scheduler.errors import ServingError
from scheduler.serving.protocol import AdapterLookup

_ALREADY_LOADED = "has already been loaded"
_RUNTIME_UPDATING_HINT = (
    "the server has no runtime LoRA routes: start vLLM with --enable-lora and the environment "
    "variable VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"
)
_BASE_URL_HINT = "the server has no /models route: the client's base URL must end in /v1"


class VLLMAdapterServing:
    """Loads and unloads registered LoRA adapters on one vLLM OpenAI-compatible server.

    `client` is an `openai.OpenAI` whose `base_url` is the server's `/v1` and whose `api_key`
    is the server's `--api-key`; `adapters` finds an adapter's folder and base model by name
    (the `AdapterStore`). The base model is never loaded or unloaded here. Every method raises
    `ServingError` (naming the adapter and quoting the server) when the server refuses or
    cannot be reached.
    """

    def __init__(self, client: openai.OpenAI, adapters: AdapterLookup) -> None:
        self._client = client
        self._adapters = adapters

    def loaded(self) -> set[str]:
        """The names of the adapters the server serves now (its base model excluded)."""
        return _adapter_ids(self._model_cards(None, "list"))

    def load(self, name: str) -> None:
        """Serve the registered adapter `name`; a no-op when it is already served.

        Raises `ServingError` when `name` is not in the adapter store, when it adapts a base
        model the server does not serve (vLLM would load it and answer with wrong weights, or
        fail on the first request), or when the server refuses it.
        """
        self._load(name, self._model_cards(name, "load"))

    def unload(self, name: str) -> None:
        """Stop serving adapter `name`; a no-op when the server does not have it."""
        error = self._post(name, "unload", "/unload_lora_adapter", {"lora_name": name})
        if error is None:
            return
        # vLLM's own 404 (in its error envelope) says the adapter is not loaded: the goal is
        # reached. A bare FastAPI 404 means the route itself is missing.
        if error.status_code == 404 and _has_message(error.body):
            return
        raise _error(name, "unload", _reason(error, _RUNTIME_UPDATING_HINT))

    def keep(self, names: Iterable[str]) -> None:
        """Serve exactly the adapters among `names` (loaded in that order), unloading the others.

        A name of the server's base model is skipped (the registry's rollback target may be
        the base model). Missing adapters are loaded before any other is unloaded, so a
        promotion never leaves a moment where neither the new nor the previous model answers.
        An adapter that cannot be loaded does not stop the others: every load and unload is
        tried, then one `ServingError` lists what failed.
        """
        wanted = list(dict.fromkeys(names))
        cards = self._model_cards(None, "list")
        served = _adapter_ids(cards)
        bases = _base_ids(cards)
        failures: list[str] = []
        for name in wanted:
            if name not in served and name not in bases:
                try:
                    self._load(name, cards)
                except ServingError as error:
                    failures.append(str(error))
        for name in sorted(served - set(wanted)):
            try:
                self.unload(name)
            except ServingError as error:
                failures.append(str(error))
        if failures:
            raise ServingError("; ".join(failures))

    def ensure(self, name: str) -> bool:
        """Whether `name` is served, after loading it if it is a registered adapter not loaded.

        For a chat call answered `model_not_found` (404), e.g. after vLLM restarted and forgot
        its runtime-loaded adapters. True for the base model and loaded adapters; False when
        `name` is neither served nor a registered adapter (nothing to load); raises
        `ServingError` when loading a registered adapter fails.
        """
        cards = self._model_cards(name, "check")
        if name in _adapter_ids(cards) or name in _base_ids(cards):
            return True
        if self._adapters.get(name) is None:
            return False
        self._load(name, cards)
        return True

    # --- requests -------------------------------------------------------------------------
    def _load(self, name: str, cards: list[dict[str, Any]]) -> None:
        if name in _adapter_ids(cards):
            return
        record = self._adapters.get(name)
        if record is None:
            raise _error(name, "load", "it is not in the adapter store")
        bases = _base_ids(cards)
        if record.base_model not in bases:
            raise _error(
                name,
                "load",
                f"it adapts the base model {record.base_model!r}, but the server serves "
                f"{', '.join(map(repr, sorted(bases))) or 'no base model'}",
            )
        body = {"lora_name": name, "lora_path": os.fspath(record.path)}
        error = self._post(name, "load", "/load_lora_adapter", body)
        # Another process may have loaded it since the listing: the goal is reached.
        reason = "" if error is None else _reason(error, _RUNTIME_UPDATING_HINT)
        if error is None or (error.status_code == 400 and _ALREADY_LOADED in reason):
            return
        raise _error(name, "load", reason)

    def _model_cards(self, name: str | None, action: str) -> list[dict[str, Any]]:
        try:
            listing = self._client.get("/models", cast_to=object)
        except openai.APIStatusError as error:
            raise _error(name, action, _reason(error, _BASE_URL_HINT)) from error
        except openai.APIConnectionError as error:
            raise _error(name, action, self._unreachable(error)) from error
        data = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(data, list):
            raise _error(name, action, f"GET /models answered {listing!r}, not a list")
        return [card for card in data if isinstance(card, dict) and "id" in card]

    def _post(
        self, name: str, action: str, path: str, body: dict[str, str]
    ) -> openai.APIStatusError | None:
        """POST `body`; the server's error status, or None on success."""
        try:
            self._client.post(path, cast_to=str, body=body)
        except openai.APIStatusError as error:
            return error
        except openai.APIConnectionError as error:
            raise _error(name, action, self._unreachable(error)) from error
        return None

    def _unreachable(self, error: openai.APIConnectionError) -> str:
        return f"the server at {self._client.base_url} could not be reached ({error})"


def _error(adapter: str | None, action: str, server_message: str) -> ServingError:
    """The error callers see: what was tried, on which adapter, and the server's words."""
    subject = f"adapter {adapter!r}" if adapter is not None else "the served models"
    return ServingError(f"Could not {action} {subject}: {server_message}")


def _adapter_ids(cards: list[dict[str, Any]]) -> set[str]:
    """Adapters are the cards with a `parent` (their base model); base models have none."""
    return {card["id"] for card in cards if card.get("parent")}


def _base_ids(cards: list[dict[str, Any]]) -> set[str]:
    return {card["id"] for card in cards if not card.get("parent")}


def _has_message(body: object) -> bool:
    return isinstance(body, dict) and isinstance(body.get("message"), str)


def _reason(error: openai.APIStatusError, missing_route_hint: str) -> str:
    """The server's words: vLLM's `error.message`, FastAPI's `detail`, or the raw body; a 404
    outside vLLM's envelope means the route does not exist, and `missing_route_hint` says why."""
    body = error.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("detail")
        if error.status_code == 404 and "message" not in body:
            return f"HTTP 404 ({message}): {missing_route_hint}"
        if message:
            return f"HTTP {error.status_code}: {message}"
    if isinstance(body, str) and body:
        return f"HTTP {error.status_code}: {body}"
    return f"HTTP {error.status_code}: {error.message}"
