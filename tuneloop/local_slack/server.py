"""The local workspace over HTTP: Slack's Web API under `/api/<method>`, response URLs, and
uploaded files at their `url_private` (for the bot's token only).

Served by uvicorn (Starlette), so the bot's real `slack_sdk.WebClient` reaches it through
`base_url` / `SLACK_API_URL`, exactly as it reaches slack.com. Methods answer from memory
under the workspace lock, so they run on the event loop without a thread hop.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tuneloop.local_slack.socket_mode import SocketModeServer
from tuneloop.local_slack.threaded import ThreadedServer
from tuneloop.local_slack.web_api import call_method
from tuneloop.local_slack.workspace import Workspace


async def _values(request: Request) -> dict[str, Any]:
    values: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return values
    if "json" in request.headers.get("content-type", ""):
        try:
            decoded = json.loads(body)
        except json.JSONDecodeError:
            decoded = None
        if isinstance(decoded, dict):
            values.update(decoded)
        return values
    values.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return values


class LocalSlackServer:
    """The Web API of one (swappable) workspace, served by uvicorn in a background thread,
    and its Socket Mode endpoint (`socket_mode`, on a port of its own)."""

    def __init__(self, workspace: Workspace, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._workspace = workspace
        self._server = ThreadedServer(self.asgi_app(), host=host, port=port, name="local-slack")
        self.socket_mode = SocketModeServer(lambda: self._workspace, host=host)

    @property
    def workspace(self) -> Workspace:
        return self._workspace

    @workspace.setter
    def workspace(self, workspace: Workspace) -> None:
        """Serve another workspace from the next request on (tests reuse one server); Socket
        Mode connections to the previous one are dropped."""
        workspace.public_url = self.base_url
        self.socket_mode.reset()
        workspace.socket_mode_url = self.socket_mode.issue_url
        self._workspace = workspace

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def api_url(self) -> str:
        """What `SLACK_API_URL` / `WebClient(base_url=...)` should be."""
        return f"{self.base_url}/api/"

    def asgi_app(self) -> Starlette:
        async def api(request: Request) -> Response:
            ws = self._workspace
            values = await _values(request)
            status, body, headers = call_method(
                ws, request.path_params["method"], values, request.headers.get("authorization")
            )
            return JSONResponse(body, status_code=status, headers=headers)

        async def respond(request: Request) -> Response:
            ws = self._workspace
            target = ws.response_urls.get(request.path_params["token"])
            if target is None:
                return JSONResponse({"ok": False, "error": "expired_url"}, status_code=404)
            payload = json.loads(await request.body() or b"{}")
            if payload.get("response_type") == "in_channel":
                ws.post(
                    target["channel"],
                    user=ws.bot.user_id,
                    text=payload.get("text", ""),
                    blocks=payload.get("blocks"),
                    thread_ts=target.get("thread_ts"),
                )
            else:
                ws.post_ephemeral(
                    target["channel"],
                    target["user"],
                    text=payload.get("text", ""),
                    blocks=payload.get("blocks"),
                    thread_ts=target.get("thread_ts"),
                    source="response_url",
                )
            return JSONResponse({"ok": True})

        async def file(request: Request) -> Response:
            ws = self._workspace
            content = ws.file_contents.get(request.path_params["file_id"])
            if request.headers.get("authorization") != f"Bearer {ws.bot.token}":
                return Response("sign in to Slack", status_code=403)  # no token, no file
            if content is None:
                return Response("file not found", status_code=404)
            return Response(content, media_type="application/octet-stream")

        return Starlette(
            routes=[
                Route("/api/{method}", api, methods=["GET", "POST"]),
                Route("/files/{file_id}/{name}", file, methods=["GET"]),
                Route("/respond/{token}", respond, methods=["POST"]),
            ]
        )

    def start(self) -> LocalSlackServer:
        self._server.start()
        self.socket_mode.start()
        self._workspace.public_url = self.base_url
        self._workspace.socket_mode_url = self.socket_mode.issue_url
        return self

    def stop(self) -> None:
        self.socket_mode.stop()
        self._server.stop()

    def __enter__(self) -> LocalSlackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
