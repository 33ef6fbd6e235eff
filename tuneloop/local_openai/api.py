"""One framework-free router for the whole API: `handle(ApiRequest) -> ApiResponse`.

Both transports (the in-process `httpx2` transport and the Starlette/uvicorn server) translate
to and from these plain objects and call the same `Router.handle`, so the two can never answer
differently. Paths, shapes, statuses and error envelopes follow OpenAI's OpenAPI description.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tuneloop.local_openai.chat import ChatService
from tuneloop.local_openai.errors import (
    ApiError,
    invalid_request,
    invalid_url,
    missing_parameter,
    server_error,
    unauthorized,
)
from tuneloop.local_openai.faults import Faults
from tuneloop.local_openai.files import FileService
from tuneloop.local_openai.ids import new_id
from tuneloop.local_openai.jobs import JobService
from tuneloop.local_openai.model_registry import ModelRegistry
from tuneloop.local_openai.multipart_form import parse_form

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
_JSON = "application/json"
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)
_METADATA_KEY = re.compile(r"^metadata\[(?P<key>[^\]]*)\]$")


@dataclass(frozen=True)
class ApiRequest:
    """An HTTP request, stripped to what the API needs. Header names are lower-case."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass
class ApiResponse:
    """A status, headers, and either a whole body or a stream of body pieces (SSE)."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    stream: Iterable[bytes] | None = None


Handler = Callable[..., "dict[str, Any] | ApiResponse"]


class Router:
    """Matches a route, checks the key, applies faults, and calls the service."""

    def __init__(
        self,
        *,
        files: FileService,
        models: ModelRegistry,
        jobs: JobService,
        chat: ChatService,
        faults: Faults,
        lock: threading.RLock,
    ) -> None:
        self._files = files
        self._models = models
        self._jobs = jobs
        self._chat = chat
        self._faults = faults
        self._lock = lock
        job = r"/fine_tuning/jobs/(?P<job_id>[^/]+)"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", r"/models", self._list_models),
            ("GET", r"/models/(?P<model>[^/]+)", self._retrieve_model),
            ("DELETE", r"/models/(?P<model>[^/]+)", self._delete_model),
            ("POST", r"/files", self._upload_file),
            ("GET", r"/files", self._list_files),
            ("GET", r"/files/(?P<file_id>[^/]+)", self._retrieve_file),
            ("DELETE", r"/files/(?P<file_id>[^/]+)", self._delete_file),
            ("GET", r"/files/(?P<file_id>[^/]+)/content", self._file_content),
            ("POST", r"/fine_tuning/jobs", self._create_job),
            ("GET", r"/fine_tuning/jobs", self._list_jobs),
            ("GET", job, self._retrieve_job),
            ("POST", job + "/cancel", self._cancel_job),
            ("POST", job + "/pause", self._pause_job),
            ("POST", job + "/resume", self._resume_job),
            ("GET", job + "/events", self._job_events),
            ("GET", job + "/checkpoints", self._job_checkpoints),
            ("POST", r"/chat/completions", self._chat_completion),
        ]
        self._routes = [
            (method, re.compile(f"^{pattern}$"), handler) for method, pattern, handler in routes
        ]

    # --- entry point ------------------------------------------------------------------------
    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request; never raises (errors become OpenAI error responses)."""
        started = time.perf_counter()
        try:
            result = self._dispatch(request)
            response = result if isinstance(result, ApiResponse) else _json(200, result)
        except ApiError as error:
            response = _json(error.status, error.envelope())
            response.headers.update(error.headers)
        except Exception:
            log.exception("local OpenAI stand-in failed on %s %s", request.method, request.path)
            error = server_error(500)
            response = _json(error.status, error.envelope())
        response.headers.setdefault("x-request-id", new_id("req_", 24))
        response.headers["openai-processing-ms"] = str(int((time.perf_counter() - started) * 1000))
        response.headers["openai-version"] = "2020-10-01"
        return response

    def _dispatch(self, request: ApiRequest) -> dict[str, Any] | ApiResponse:
        method = request.method.upper()
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

    # --- models -----------------------------------------------------------------------------
    def _list_models(self, request: ApiRequest) -> dict[str, Any]:
        self._jobs.advance_all()
        return self._models.list()

    def _retrieve_model(self, request: ApiRequest, model: str) -> dict[str, Any]:
        self._jobs.advance_all()
        return self._models.retrieve(model)

    def _delete_model(self, request: ApiRequest, model: str) -> dict[str, Any]:
        self._jobs.advance_all()
        return self._models.delete(model)

    # --- files ------------------------------------------------------------------------------
    def _upload_file(self, request: ApiRequest) -> dict[str, Any]:
        form = parse_form(request.headers.get("content-type", ""), request.body)
        upload = form.get("file")
        if upload is None or upload.filename is None:
            raise missing_parameter("file")
        purpose = form.get("purpose")
        if purpose is None:
            raise missing_parameter("purpose")
        expires: dict[str, Any] = {}
        for key in ("anchor", "seconds"):
            part = form.get(f"expires_after[{key}]")
            if part is not None:
                expires[key] = bytes(part.data).decode("utf-8", "replace")
        return self._files.upload(
            filename=upload.filename,
            content=bytes(upload.data),
            purpose=bytes(purpose.data).decode("utf-8", "replace"),
            expires_after=expires or None,
        )

    def _list_files(self, request: ApiRequest) -> dict[str, Any]:
        return self._files.list(
            purpose=request.param("purpose"),
            order=request.param("order"),
            limit=request.param("limit"),
            after=request.param("after"),
        )

    def _retrieve_file(self, request: ApiRequest, file_id: str) -> dict[str, Any]:
        return self._files.retrieve(file_id)

    def _delete_file(self, request: ApiRequest, file_id: str) -> dict[str, Any]:
        return self._files.delete(file_id)

    def _file_content(self, request: ApiRequest, file_id: str) -> ApiResponse:
        data = self._files.content(file_id)
        return ApiResponse(200, {"content-type": "application/octet-stream"}, data)

    # --- fine-tuning jobs -------------------------------------------------------------------
    def _create_job(self, request: ApiRequest) -> dict[str, Any]:
        return self._jobs.create(_json_body(request))

    def _list_jobs(self, request: ApiRequest) -> dict[str, Any]:
        return self._jobs.list(
            after=request.param("after"),
            limit=request.param("limit"),
            metadata=_metadata_filter(request.query),
        )

    def _retrieve_job(self, request: ApiRequest, job_id: str) -> dict[str, Any]:
        return self._jobs.retrieve(job_id)

    def _cancel_job(self, request: ApiRequest, job_id: str) -> dict[str, Any]:
        return self._jobs.cancel(job_id)

    def _pause_job(self, request: ApiRequest, job_id: str) -> dict[str, Any]:
        return self._jobs.pause(job_id)

    def _resume_job(self, request: ApiRequest, job_id: str) -> dict[str, Any]:
        return self._jobs.resume(job_id)

    def _job_events(self, request: ApiRequest, job_id: str) -> dict[str, Any]:
        return self._jobs.events(job_id, after=request.param("after"), limit=request.param("limit"))

    def _job_checkpoints(self, request: ApiRequest, job_id: str) -> dict[str, Any]:
        return self._jobs.checkpoints(
            job_id, after=request.param("after"), limit=request.param("limit")
        )

    # --- chat -------------------------------------------------------------------------------
    def _chat_completion(self, request: ApiRequest) -> dict[str, Any] | ApiResponse:
        result = self._chat.create(_json_body(request))
        if result.chunks is None:
            assert result.completion is not None
            return result.completion
        headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
        return ApiResponse(200, headers, stream=_server_sent_events(result.chunks))


def _json(status: int, payload: Mapping[str, Any]) -> ApiResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return ApiResponse(status, {"content-type": _JSON}, body)


def _json_body(request: ApiRequest) -> Any:
    try:
        return json.loads(request.body)
    except ValueError:
        raise invalid_request(_BAD_JSON) from None


def _bearer_token(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _metadata_filter(query: Iterable[tuple[str, str]]) -> dict[str, str] | None:
    """`metadata[k]=v` pairs; `metadata=null` asks for jobs without metadata (`{}`)."""
    wanted: dict[str, str] | None = None
    for key, value in query:
        if key == "metadata" and value == "null":
            return {}
        match = _METADATA_KEY.match(key)
        if match:
            wanted = wanted or {}
            wanted[match["key"]] = value
    return wanted


def _server_sent_events(chunks: list[dict[str, Any]]) -> Iterator[bytes]:
    for chunk in chunks:
        data = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
        yield f"data: {data}\n\n".encode()
    yield b"data: [DONE]\n\n"
