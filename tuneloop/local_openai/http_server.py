"""Over HTTP: the same router behind Starlette and uvicorn, under `/v1`.

`tuneloop local-openai` serves it on 127.0.0.1:8089 by default, so that
`OPENAI_BASE_URL=http://127.0.0.1:8089/v1` points any OpenAI client at the stand-in. Tests start
it on a free port in a thread with `serve_in_thread`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tuneloop.local_openai.api import ApiRequest, ApiResponse

_METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]
#: Requests handled at once. Starlette's thread pool (anyio's default limiter) takes 40, so a
#: 41st chat completion would wait for one to finish: with injected latency, 200 concurrent
#: callers would see five times the latency, which OpenAI's API does not do.
MAX_CONCURRENT_REQUESTS = 512


def create_app(
    handle: Callable[[ApiRequest], ApiResponse],
    *,
    max_concurrent_requests: int = MAX_CONCURRENT_REQUESTS,
) -> Starlette:
    """A Starlette app that passes every request to `handle` (in a worker thread, up to
    `max_concurrent_requests` at once)."""
    limiter = anyio.CapacityLimiter(max_concurrent_requests)

    async def chunks(stream: Iterable[bytes]) -> AsyncIterator[bytes]:
        iterator = iter(stream)
        while (
            chunk := await anyio.to_thread.run_sync(next, iterator, None, limiter=limiter)
        ) is not None:
            yield chunk

    async def endpoint(request: Request) -> Response:
        api_request = ApiRequest(
            method=request.method,
            path=request.url.path,
            query=tuple(request.query_params.multi_items()),
            headers={key.lower(): value for key, value in request.headers.items()},
            body=await request.body(),
        )
        answer = await anyio.to_thread.run_sync(handle, api_request, limiter=limiter)
        if answer.stream is not None:
            return StreamingResponse(
                chunks(answer.stream),
                status_code=answer.status,
                headers=answer.headers,
            )
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=_METHODS)])


def serve(
    handle: Callable[[ApiRequest], ApiResponse],
    *,
    host: str = "127.0.0.1",
    port: int = 8089,
    log_level: str = "info",
) -> None:
    """Serve until interrupted (Ctrl-C)."""
    uvicorn.run(create_app(handle), host=host, port=port, log_level=log_level, lifespan="off")


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """What to give clients as `base_url` / `OPENAI_BASE_URL`."""
        return f"http://{self.host}:{self.port}/v1"


@contextmanager
def serve_in_thread(
    handle: Callable[[ApiRequest], ApiResponse],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout_s: float = 10.0,
) -> Iterator[RunningServer]:
    """Run the server in a background thread (port 0 picks a free port); stop it on exit."""
    config = uvicorn.Config(
        create_app(handle), host=host, port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="local-openai-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the local OpenAI stand-in did not start on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(host, bound_port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
