"""The Together stand-in's router: `handle(ApiRequest) -> ApiResponse`, for both transports.

Paths, shapes and statuses follow Together's OpenAPI description (github.com/
togethercomputer/openapi); errors come in its `ErrorData` envelope, which is OpenAI's, so the
OpenAI stand-in's error helpers serve here too. The presigned upload URL lives outside `/v1`
and takes no API key, as an object store's URL would.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from tuneloop.local_openai.api import ApiRequest, ApiResponse
from tuneloop.local_openai.chat import ChatService
from tuneloop.local_openai.errors import (
    ApiError,
    invalid_request,
    invalid_url,
    missing_parameter,
    not_found,
    server_error,
    unauthorized,
)
from tuneloop.local_openai.faults import Faults
from tuneloop.local_openai.multipart_form import parse_form
from tuneloop.local_together.adapter import adapter_archive
from tuneloop.local_together.catalog import BASE_MODELS
from tuneloop.local_together.files import UPLOAD_PREFIX, FileService
from tuneloop.local_together.jobs import JobService
from tuneloop.local_together.models import ModelRegistry

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
_JSON = "application/json"
Handler = Callable[..., "dict[str, Any] | list[Any] | ApiResponse"]


class Router:
    """Matches a route, checks the key, applies faults, and calls the service."""

    def __init__(
        self,
        *,
        files: FileService,
        jobs: JobService,
        models: ModelRegistry,
        chat: ChatService,
        faults: Faults,
        lock: threading.RLock,
    ) -> None:
        self._files = files
        self._jobs = jobs
        self._models = models
        self._chat = chat
        self._faults = faults
        self._lock = lock
        job = r"/fine-tunes/(?P<job_id>[^/]+)"
        file = r"/files/(?P<file_id>[^/]+)"
        routes: list[tuple[str, str, Handler]] = [
            ("POST", r"/files", self._begin_upload),
            ("POST", r"/files/upload", self._upload_in_one),
            ("GET", r"/files", lambda request: self._files.list()),
            ("GET", file, lambda request, file_id: self._files.retrieve(file_id)),
            ("DELETE", file, lambda request, file_id: self._files.delete(file_id)),
            ("GET", file + "/content", self._file_content),
            (
                "POST",
                file + "/preprocess",
                lambda request, file_id: self._files.preprocess(file_id),
            ),
            ("POST", r"/fine-tunes/estimate-price", self._estimate),
            ("GET", r"/fine-tunes/models/supported", self._supported),
            ("GET", r"/fine-tunes/models/limits", self._limits),
            ("POST", r"/fine-tunes", lambda request: self._jobs.create(_json_body(request))),
            ("GET", r"/fine-tunes", lambda request: self._jobs.list()),
            ("GET", job, lambda request, job_id: self._jobs.retrieve(job_id)),
            ("POST", job + "/cancel", lambda request, job_id: self._jobs.cancel(job_id)),
            ("GET", job + "/events", lambda request, job_id: self._jobs.events(job_id)),
            ("GET", job + "/checkpoints", lambda request, job_id: self._jobs.checkpoints(job_id)),
            ("GET", r"/finetune/download", self._download),
            ("GET", r"/models", self._list_models),
            ("POST", r"/chat/completions", self._chat_completion),
        ]
        self._routes = [(m, re.compile(f"^{p}$"), h) for m, p, h in routes]

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request; never raises (errors become Together's error responses)."""
        try:
            result = self._dispatch(request)
            if isinstance(result, ApiResponse):
                return result
            return _json(200, result)
        except ApiError as error:
            response = _json(error.status, error.envelope())
            response.headers.update(error.headers)
            return response
        except Exception:
            log.exception("local Together stand-in failed on %s %s", request.method, request.path)
            error = server_error(500)
            return _json(error.status, error.envelope())

    def _dispatch(self, request: ApiRequest) -> dict[str, Any] | list[Any] | ApiResponse:
        method = request.method.upper()
        if method == "PUT" and request.path.startswith(UPLOAD_PREFIX):
            with self._lock:
                file_id = request.path[len(UPLOAD_PREFIX) :]
                self._files.receive(file_id, request.param("token") or "", request.body)
            return ApiResponse(200, {"etag": '"local"'})
        if not request.path.startswith(API_PREFIX + "/"):
            raise invalid_url(method, request.path)
        path = request.path[len(API_PREFIX) :]
        route = self._route(method, path)
        if route is None:
            raise invalid_url(method, request.path)
        handler, match = route
        if not _bearer_token(request.headers):
            raise unauthorized()
        delay = self._faults.latency_for(path)
        if delay:
            time.sleep(delay)
        fault = self._faults.take_request_fault(path)
        if fault is not None:
            raise fault
        with self._lock:
            return handler(request, **match.groupdict())

    def _route(self, method: str, path: str) -> tuple[Handler, re.Match[str]] | None:
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and route_method == method:
                return handler, match
        return None

    # --- files ------------------------------------------------------------------------------
    def _begin_upload(self, request: ApiRequest) -> ApiResponse:
        file_id, token = self._files.begin_upload(_fields(request))
        host = request.headers.get("host", "local-together.invalid")
        location = f"http://{host}{UPLOAD_PREFIX}{file_id}?token={token}"
        return ApiResponse(302, {"location": location, "x-together-file-id": file_id})

    def _upload_in_one(self, request: ApiRequest) -> dict[str, Any]:
        """`POST /files/upload` (multipart: purpose, file_name, file): the one-call upload."""
        form = parse_form(request.headers.get("content-type", ""), request.body)
        fields = {
            k: bytes(v.data).decode("utf-8", "replace") for k, v in form.items() if k != "file"
        }
        upload = form.get("file")
        if upload is None:
            raise missing_parameter("file")
        file_id, token = self._files.begin_upload(fields)
        self._files.receive(file_id, token, bytes(upload.data))
        return self._files.preprocess(file_id)

    def _file_content(self, request: ApiRequest, file_id: str) -> ApiResponse:
        return ApiResponse(200, {"content-type": "text/plain"}, self._files.content(file_id))

    # --- fine-tuning ------------------------------------------------------------------------
    def _estimate(self, request: ApiRequest) -> dict[str, Any]:
        return self._jobs.estimate_price(_json_body(request))

    def _supported(self, request: ApiRequest) -> dict[str, Any]:
        return {"models": sorted(BASE_MODELS)}

    def _limits(self, request: ApiRequest) -> dict[str, Any]:
        name = request.param("model_name") or ""
        base = BASE_MODELS.get(name)
        if base is None:
            raise not_found(f"Model {name!r} not found or not supported for fine-tuning")
        return base.limits()

    def _download(self, request: ApiRequest) -> ApiResponse:
        job_id = request.param("ft_id")
        if not job_id:
            raise missing_parameter("ft_id")
        checkpoint = request.param("checkpoint")
        if request.param("checkpoint_step") is None and checkpoint is None:
            raise invalid_request(
                "checkpoint is required when checkpoint_step is not set", param="checkpoint"
            )
        job, base = self._jobs.job_for_download(job_id)
        if job["status"] != "completed":
            raise invalid_request(
                f"Fine-tune job {job_id} is {job['status']}; only a completed job can be "
                "downloaded",
                param="ft_id",
            )
        if job["training_type"]["type"] != "Lora" or checkpoint != "adapter":
            raise invalid_request(
                "The local stand-in serves LoRA adapters only (checkpoint=adapter of a LoRA "
                "job); merged weights and full fine-tunes are too large to fake",
                param="checkpoint",
            )
        headers = {
            "content-type": "application/x-tar",
            "content-disposition": f'attachment; filename="{job_id}-adapter.tar.gz"',
        }
        return ApiResponse(200, headers, adapter_archive(job, base.hidden_size))

    # --- models and chat --------------------------------------------------------------------
    def _list_models(self, request: ApiRequest) -> list[Any]:
        self._jobs.advance_all()
        return self._models.list()

    def _chat_completion(self, request: ApiRequest) -> dict[str, Any] | ApiResponse:
        result = self._chat.create(_json_body(request))
        if result.chunks is None:
            assert result.completion is not None
            return result.completion
        body = b"".join(
            f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
            for chunk in result.chunks
        )
        headers = {"content-type": "text/event-stream; charset=utf-8"}
        return ApiResponse(200, headers, stream=[body, b"data: [DONE]\n\n"])


def _json(status: int, payload: Any) -> ApiResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return ApiResponse(status, {"content-type": _JSON}, body)


def _json_body(request: ApiRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        raise invalid_request("The request body is not valid JSON.") from None


def _fields(request: ApiRequest) -> dict[str, str]:
    """`POST /files`'s fields: JSON (the v2 SDK) or a urlencoded form (the v1 SDK)."""
    kind = request.headers.get("content-type", "")
    if "json" in kind:
        body = _json_body(request)
        if not isinstance(body, dict):
            raise invalid_request("The request body must be a JSON object.")
        return {k: str(v) for k, v in body.items() if v is not None}
    return dict(parse_qsl(request.body.decode("utf-8", "replace")))


def _bearer_token(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
