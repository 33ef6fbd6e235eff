"""Checks requests and responses against OpenAI's OpenAPI description, with openapi-core.

The spec (`../shared/openai-openapi/openapi.yaml`, about 3 MB) is parsed once per test session.
Two normalisations make it checkable by a standard validator, without changing what it means:

- It is an OpenAPI 3.1 document that still marks optional-null values with 3.0's
  `nullable: true` (for example `finish_reason` in stream chunks); 3.1 validators ignore that
  keyword, so `{..., nullable: true}` is rewritten as `anyOf: [{...}, {type: "null"}]`.
  (In query parameters the keyword is dropped instead: openapi-core reads deepObject
  parameters only from a plain `type: object` schema.)
- Likewise 3.0's boolean `exclusiveMinimum: true` (next to `minimum: 0`, for `beta` and
  `learning_rate_multiplier`) would read in 3.1 as "greater than 1"; it becomes
  `exclusiveMinimum: 0`.
- Its `discriminator`s have no `mapping`, so a validator that honours them looks for schemas
  named after the discriminator values (`#/components/schemas/user`), which do not exist. A
  discriminator is only a hint; `oneOf` alone decides validity, so discriminators are dropped.

What is checked, per exchange:
- 2xx: the request against its operation (path, query, headers, body) and the response body.
- 4xx/5xx: the body against `ErrorResponse` (the spec declares error responses only for a few
  operations; where it does, such as 429 on chat completions, the whole response too). The
  request of a refused call is not required to be valid: tests send bad requests on purpose.
- Streams: every `data:` chunk against `CreateChatCompletionStreamResponse`, ending `[DONE]`.
- `GET /files/{id}/content`: the spec declares an `application/json` string, but the download
  is the raw file (JSONL, CSV), as OpenAI sends it; only its status is checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import yaml
from jsonschema import Draft202012Validator
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_HOST = "https://api.openai.com"


@dataclass(frozen=True)
class Exchange:
    """One request the SDK sent and the response it got, as bytes on the wire."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes

    def describe(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class RecordingTransport(httpx2.BaseTransport):
    """Wraps a transport and records every exchange (bodies read in full)."""

    def __init__(self, inner: httpx2.BaseTransport, log: list[Exchange]) -> None:
        self._inner = inner
        self._log = log

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        response = self._inner.handle_request(request)
        body = response.read()
        response.close()
        self._log.append(
            Exchange(
                method=request.method,
                path=request.url.path,
                query=tuple(request.url.params.multi_items()),
                request_headers={k.lower(): v for k, v in request.headers.items()},
                request_body=request.content,
                status=response.status_code,
                response_headers={k.lower(): v for k, v in response.headers.items()},
                response_body=body,
            )
        )
        framing = {"content-length", "transfer-encoding", "content-encoding"}
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in framing]
        return httpx2.Response(response.status_code, headers=headers, content=body)

    def close(self) -> None:
        self._inner.close()


