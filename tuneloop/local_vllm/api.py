"""One framework-free router for the stand-in: `handle(ApiRequest) -> ApiResponse`.

Both ways in (the in-process `httpx2` transport and uvicorn, shared with the OpenAI
stand-in) call it, so they cannot answer differently. Order of checks as in vLLM: the API-key
middleware first (every path under `/v1`, `/v2`, `/inference`, `/cohere` when keys are set;
OPTIONS skipped), then routing (FastAPI's 404/405), then the JSON content type and body.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tuneloop.local_openai.api import ApiRequest, ApiResponse
from tuneloop.local_vllm.chat import ChatService
from tuneloop.local_vllm.errors import (
    VLLMError,
    error_response,
    internal_error,
    method_not_allowed,
    route_not_found,
    unauthorized,
    unsupported_media_type,
    validation_error,
)
from tuneloop.local_vllm.lora import LoRAService
from tuneloop.local_vllm.models import ServedModels

log = logging.getLogger(__name__)

#: The path prefixes vLLM's `AuthenticationMiddleware` guards.
GUARDED_PREFIXES = ("/v1", "/v2", "/inference", "/cohere")
#: The version `/version` reports: the vLLM release whose answers the stand-in copies.
VLLM_VERSION = "0.32.0"
_JSON = "application/json"

Handler = Callable[[ApiRequest], "ApiResponse"]


class Router:
    """Routes, the API key, and the translation of errors into vLLM's answers."""

    def __init__(
        self,
        *,
        chat: ChatService,
        models: ServedModels,
        lora: LoRAService,
        api_keys: tuple[str, ...],
        allow_runtime_lora_updating: bool,
    ) -> None:
        self._chat = chat
        self._models = models
        self._lora = lora
        self._key_hashes = [_digest(key) for key in api_keys]
        self._routes: dict[str, dict[str, Handler]] = {
            "/health": {"GET": lambda _: ApiResponse(200, {})},
            "/version": {"GET": lambda _: _json(200, {"version": VLLM_VERSION})},
            "/v1/models": {"GET": lambda _: _json(200, self._models.cards())},
            "/v1/chat/completions": {"POST": self._chat_completion},
        }
        if allow_runtime_lora_updating:
            self._routes["/v1/load_lora_adapter"] = {"POST": self._load_lora_adapter}
            self._routes["/v1/unload_lora_adapter"] = {"POST": self._unload_lora_adapter}

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request; never raises (errors become vLLM's error answers)."""
        try:
            return self._dispatch(request)
        except VLLMError as error:
            return _json(error.status, error.body)
        except Exception as error:
            log.exception("local vLLM stand-in failed on %s %s", request.method, request.path)
            failure = internal_error(f"{type(error).__name__}: {error}")
            return _json(failure.status, failure.body)

    def _dispatch(self, request: ApiRequest) -> ApiResponse:
        method = request.method.upper()
        guarded = request.path.startswith(GUARDED_PREFIXES) and method != "OPTIONS"
        if guarded and self._key_hashes and not self._authorized(request.headers):
            raise unauthorized()
        methods = self._routes.get(request.path)
        if methods is None:
            raise route_not_found()
        handler = methods.get(method)
        if handler is None:
            raise method_not_allowed()
        return handler(request)

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        offered = _digest(token)
        # Compare with every key, in constant time, as vLLM's middleware does.
        matched = False
        for key_hash in self._key_hashes:
            matched |= secrets.compare_digest(offered, key_hash)
        return matched

    # --- routes -----------------------------------------------------------------------------
    def _chat_completion(self, request: ApiRequest) -> ApiResponse:
        answer = self._chat.create(_json_body(request))
        if isinstance(answer, dict):
            return _json(200, answer)
        headers = {"content-type": "text/event-stream; charset=utf-8"}
        return ApiResponse(200, headers, stream=_server_sent_events(answer))

    def _load_lora_adapter(self, request: ApiRequest) -> ApiResponse:
        return _text(self._lora.load(_json_body(request)))

    def _unload_lora_adapter(self, request: ApiRequest) -> ApiResponse:
        return _text(self._lora.unload(_json_body(request)))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _json_body(request: ApiRequest) -> Any:
    """The JSON body, after vLLM's `validate_json_request` content-type check."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != _JSON:
        raise unsupported_media_type()
    try:
        return json.loads(request.body)
    except ValueError as error:
        raise validation_error("body.0", "json_invalid", "JSON decode error", str(error)) from None


def _json(status: int, payload: Mapping[str, Any]) -> ApiResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return ApiResponse(status, {"content-type": _JSON}, body)


def _text(message: str) -> ApiResponse:
    """vLLM's LoRA routes answer success with a bare `Response(content=...)`: no media type."""
    return ApiResponse(200, {}, message.encode("utf-8"))


def _server_sent_events(chunks: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """`data: <json>` events then `data: [DONE]`; a failure mid-stream becomes an error event
    (vLLM's shape), which the openai SDK raises as an APIError."""
    try:
        for chunk in chunks:
            data = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
            yield f"data: {data}\n\n".encode()
    except Exception as error:
        log.exception("local vLLM stand-in failed while streaming")
        failure = error_response(500, f"{type(error).__name__}: {error}", "InternalServerError")
        yield f"data: {json.dumps(failure.body, ensure_ascii=False)}\n\n".encode()
    yield b"data: [DONE]\n\n"
