"""Test doubles: a scripted chat model (real SDK over an httpx2 mock transport), a switchable
active model and a recording retraining control. Fakes live only here, never in bot/."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from bot.control import ControlError

Reply = str | Exception | Callable[[dict[str, Any]], str]


class ScriptedModel:
    """An OpenAI-compatible chat endpoint that streams the replies a test scripts.

    `reply` is the text to stream, an exception to raise inside the transport (httpx2
    timeouts become the SDK's APITimeoutError), or a function of the request body. Requests
    are kept, so tests can see the prompt that was sent. `gate`, when set, holds every
    request until it is opened.
    """

    def __init__(self, reply: Reply = "Scripted answer.") -> None:
        self.reply: Reply = reply
        self.requests: list[dict[str, Any]] = []
        self.gate: threading.Event | None = None
        self.waiting = threading.Semaphore(0)
        self._lock = threading.Lock()

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        with self._lock:
            self.requests.append(body)
        if self.gate is not None:
            self.waiting.release()
            self.gate.wait(30)
        reply = self.reply
        if isinstance(reply, Exception):
            raise reply
        text = reply(body) if callable(reply) else reply
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=_sse(body, text)
        )

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(
            api_key="test",
            base_url="http://scripted.invalid/v1",
            http_client=httpx2.Client(transport=httpx2.MockTransport(self.handle)),
            max_retries=0,
        )


def _sse(body: dict[str, Any], text: str) -> bytes:
    words = [text[i : i + 40] for i in range(0, len(text), 40)] or [""]
    base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0}
    base["model"] = body["model"]
    events = []
    for piece in words:
        delta = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
        events.append({**base, "choices": [delta]})
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    events.append({**base, "choices": [], "usage": usage})
    lines = [f"data: {json.dumps(event)}\n\n" for event in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


class ActiveModel:
    """The active-model lookup: counts its calls; tests "promote" by setting `value`."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.value


@dataclass
class RecordingControl:
    """A `RetrainingControl` that records what it was asked and answers from its fields."""

    active: ActiveModel
    available: bool = True
    decision: Mapping[str, Any] | None = None
    approved: int = 0
    requests: list[tuple[str, ...]] = field(default_factory=list)
    refuse_with: str | None = None

    def status(self) -> Mapping[str, Any]:
        return {"active_model": self.active(), "available": self.available, "state": "idle"}

    def _maybe_refuse(self) -> None:
        if self.refuse_with:
            raise ControlError(self.refuse_with)

    def request_retrain(self, actor: str, *, force: bool = False) -> str:
        self._maybe_refuse()
        self.requests.append(("retrain", actor, *(["--force"] if force else [])))
        return "A retraining cycle will start within a minute."

    def promote(self, model: str, actor: str, reason: str, *, force: bool = False) -> str:
        self._maybe_refuse()
        self.requests.append(("promote", model, actor, reason, *(["--force"] if force else [])))
        self.active.value = model
        return f"{model} is now the active model."

    def rollback(self, actor: str, reason: str) -> str:
        self._maybe_refuse()
        self.requests.append(("rollback", actor, reason))
        return "Rolled back."

    def last_decision(self) -> Mapping[str, Any] | None:
        return self.decision

    def approved_since_last_training(self) -> int:
        return self.approved
