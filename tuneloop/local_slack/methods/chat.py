"""chat.postMessage, chat.update, chat.delete, chat.postEphemeral and conversations.replies."""

from __future__ import annotations

from typing import Any

from tuneloop.local_slack.block_rules import (
    MARKDOWN_TEXT,
    blocks_problems,
    markdown_total,
    stored_blocks,
)
from tuneloop.local_slack.errors import SlackApiFailure
from tuneloop.local_slack.methods.args import Args, cursor_offset
from tuneloop.local_slack.workspace import Workspace, copy_json

MAX_TEXT = 40_000
DEFAULT_REPLIES_LIMIT = 1000


def checked_blocks(args: Args) -> list[dict[str, Any]] | None:
    blocks = args.decoded("blocks")
    if blocks is None:
        return None
    problems = blocks_problems(blocks)
    if problems:
        raise SlackApiFailure("invalid_blocks", messages=[f"[ERROR] {p}" for p in problems])
    if markdown_total(blocks) > MARKDOWN_TEXT:
        raise SlackApiFailure(
            "msg_blocks_too_long",
            messages=[f"[ERROR] markdown blocks may hold {MARKDOWN_TEXT} characters in all"],
        )
    return stored_blocks(blocks)


def _checked_text(args: Args, blocks: list[dict[str, Any]] | None) -> str:
    text = args.text("text")
    if not text and not blocks:
        raise SlackApiFailure("no_text")
    if len(text) > MAX_TEXT:
        raise SlackApiFailure("msg_too_long")
    return text


def post_message(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.resolve_channel(args.text("channel", required=True))
    if ws.bot.user_id not in channel.members:
        raise SlackApiFailure("not_in_channel")
    blocks = checked_blocks(args)
    text = _checked_text(args, blocks)
    message = ws.post(
        channel.id,
        user=ws.bot.user_id,
        text=text,
        thread_ts=args.text("thread_ts") or None,
        blocks=blocks,
        metadata=args.decoded("metadata"),
    )
    return {"channel": channel.id, "ts": message["ts"], "message": message}


def update(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.channel(args.text("channel", required=True))
    ts = args.text("ts", required=True)
    existing = ws.message(channel.id, ts)
    if existing is None:
        raise SlackApiFailure("message_not_found")
    if existing.get("user") != ws.bot.user_id:
        raise SlackApiFailure("cant_update_message")
    blocks = checked_blocks(args)
    text = _checked_text(args, blocks if blocks is not None else existing.get("blocks"))
    changes: dict[str, Any] = {"text": text, "edited": {"user": ws.bot.user_id, "ts": ts}}
    if blocks is not None:
        changes["blocks"] = blocks or None
    message = ws.edit(channel.id, ts, **changes)
    return {"channel": channel.id, "ts": ts, "text": text, "message": message}


def delete(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.channel(args.text("channel", required=True))
    ts = args.text("ts", required=True)
    existing = ws.message(channel.id, ts)
    if existing is None:
        raise SlackApiFailure("message_not_found")
    if existing.get("user") != ws.bot.user_id:
        raise SlackApiFailure("cant_delete_message")
    ws.delete(channel.id, ts)
    return {"channel": channel.id, "ts": ts}


def post_ephemeral(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.resolve_channel(args.text("channel", required=True))
    user = args.text("user", required=True)
    if user not in channel.members:
        raise SlackApiFailure("user_not_in_channel")
    blocks = checked_blocks(args)
    text = _checked_text(args, blocks)
    entry = ws.post_ephemeral(
        channel.id, user, text=text, blocks=blocks, thread_ts=args.text("thread_ts") or None
    )
    return {"message_ts": entry["message_ts"]}


def conversations_replies(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.channel(args.text("channel", required=True))
    if ws.bot.user_id not in channel.members:
        raise SlackApiFailure("not_in_channel")
    ts = args.text("ts", required=True)
    messages = ws.thread(channel.id, ts)
    if not messages:
        raise SlackApiFailure("thread_not_found")
    oldest, latest = args.text("oldest"), args.text("latest")
    inclusive = args.flag("inclusive")

    def within(message: dict[str, Any]) -> bool:
        value = float(message["ts"])
        if oldest and (value < float(oldest) or (value == float(oldest) and not inclusive)):
            return message["ts"] == ts  # the root always comes first, as Slack sends it
        return not (
            latest and (value > float(latest) or (value == float(latest) and not inclusive))
        )

    messages = [m for m in messages if within(m)]
    if not args.flag("include_all_metadata"):
        for message in messages:
            message.pop("metadata", None)
    start = cursor_offset(args.text("cursor"))
    limit = max(1, min(args.number("limit", DEFAULT_REPLIES_LIMIT), 1000))
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    return {
        "messages": copy_json(page),
        "has_more": more,
        "response_metadata": {"next_cursor": f"offset:{start + limit}" if more else ""},
    }


METHODS = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "conversations.replies": conversations_replies,
}
