"""The error a Web API method answers with: `{"ok": false, "error": "..."}`, as Slack does."""

from __future__ import annotations


class SlackApiFailure(Exception):
    """A Web API method refused the call. `messages` go into `response_metadata.messages`
    (Slack explains `invalid_blocks` there); `status` is the HTTP status (429 for rate limits)."""

    def __init__(
        self,
        error: str,
        *,
        messages: list[str] | None = None,
        status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.status = status
        self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body
