"""OpenAI's error envelope, as exceptions that carry their HTTP status.

Every failure the stand-in reports goes through `ApiError`, so both transports answer with the
same `{"error": {"message", "type", "param", "code"}}` body and status, and the SDK raises the
same exception classes it raises against OpenAI.
"""

from __future__ import annotations

import math
from typing import Any


class ApiError(Exception):
    """A request the stand-in refuses, with the status and envelope OpenAI would send."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        """The JSON body OpenAI sends with an error."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """400: the request itself is wrong (the SDK raises `BadRequestError`)."""
    return ApiError(400, message, param=param, code=code)


def unrecognized_argument(name: str) -> ApiError:
    """400 for a parameter OpenAI does not know (it rejects these rather than ignoring them)."""
    return invalid_request(f"Unrecognized request argument supplied: {name}")


def missing_parameter(name: str) -> ApiError:
    return invalid_request(
        f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
    )


def invalid_type(name: str, expected: str) -> ApiError:
    return invalid_request(
        f"Invalid type for '{name}': expected {expected}.", param=name, code="invalid_type"
    )


def not_found(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """404 (the SDK raises `NotFoundError`)."""
    return ApiError(404, message, param=param, code=code)


def model_not_found(model: str) -> ApiError:
    """404 `model_not_found`, also what a freshly trained model answers until it is loaded."""
    return not_found(
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def invalid_url(method: str, path: str) -> ApiError:
    """OpenAI's answer to a path (or method) it does not serve."""
    return not_found(f"Invalid URL ({method} {path})")


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). The local stand-in "
        "accepts any non-empty key.",
    )


def permission_denied(message: str) -> ApiError:
    """403 (the SDK raises `PermissionDeniedError`)."""
    return ApiError(403, message)


def rate_limited(retry_after_s: float) -> ApiError:
    """429 with `retry-after` (whole seconds, at least 1, as the spec says) and `retry-after-ms`.

    The SDK prefers `retry-after-ms`, so tests can ask for short waits and still retry quickly.
    """
    seconds = max(1, math.ceil(retry_after_s))
    millis = max(1, round(retry_after_s * 1000))
    return ApiError(
        429,
        "Rate limit reached for requests (injected by the local stand-in). "
        f"Please try again in {retry_after_s:g}s.",
        type="requests",
        code="rate_limit_exceeded",
        headers={"retry-after": str(seconds), "retry-after-ms": str(millis)},
    )


def server_error(status: int = 500) -> ApiError:
    """5xx as OpenAI words them (the SDK raises `InternalServerError`)."""
    if status == 503:
        message = "The server is overloaded or not ready yet."
    else:
        message = "The server had an error while processing your request. Sorry about that!"
    return ApiError(status, message, type="server_error")
