"""vLLM's error answers, as exceptions that carry their HTTP status and body.

vLLM answers errors with `{"error": {"message", "type", "param", "code"}}` where `code` is the
HTTP status and `type` names the error class (`BadRequestError`, `NotFoundError`,
`InvalidUserInput`, `InternalServerError`...); request-validation failures carry type
`Bad Request`; paths are replaced by `<path>` (vllm/entrypoints/serve/exception_handling).
Two answers are not in that envelope: the API-key middleware's 401 `{"error": "Unauthorized"}`
and FastAPI's `{"detail": "Not Found"}` for a route that does not exist. Messages here are
vLLM 0.32's, as it answered on this machine.
"""

from __future__ import annotations

import re
from typing import Any

_MEMORY_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")
_ROOTED_PATH = re.compile(r"/(?:home|usr|opt|var|tmp|root|lib|mnt|srv)(?:/[\w.\-]+)+")
_FILE_PATH = re.compile(r"(?:/[\w\-]+)+/[\w\-]+\.\w+")


def sanitize_message(message: str) -> str:
    """Paths and memory addresses replaced, as vLLM's `sanitize_message` does."""
    message = _MEMORY_ADDRESS.sub(">", message)
    message = _ROOTED_PATH.sub("<path>", message)
    return _FILE_PATH.sub("<path>", message).strip()


class VLLMError(Exception):
    """A refused request: its status and the JSON body vLLM sends with it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


def error_response(
    status: int, message: str, err_type: str, *, param: str | None = None
) -> VLLMError:
    """vLLM's `ErrorResponse` envelope (`create_error_response`)."""
    envelope = {
        "message": sanitize_message(message),
        "type": err_type,
        "param": param,
        "code": status,
    }
    return VLLMError(status, {"error": envelope})


def bad_request(message: str, *, param: str | None = None, value: object = None) -> VLLMError:
    """400 `BadRequestError`; a parameter's name and value are appended as vLLM does."""
    if param is not None:
        message = f"{message} (parameter={param}, value={value})"
    return error_response(400, message, "BadRequestError", param=param)


def invalid_user_input(message: str) -> VLLMError:
    """400 `InvalidUserInput` (the LoRA routes' own checks)."""
    return error_response(400, message, "InvalidUserInput")


def validation_error(loc: str, kind: str, msg: str, given: object) -> VLLMError:
    """400 for a body that does not fit the route's pydantic model (FastAPI's validation)."""
    shown = f"<dict of {len(given)} items>" if isinstance(given, dict) else given
    detail = {"type": kind, "loc": loc, "msg": msg, "input": shown}
    return error_response(400, f"1 validation error:\n  {detail}", "Bad Request", param=loc)


def unsupported_media_type() -> VLLMError:
    """400 for a JSON route called without `content-type: application/json`."""
    return error_response(
        400,
        "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed",
        "Bad Request",
    )


def model_not_found(model: str, aliases: list[str]) -> VLLMError:
    """404 `NotFoundError` for a `model` that is neither a base model name nor an adapter."""
    return error_response(
        404,
        f"The model `{model}` does not exist. Valid aliases: {', '.join(aliases)}.",
        "NotFoundError",
        param="model",
    )


def worker_failed(method: str, reason: str) -> VLLMError:
    """500: the engine's worker raised while running `method` (e.g. `add_lora`)."""
    return error_response(
        500,
        f"Call to {method} method failed: Worker failed with error '{reason}', please check "
        "the stack trace above for the root cause",
        "InternalServerError",
    )


def unauthorized() -> VLLMError:
    """401 from vLLM's API-key middleware (every `/v1` path without the right bearer key)."""
    return VLLMError(401, {"error": "Unauthorized"})


def route_not_found() -> VLLMError:
    """FastAPI's 404 for a path no route serves."""
    return VLLMError(404, {"detail": "Not Found"})


def method_not_allowed() -> VLLMError:
    """FastAPI's 405 for a known path called with another method."""
    return VLLMError(405, {"detail": "Method Not Allowed"})


def internal_error(message: str) -> VLLMError:
    """500 `InternalServerError` for a failure of the stand-in itself."""
    return error_response(500, message, "InternalServerError")
