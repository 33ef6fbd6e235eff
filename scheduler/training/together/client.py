"""A small client for the parts of Together AI's REST API that the trainer calls, on httpx2.

Why not the official `together` SDK: it pins `rich<15` (tuneloop needs `rich>=15`), and its
`fine_tuning.create` adds a price-estimate call and retries POSTs itself, so a read timeout on
job creation can create a second job. Here no POST that creates something is ever retried
inside the client: the retraining cycle asks again on its next poll, and the trainer first
looks for what an earlier attempt created. Connection failures (nothing was sent) are retried
by httpx2's transport.

Endpoints (Together's OpenAPI description, github.com/togethercomputer/openapi, and the SDK's
upload code, which the description does not cover):
- upload, three calls: `POST /files {purpose, file_name, file_type}` answers 302 with a
  presigned `Location` and `X-Together-File-Id`; `PUT <Location>` sends the bytes (no API
  key: the URL carries its own signature); `POST /files/{id}/preprocess` answers the file.
- `GET /files`, `GET /files/{id}`; `POST /fine-tunes`, `GET /fine-tunes`,
  `GET /fine-tunes/{id}`, `POST /fine-tunes/{id}/cancel`, `GET /fine-tunes/{id}/events`,
  `POST /fine-tunes/estimate-price`, `GET /finetune/download?ft_id=&checkpoint=adapter`.
Errors come as `{"error": {"message", "type", "param", "code"}}` (`ErrorData`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

DEFAULT_BASE_URL = "https://api.together.xyz/v1"
#: Connection attempts httpx2 retries (only failures to connect: nothing reached the server).
CONNECT_RETRIES = 2


class TogetherError(Exception):
    """Together refused a request: its HTTP status and the `error` object of its answer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    @property
    def reason(self) -> str:
        """Together's code, else its error type, else the HTTP status: what went wrong, in one
        word (`invalid_request_error`, `model_not_available`, `http_401`)."""
        return self.code or self.type or f"http_{self.status}"


class TogetherRateLimited(TogetherError):
    """429: wait `retry_after_s` seconds (None when Together did not say)."""

    def __init__(self, message: str, retry_after_s: float | None, **error: Any) -> None:
        super().__init__(429, message, **error)
        self.retry_after_s = retry_after_s


class TogetherUnavailable(TogetherError):
    """A 5xx, a timeout or a dropped connection: trying again later may work."""


