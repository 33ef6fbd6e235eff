"""Serving /metrics: a Starlette route for the bot's HTTP app, and a small threaded HTTP server
(/metrics and /healthz) for processes that have no web server of their own: `tuneloop
scheduler`, and `tuneloop serve` in Socket Mode."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import anyio
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer, choose_encoder
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger("tuneloop.metrics")

METRICS_PATH = "/metrics"
HEALTH_PATH = "/healthz"

#: Details for /healthz; raising means unhealthy (503 with the error).
Health = Callable[[], Mapping[str, Any]]


def metrics_route(registry: CollectorRegistry) -> Route:
    """GET /metrics for a Starlette app: Prometheus' text format, or OpenMetrics when the
    scraper asks for it. Collected on a worker thread: collectors read the database."""

    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        body = await anyio.to_thread.run_sync(encoder, registry)
        return Response(body, headers={"Content-Type": content_type})

    return Route(METRICS_PATH, metrics, methods=["GET"])


class MetricsServerError(RuntimeError):
    """The metrics server could not start (its port is taken, say), in words for the operator."""


class _QuietHandler(WSGIRequestHandler):
    """No access line on stderr for every scrape and health check."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def health_body(health: Health | None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of a health check: 200 {"ok": true, ...details}, or 503 with
    the error when `health` raises (the database is unreachable, say)."""
    try:
        details = dict(health()) if health is not None else {}
    except Exception as error:
        return 503, {"ok": False, "error": str(error)}
    return 200, {"ok": True, **details}


class MetricsServer:
    """/metrics and /healthz on `host:port`, served by daemon threads until `close()`.
    Port 0 picks a free port (`port` tells which). Raises OSError when the port is taken."""

    def __init__(
        self, registry: CollectorRegistry, *, host: str, port: int, health: Health | None = None
    ) -> None:
        metrics_app = make_wsgi_app(registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if path == METRICS_PATH:
                return metrics_app(environ, start_response)  # type: ignore[no-any-return]
            if path == HEALTH_PATH:
                status, body = health_body(health)
                reason = "OK" if status == 200 else "Service Unavailable"
                payload = json.dumps(body).encode()
                start_response(f"{status} {reason}", [("Content-Type", "application/json")])
                return [payload]
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: try /metrics or /healthz\n"]

        self._server = make_server(
            host, port, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.host = host
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="tuneloop-metrics", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
