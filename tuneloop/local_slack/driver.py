"""Plays Slack toward a Bolt app: people post, react, click, submit and type slash commands.

Each person's action changes the workspace first (a posted message is in the thread before
the app hears of it, as on Slack) and is then delivered to the app's request URL over HTTP,
signed with the app's signing secret, in the body format Slack uses for that kind of request:
JSON for the Events API, `payload=` forms for interactions, plain forms for slash commands.
What the app answers (a modal's validation errors, a command's ephemeral reply) is applied
to the workspace as Slack would apply it.

Over Socket Mode (`socket_mode=` a `SocketModeServer` the app is connected to), the same
payloads go out as envelopes (`events_api`, `interactive`, `slash_commands`) and the app's
acknowledgement (with its payload) stands in for the HTTP response.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx2

from tuneloop.local_slack import payloads
from tuneloop.local_slack.signing import signed_headers
from tuneloop.local_slack.socket_mode import Kind, SocketModeServer
from tuneloop.local_slack.workspace import Json, Workspace

FEEDBACK_TYPE = "feedback_buttons"
#: What an envelope the app never acknowledged reads as (Socket Mode has no HTTP status).
NOT_ACKNOWLEDGED = 504


@dataclass(frozen=True)
class AppResponse:
    """What the app answered one request with."""

    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text.strip().startswith("{") else None


@dataclass
class Said:
    """A message a person posted, and the app's answers to the events it caused."""

    channel: str
    message: Json
    responses: list[AppResponse] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)

    @property
    def ts(self) -> str:
        return str(self.message["ts"])

    @property
    def thread_ts(self) -> str:
        return str(self.message.get("thread_ts") or self.message["ts"])


@dataclass(frozen=True)
class Submitted:
    """A view submission and what became of the view."""

    response: AppResponse
    errors: dict[str, str]

    @property
    def closed(self) -> bool:
        return self.response.status == 200 and not self.errors