class TogetherClient:
    """Calls Together's API at `base_url` with `api_key`.

    `http_client` is for tests and the offline stand-in (an `httpx2.Client` with its
    transport); without one, a client with `timeout_s` and connection retries is made.
    Every method raises `TogetherRateLimited`, `TogetherUnavailable` or `TogetherError`.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        http_client: httpx2.Client | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        if not api_key:
            raise ValueError("Together needs an API key (TOGETHER_API_KEY)")
        self.base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._http = http_client or httpx2.Client(
            timeout=timeout_s, transport=httpx2.HTTPTransport(retries=CONNECT_RETRIES)
        )

    # --- files ------------------------------------------------------------------------------
    def upload_file(self, file_name: str, content: bytes, purpose: str = "fine-tune") -> dict:
        """Upload `content` as `file_name` in Together's three calls; the processed file."""
        body = {"purpose": purpose, "file_name": file_name, "file_type": "jsonl"}
        answer = self._send("POST", "/files", json=body, follow_redirects=False)
        if answer.status_code != 302:
            raise TogetherError(
                answer.status_code,
                f"POST /files answered {answer.status_code}, not a redirect to the upload URL: "
                f"{answer.text[:300]}",
            )
        target = answer.headers.get("location")
        file_id = answer.headers.get("x-together-file-id")
        if not target or not file_id:
            raise TogetherError(302, "POST /files gave no Location or X-Together-File-Id")
        with _transport_errors(f"PUT {file_name} to the upload URL"):
            put = self._http.put(target, content=content)
        if put.status_code != 200:
            raise _error_from(put, f"uploading {file_name}")
        return self._json("POST", f"/files/{file_id}/preprocess")

    def list_files(self) -> list[dict]:
        return list(self._json("GET", "/files").get("data") or [])

    def retrieve_file(self, file_id: str) -> dict:
        return self._json("GET", f"/files/{file_id}")

    # --- fine-tunes -------------------------------------------------------------------------
    def create_fine_tune(self, body: Mapping[str, Any]) -> dict:
        return self._json("POST", "/fine-tunes", json=dict(body))

    def list_fine_tunes(self) -> list[dict]:
        return list(self._json("GET", "/fine-tunes").get("data") or [])

    def retrieve_fine_tune(self, job_id: str) -> dict:
        return self._json("GET", f"/fine-tunes/{job_id}")

    def cancel_fine_tune(self, job_id: str) -> dict:
        return self._json("POST", f"/fine-tunes/{job_id}/cancel")

    def fine_tune_events(self, job_id: str) -> list[dict]:
        return list(self._json("GET", f"/fine-tunes/{job_id}/events").get("data") or [])

    def estimate_price(self, body: Mapping[str, Any]) -> dict:
        """`{estimated_total_price (USD), allowed_to_proceed, user_limit, ...}`."""
        return self._json("POST", "/fine-tunes/estimate-price", json=dict(body))

    def download(self, job_id: str, into: Path, *, checkpoint: str = "adapter") -> Path:
        """Stream a job's final `checkpoint` (`adapter` or `merged`) into the file `into`;
        returns `into`. The archive is a tar, compressed with zstd or gzip."""
        url = self.base_url + "/finetune/download"
        params = {"ft_id": job_id, "checkpoint": checkpoint}
        part = into.with_name(into.name + ".part")
        with (
            _transport_errors(f"downloading the {checkpoint} of {job_id}"),
            self._http.stream(
                "GET", url, params=params, headers=self._auth, follow_redirects=True
            ) as answer,
        ):
            if answer.status_code != 200:
                answer.read()
                raise _error_from(answer, f"downloading the {checkpoint} of {job_id}")
            with part.open("wb") as handle:
                for chunk in answer.iter_bytes(1 << 20):
                    handle.write(chunk)
        part.replace(into)
        return into

    # --- requests ---------------------------------------------------------------------------
    def _json(self, method: str, path: str, **options: Any) -> dict:
        answer = self._send(method, path, **options)
        if not 200 <= answer.status_code < 300:
            raise _error_from(answer, f"{method} {path}")
        try:
            data = answer.json()
        except ValueError:
            raise TogetherError(
                answer.status_code, f"{method} {path} answered no JSON: {answer.text[:300]}"
            ) from None
        if not isinstance(data, dict):
            raise TogetherError(answer.status_code, f"{method} {path} answered {data!r}")
        return data

    def _send(self, method: str, path: str, **options: Any) -> httpx2.Response:
        with _transport_errors(f"{method} {path}"):
            return self._http.request(method, self.base_url + path, headers=self._auth, **options)


@contextmanager
def _transport_errors(doing: str) -> Iterator[None]:
    try:
        yield
    except httpx2.TransportError as exc:  # timeouts, refused or dropped connections
        raise TogetherUnavailable(0, f"{doing}: {type(exc).__name__}: {exc}") from exc


def _error_from(answer: httpx2.Response, doing: str) -> TogetherError:
    """The exception for an error answer, with Together's own words where it sent them."""
    error: dict[str, Any] = {}
    try:
        body = answer.json()
    except (ValueError, json.JSONDecodeError):
        body = None
    if isinstance(body, dict):
        found = body.get("error")
        if isinstance(found, dict):
            error = found
        elif isinstance(body.get("message"), str):  # some routes answer {"message": ...}
            error = {"message": body["message"]}
    message = str(error.get("message") or answer.text[:300] or answer.reason_phrase)
    details = {
        "type": error.get("type"),
        "code": str(error["code"]) if error.get("code") else None,
        "param": error.get("param"),
    }
    status = answer.status_code
    if status == 429:
        return TogetherRateLimited(message, _retry_after(answer), **details)
    if status >= 500 or status == 408:
        return TogetherUnavailable(status, f"{doing}: HTTP {status}: {message}", **details)
    return TogetherError(status, message, **details)


def _retry_after(answer: httpx2.Response) -> float | None:
    value = answer.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None
