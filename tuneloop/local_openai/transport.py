"""In process: an `httpx2` transport that hands each request to the stand-in's router.

openai 3.x is built on httpx2 (respx cannot intercept it), so an `openai.OpenAI` client with
`http_client=httpx2.Client(transport=...)` talks to the stand-in without a socket, through the
SDK's real request building, retries, streaming and error handling.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx2

from tuneloop.local_openai.api import ApiRequest, ApiResponse

#: Where in-process clients point. `.invalid` can never resolve, so a client built with it but
#: without the transport fails loudly instead of reaching some real host.
IN_PROCESS_BASE_URL = "http://local-openai.invalid/v1"


def to_api_request(request: httpx2.Request) -> ApiRequest:
    return ApiRequest(
        method=request.method,
        path=request.url.path,
        query=tuple(request.url.params.multi_items()),
        headers={key.lower(): value for key, value in request.headers.items()},
        body=request.content,
    )


def to_httpx_response(response: ApiResponse) -> httpx2.Response:
    content = response.stream if response.stream is not None else response.body
    return httpx2.Response(response.status, headers=response.headers, content=content)


def in_process_transport(handle: Callable[[ApiRequest], ApiResponse]) -> httpx2.MockTransport:
    """A transport whose every request is answered by `handle` (the stand-in's router)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return to_httpx_response(handle(to_api_request(request)))

    return httpx2.MockTransport(handler)