class ContractValidator:
    """OpenAI's spec, loaded once, and the checks described in the module docstring."""

    def __init__(self, spec_path: Path) -> None:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        raw = yaml.load(spec_path.read_bytes(), Loader=loader)
        _normalise(raw)
        self._openapi = OpenAPI.from_dict(
            raw,
            config=Config(
                spec_validator_cls=None,  # the spec is OpenAI's; we check messages, not it
                extra_media_type_deserializers={"application/octet-stream": _binary_as_text},
            ),
        )
        self._components = raw["components"]
        self._schemas: dict[str, Draft202012Validator] = {}
        self._operations = {
            (method.upper(), "/v1" + path): {str(status) for status in op.get("responses", {})}
            for path, item in raw["paths"].items()
            for method, op in item.items()
            if isinstance(op, dict)
        }

    # --- checks -----------------------------------------------------------------------------
    def problems(self, exchanges: Iterable[Exchange]) -> list[str]:
        found: list[str] = []
        for exchange in exchanges:
            found.extend(f"{exchange.describe()}: {p}" for p in self.exchange_problems(exchange))
        return found

    def exchange_problems(self, exchange: Exchange) -> list[str]:
        request = self._request(exchange)
        problems: list[str] = []
        if 200 <= exchange.status < 300:
            problems += [f"request: {_text(e)}" for e in self._openapi.iter_request_errors(request)]
        content_type = exchange.response_headers.get("content-type", "")
        if exchange.status >= 400:
            problems += self._error_problems(exchange, request)
        elif content_type.startswith("text/event-stream"):
            problems += self._stream_problems(exchange.response_body)
        elif exchange.path.endswith("/content") and exchange.method == "GET":
            pass  # a raw download; see the module docstring
        else:
            response = self._response(exchange)
            problems += [
                f"response: {_text(e)}"
                for e in self._openapi.iter_response_errors(request, response)
            ]
        return problems

    def schema_errors(self, schema_name: str, instance: Any) -> list[str]:
        """Errors of `instance` against `#/components/schemas/<schema_name>`."""
        validator = self._schemas.get(schema_name)
        if validator is None:
            validator = _component_validator(self._components, schema_name)
            self._schemas[schema_name] = validator
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)
        ]

    # --- helpers ----------------------------------------------------------------------------
    def _error_problems(self, exchange: Exchange, request: MockRequest) -> list[str]:
        try:
            body = json.loads(exchange.response_body)
        except ValueError:
            return ["error response is not JSON"]
        problems = [f"error body: {p}" for p in self.schema_errors("ErrorResponse", body)]
        declared = self._declared_statuses(exchange)
        if str(exchange.status) in declared:
            problems += [
                f"response: {_text(e)}"
                for e in self._openapi.iter_response_errors(request, self._response(exchange))
            ]
        return problems

    def _stream_problems(self, body: bytes) -> list[str]:
        events = [
            block[len("data: ") :]
            for block in body.decode("utf-8").split("\n\n")
            if block.startswith("data: ")
        ]
        if not events or events[-1] != "[DONE]":
            return ["stream does not end with data: [DONE]"]
        problems: list[str] = []
        for number, data in enumerate(events[:-1], start=1):
            errors = self.schema_errors("CreateChatCompletionStreamResponse", json.loads(data))
            problems += [f"chunk {number}: {e}" for e in errors]
        return problems

    def _declared_statuses(self, exchange: Exchange) -> set[str]:
        for (method, template), statuses in self._operations.items():
            if method == exchange.method and _matches(template, exchange.path):
                return statuses
        return set()

    def _request(self, exchange: Exchange) -> MockRequest:
        return MockRequest(
            SPEC_HOST,
            exchange.method,
            exchange.path,
            args=list(exchange.query),  # type: ignore[arg-type]  # a multi-dict's items
            headers=exchange.request_headers,
            data=exchange.request_body or None,
            content_type=exchange.request_headers.get("content-type", "application/json"),
        )

    def _response(self, exchange: Exchange) -> MockResponse:
        return MockResponse(
            exchange.response_body,
            status_code=exchange.status,
            headers=exchange.response_headers,
            content_type=exchange.response_headers.get("content-type", "application/json"),
        )


def _component_validator(components: Any, name: str) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator for one component schema (OpenAPI 3.1's dialect).

    The spec's references are all `#/components/...`; carrying `components` in the root schema
    lets them resolve against it without a registry."""
    root = {"$ref": f"#/components/schemas/{name}", "components": components}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _normalise(node: Any) -> None:
    """3.0-isms (`nullable`, boolean exclusive bounds) in 3.1 form; discriminators dropped."""
    if isinstance(node, dict):
        node.pop("discriminator", None)
        if "in" in node and isinstance(node.get("schema"), dict):
            # A parameter: openapi-core's deepObject reader needs `type: object` at the top, so
            # `nullable` is dropped there (`metadata=null` is not sent by these tests).
            node["schema"].pop("nullable", None)
        for value in node.values():
            _normalise(value)
        for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if node.get(bound) is True and limit in node:
                node[bound] = node.pop(limit)
            elif node.get(bound) is False:
                node.pop(bound)
        if node.get("nullable") is True:
            node.pop("nullable")
            inner = dict(node)
            node.clear()
            node["anyOf"] = [inner, {"type": "null"}]
    elif isinstance(node, list):
        for value in node:
            _normalise(value)


def _binary_as_text(value: bytes, **_parameters: str) -> str:
    """A file part of a form: the spec says `type: string, format: binary`, so give a string."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _matches(template: str, path: str) -> bool:
    parts, actual = template.split("/"), path.split("/")
    return len(parts) == len(actual) and all(
        p == a or (p.startswith("{") and p.endswith("}"))
        for p, a in zip(parts, actual, strict=True)
    )


def _text(error: Exception) -> str:
    cause = error.__cause__
    detail = getattr(cause, "schema_errors", None) or ([cause] if cause else [])
    return f"{error} {[getattr(d, 'message', str(d)) for d in detail]}".strip()


class TrainingLineSchemas:
    """The training-line schemas of the 2025-05-20 spec, which the current spec no longer
    carries: `FineTuneChatRequestInput` and `FineTunePreferenceRequestInput`. That document is
    OpenAPI 3.0; after the same normalisation (its `nullable` sits beside `oneOf`, where a 3.0
    validator does not apply it) it is checked as 3.1."""

    def __init__(self, spec_path: Path) -> None:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        raw = yaml.load(spec_path.read_bytes(), Loader=loader)
        _normalise(raw)
        self._validators = {
            name: _component_validator(raw["components"], name)
            for name in ("FineTuneChatRequestInput", "FineTunePreferenceRequestInput")
        }

    def errors(self, schema_name: str, line: Any) -> list[str]:
        return [e.message for e in self._validators[schema_name].iter_errors(line)]
