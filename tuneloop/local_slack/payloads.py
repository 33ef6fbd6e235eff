"""The bodies Slack sends an app: Events API envelopes, interaction payloads, slash commands.

Shapes follow Slack's documentation of each payload (only fields an app can rely on).
"""

from __future__ import annotations

import time
from typing import Any

from tuneloop.local_slack.ids import slack_id
from tuneloop.local_slack.workspace import Json, Workspace


def event_id() -> str:
    return slack_id("Ev", 12)


def envelope(ws: Workspace, event: Json, *, event_id_: str | None = None) -> Json:
    """An `event_callback` envelope around one event."""
    return {
        "token": "local-verification-token",
        "team_id": ws.team_id,
        "api_app_id": ws.bot.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id_ or event_id(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot.user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": slack_id("4-", 20),
    }


def _channel_type(ws: Workspace, channel_id: str) -> str:
    return {"channel": "channel", "group": "group", "im": "im", "mpim": "mpim"}[
        ws.channel(channel_id).kind
    ]


def message_event(ws: Workspace, channel_id: str, message: Json) -> Json:
    event = {
        **{k: v for k, v in message.items() if k not in ("reply_count", "latest_reply")},
        "channel": channel_id,
        "event_ts": message["ts"],
        "channel_type": _channel_type(ws, channel_id),
    }
    return event


def message_deleted_event(ws: Workspace, channel_id: str, previous: Json) -> Json:
    """`message` with subtype `message_deleted`: `deleted_ts` names the message that went."""
    event: Json = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": channel_id,
        "ts": ws.next_ts(),
        "deleted_ts": previous["ts"],
        "previous_message": previous,
        "channel_type": _channel_type(ws, channel_id),
    }
    if previous.get("thread_ts"):
        event["thread_ts"] = previous["thread_ts"]
    event["event_ts"] = event["ts"]
    return event


def message_changed_event(ws: Workspace, channel_id: str, message: Json, previous: Json) -> Json:
    """`message` with subtype `message_changed` (an edit, or a root deleted with replies
    left: the new message is a `tombstone`)."""
    ts = ws.next_ts()
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": channel_id,
        "ts": ts,
        "event_ts": ts,
        "message": message,
        "previous_message": previous,
        "channel_type": _channel_type(ws, channel_id),
    }


def app_mention_event(ws: Workspace, channel_id: str, message: Json) -> Json:
    event = {
        "type": "app_mention",
        "user": message["user"],
        "text": message["text"],
        "ts": message["ts"],
        "team": message.get("team", ws.team_id),
        "channel": channel_id,
        "event_ts": message["ts"],
    }
    for key in ("thread_ts", "files", "user_team"):
        if message.get(key):
            event[key] = message[key]
    return event


def reaction_added_event(
    ws: Workspace, user: str, channel_id: str, message: Json, reaction: str
) -> Json:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item_user": message.get("user"),
        "item": {"type": "message", "channel": channel_id, "ts": message["ts"]},
        "event_ts": f"{time.time():.6f}",
    }


def app_home_opened_event(ws: Workspace, user: str, tab: str = "home") -> Json:
    event: Json = {
        "type": "app_home_opened",
        "user": user,
        "channel": ws.dm_channel(user),
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    home = ws.home_of(user)
    if tab == "home" and home is not None:
        event["view"] = home
    return event


def assistant_thread_started_event(ws: Workspace, user: str, channel_id: str, ts: str) -> Json:
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {},
            "channel_id": channel_id,
            "thread_ts": ts,
        },
        "event_ts": f"{time.time():.6f}",
    }


def user_ref(ws: Workspace, user: str) -> Json:
    name = ws.users.get(user, {}).get("name", user)
    return {"id": user, "username": name, "name": name, "team_id": ws.team_id}


def _base(ws: Workspace, kind: str, user: str, trigger_id: str) -> Json:
    return {
        "type": kind,
        "user": user_ref(ws, user),
        "api_app_id": ws.bot.app_id,
        "token": "local-verification-token",
        "trigger_id": trigger_id,
        "team": {"id": ws.team_id, "domain": ws.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def block_actions(
    ws: Workspace,
    user: str,
    action: Json,
    *,
    trigger_id: str,
    channel_id: str | None = None,
    message: Json | None = None,
    view: Json | None = None,
    response_url: str | None = None,
) -> Json:
    payload = _base(ws, "block_actions", user, trigger_id)
    action = {**action, "action_ts": f"{time.time():.6f}"}
    if message is not None and channel_id is not None:
        container: Json = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        payload.update(
            container=container,
            channel={"id": channel_id, "name": ws.channel(channel_id).name},
            message=message,
            response_url=response_url,
            state={"values": {}},
        )
    elif view is not None:
        payload.update(
            container={"type": "view", "view_id": view["id"]},
            view=view,
            state=view.get("state", {"values": {}}),
        )
    payload["actions"] = [action]
    return payload


def message_shortcut(
    ws: Workspace,
    user: str,
    callback_id: str,
    channel_id: str,
    message: Json,
    *,
    trigger_id: str,
    response_url: str,
) -> Json:
    payload = _base(ws, "message_action", user, trigger_id)
    payload.update(
        callback_id=callback_id,
        action_ts=f"{time.time():.6f}",
        message_ts=message["ts"],
        channel={"id": channel_id, "name": ws.channel(channel_id).name},
        message=message,
        response_url=response_url,
    )
    return payload


def view_submission(
    ws: Workspace, user: str, view: Json, values: dict[str, dict[str, Any]], *, trigger_id: str
) -> Json:
    payload = _base(ws, "view_submission", user, trigger_id)
    submitted = {**view, "state": {"values": values}}
    payload.update(view=submitted, response_urls=[])
    return payload


def slash_command(
    ws: Workspace,
    user: str,
    channel_id: str,
    command: str,
    text: str,
    *,
    trigger_id: str,
    response_url: str,
) -> dict[str, str]:
    return {
        "token": "local-verification-token",
        "team_id": ws.team_id,
        "team_domain": ws.team_domain,
        "channel_id": channel_id,
        "channel_name": ws.channel(channel_id).name,
        "user_id": user,
        "user_name": ws.users.get(user, {}).get("name", user),
        "command": command,
        "text": text,
        "api_app_id": ws.bot.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