class SlackDriver:
    """Sends `workspace`'s people's doings to the app at `app_url` (its /slack/events), or
    over `socket_mode` when given (then `app_url` and `signing_secret` are not used)."""

    def __init__(
        self,
        workspace: Workspace,
        app_url: str = "",
        signing_secret: str = "",
        *,
        http: httpx2.Client | None = None,
        timeout_s: float = 30.0,
        socket_mode: SocketModeServer | None = None,
    ) -> None:
        self.ws = workspace
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.socket_mode = socket_mode
        self.timeout_s = timeout_s
        self._http = http or httpx2.Client(timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    # --- delivery -------------------------------------------------------------------------------
    def send(
        self,
        body: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> AppResponse:
        """POST one signed request (`secret`/`timestamp` let tests forge bad ones)."""
        sent = {
            "Content-Type": content_type,
            **signed_headers(secret or self.signing_secret, body, timestamp=timestamp),
            **(headers or {}),
        }
        answer = self._http.post(self.app_url, content=body, headers=sent)
        return AppResponse(answer.status_code, answer.text)

    def send_envelope(
        self, kind: Kind, payload: Json, *, retry_attempt: int = 0, retry_reason: str = ""
    ) -> AppResponse:
        """Send one Socket Mode envelope and wait for its acknowledgement (or Slack giving up,
        read as `NOT_ACKNOWLEDGED`)."""
        if self.socket_mode is None:
            raise RuntimeError("this driver delivers over HTTP; pass socket_mode= for envelopes")
        delivery = self.socket_mode.deliver(
            kind, payload, retry_attempt=retry_attempt, retry_reason=retry_reason
        )
        ack = delivery.wait(self.timeout_s)
        if ack is None:
            return AppResponse(NOT_ACKNOWLEDGED, delivery.failed or "")
        return AppResponse(200, json.dumps(ack.payload) if ack.payload else "")

    def deliver_event(
        self,
        event: Json,
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        **send_options: Any,
    ) -> tuple[str, AppResponse]:
        """Deliver one event; pass the same `event_id` with `retry_num` to retry it."""
        wrapped = payloads.envelope(self.ws, event, event_id_=event_id)
        if self.socket_mode is not None:
            retry = {
                "retry_attempt": retry_num or 0,
                "retry_reason": retry_reason if retry_num else "",
            }
            return wrapped["event_id"], self.send_envelope("events_api", wrapped, **retry)
        headers = {}
        if retry_num:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        body = json.dumps(wrapped).encode()
        response = self.send(body, "application/json", headers=headers, **send_options)
        return wrapped["event_id"], response

    def _interaction(self, payload: Json) -> AppResponse:
        if self.socket_mode is not None:
            return self.send_envelope("interactive", payload)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.send(body, "application/x-www-form-urlencoded")

    def _response_url(self, channel: str, user: str, thread_ts: str | None = None) -> str:
        token = secrets.token_hex(8)
        with self.ws.changing():
            self.ws.response_urls[token] = {
                "channel": channel,
                "user": user,
                "thread_ts": thread_ts,
            }
        return f"{self.ws.public_url}/respond/{token}"

    # --- conversation ---------------------------------------------------------------------------
    def say(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        files: list[Json] | None = None,
    ) -> Said:
        """Post as `user` (with `files` from `Workspace.upload`); deliver `app_mention` (if
        the bot is mentioned outside a DM) and `message` (if the bot is in the conversation),
        each with its own event id."""
        message = self.ws.post(channel, user=user, text=text, thread_ts=thread_ts, files=files)
        said = Said(channel, message)
        conversation = self.ws.channel(channel)
        if self.ws.bot.user_id in self.ws.mentions(text) and not conversation.is_im:
            event_id, response = self.deliver_event(
                payloads.app_mention_event(self.ws, channel, message)
            )
            said.event_ids.append(event_id)
            said.responses.append(response)
        if self.ws.bot.user_id in conversation.members:
            event_id, response = self.deliver_event(
                payloads.message_event(self.ws, channel, message)
            )
            said.event_ids.append(event_id)
            said.responses.append(response)
        return said

    def delete(self, user: str, channel: str, ts: str) -> AppResponse:
        """`user` deletes their message: Slack removes it (a thread root with replies stays as
        a tombstone) and tells the app with `message_deleted` (or `message_changed`)."""
        message = self.ws.message(channel, ts)
        if message is None or message.get("user") != user:
            raise LookupError(f"{user} has no message {ts} in {channel}")
        previous, tombstoned = self.ws.delete(channel, ts)
        if tombstoned:
            now = self.ws.message(channel, ts) or {}
            event = payloads.message_changed_event(self.ws, channel, now, previous)
        else:
            event = payloads.message_deleted_event(self.ws, channel, previous)
        return self.deliver_event(event)[1]

    def mention(self, user: str, channel: str, text: str, *, thread_ts: str | None = None) -> Said:
        return self.say(user, channel, f"<@{self.ws.bot.user_id}> {text}", thread_ts=thread_ts)

    def dm(self, user: str, text: str, *, thread_ts: str | None = None) -> Said:
        return self.say(user, self.ws.dm_channel(user), text, thread_ts=thread_ts)

    def start_assistant_thread(self, user: str) -> tuple[str, str, AppResponse]:
        """Open the app's agent/DM pane: Slack makes a thread and tells the app."""
        channel = self.ws.dm_channel(user)
        root = self.ws.post(channel, user=self.ws.bot.user_id, text="New chat")
        event = payloads.assistant_thread_started_event(self.ws, user, channel, root["ts"])
        _, response = self.deliver_event(event)
        return channel, root["ts"], response

    def react(self, user: str, channel: str, ts: str, reaction: str) -> AppResponse:
        message = self.ws.add_reaction(channel, ts, user, reaction)
        event = payloads.reaction_added_event(self.ws, user, channel, message, reaction)
        return self.deliver_event(event)[1]

    def open_home(self, user: str) -> AppResponse:
        return self.deliver_event(payloads.app_home_opened_event(self.ws, user))[1]

    # --- interactions ---------------------------------------------------------------------------
    def click_feedback(
        self, user: str, channel: str, message: Json, *, positive: bool
    ) -> AppResponse:
        """Click the thumbs up or down of a message's `feedback_buttons`."""
        for block in message.get("blocks", []):
            for element in block.get("elements", []) if isinstance(block, dict) else []:
                if element.get("type") == FEEDBACK_TYPE:
                    button = element["positive_button" if positive else "negative_button"]
                    action = {
                        "type": FEEDBACK_TYPE,
                        "action_id": element["action_id"],
                        "block_id": block.get("block_id", ""),
                        "value": button["value"],
                        "text": button["text"],
                    }
                    return self._click(user, action, channel=channel, message=message)
        raise LookupError("the message has no feedback buttons")

    def click_button(
        self, user: str, channel: str, message: Json, action_id: str, value: str | None = None
    ) -> AppResponse:
        """Click a button (by action id, and value when several share it) in a message."""
        block, element = _find_button(message.get("blocks", []), action_id, value)
        return self._click(user, _button_action(block, element), channel=channel, message=message)

    def click_in_view(
        self, user: str, view: Json, action_id: str, value: str | None = None
    ) -> AppResponse:
        """Click a button in a modal or on the Home tab."""
        block, element = _find_button(view.get("blocks", []), action_id, value)
        return self._click(user, _button_action(block, element), view=view)

    def _click(
        self,
        user: str,
        action: Json,
        *,
        channel: str | None = None,
        message: Json | None = None,
        view: Json | None = None,
    ) -> AppResponse:
        trigger = self.ws.issue_trigger(user)
        response_url = None
        if channel is not None and message is not None:
            response_url = self._response_url(channel, user, message.get("thread_ts"))
        payload = payloads.block_actions(
            self.ws,
            user,
            action,
            trigger_id=trigger,
            channel_id=channel,
            message=message,
            view=view,
            response_url=response_url,
        )
        return self._interaction(payload)

    def shortcut(self, user: str, channel: str, message: Json, callback_id: str) -> AppResponse:
        """Run a message shortcut on `message`."""
        payload = payloads.message_shortcut(
            self.ws,
            user,
            callback_id,
            channel,
            message,
            trigger_id=self.ws.issue_trigger(user),
            response_url=self._response_url(channel, user, message.get("thread_ts")),
        )
        return self._interaction(payload)

    def submit(self, user: str, view_id: str, values: dict[str, str]) -> Submitted:
        """Submit a modal with `values` by input block id (the text typed into each)."""
        view = self.ws.view(view_id)
        state: dict[str, dict[str, Any]] = {}
        for block in view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block["element"]
            typed = values.get(block["block_id"], element.get("initial_value", ""))
            state[block["block_id"]] = {
                element["action_id"]: {"type": element["type"], "value": typed or None}
            }
        payload = payloads.view_submission(
            self.ws, user, view, state, trigger_id=self.ws.issue_trigger(user)
        )
        response = self._interaction(payload)
        return Submitted(response, self._apply_view_response(user, view_id, response))

    def _apply_view_response(
        self, user: str, view_id: str, response: AppResponse
    ) -> dict[str, str]:
        if response.status != 200:
            return {}
        answer = response.json() or {}
        action = answer.get("response_action")
        if action == "errors":
            errors = dict(answer.get("errors") or {})
            self.ws.set_view_errors(view_id, errors)
            return errors
        if action == "update":
            self.ws.replace_view(view_id, answer["view"])
        elif action == "push":
            self.ws.open_modal(user, answer["view"], push=True)
        else:
            self.ws.close_modal(user, view_id, all_views=action == "clear")
        return {}

    def command(
        self, user: str, channel: str, text: str, *, command: str = "/tuneloop"
    ) -> AppResponse:
        """Type a slash command; the app's immediate answer is shown to the user as Slack
        shows it (ephemeral unless `response_type` is `in_channel`)."""
        form = payloads.slash_command(
            self.ws,
            user,
            channel,
            command,
            text,
            trigger_id=self.ws.issue_trigger(user),
            response_url=self._response_url(channel, user),
        )
        if self.socket_mode is not None:
            response = self.send_envelope("slash_commands", dict(form))
        else:
            response = self.send(urlencode(form).encode(), "application/x-www-form-urlencoded")
        if response.status == 200 and response.text.strip():
            answer = response.json() or {"text": response.text}
            if answer.get("response_type") == "in_channel":
                self.ws.post(channel, user=self.ws.bot.user_id, text=answer.get("text", ""))
            else:
                self.ws.post_ephemeral(
                    channel,
                    user,
                    text=answer.get("text", ""),
                    blocks=answer.get("blocks"),
                    source="command",
                )
        return response


def _find_button(blocks: list[Json], action_id: str, value: str | None) -> tuple[Json, Json]:
    for block in blocks:
        candidates = list(block.get("elements", []))
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if element.get("action_id") == action_id and (
                value is None or element.get("value") == value
            ):
                return block, element
    raise LookupError(f"no button {action_id!r} (value {value!r}) in these blocks")


def _button_action(block: Json, element: Json) -> Json:
    return {
        "type": element.get("type", "button"),
        "action_id": element["action_id"],
        "block_id": block.get("block_id", ""),
        "value": element.get("value"),
        "text": element.get("text"),
    }
