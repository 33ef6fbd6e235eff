"""auth.test, users.info, conversations.info, usergroups.users.list, reactions.add,
conversations.open and conversations.members."""

from __future__ import annotations

from typing import Any

from tuneloop.local_slack.errors import SlackApiFailure
from tuneloop.local_slack.methods.args import Args, cursor_offset
from tuneloop.local_slack.workspace import Workspace


def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_domain,
        "user": ws.bot.name,
        "team_id": ws.team_id,
        "user_id": ws.bot.user_id,
        "bot_id": ws.bot.bot_id,
        "app_id": ws.bot.app_id,
        "is_enterprise_install": False,
    }


def users_info(ws: Workspace, args: Args) -> dict[str, Any]:
    user = ws.users.get(args.text("user", required=True))
    if user is None:
        raise SlackApiFailure("user_not_found")
    return {"user": user}


def conversations_info(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.channel(args.text("channel", required=True))
    return {
        "channel": {
            "id": channel.id,
            "name": channel.name if not channel.is_im else "",
            "is_channel": channel.kind == "channel",
            "is_group": channel.kind == "group",
            "is_im": channel.is_im,
            "is_mpim": channel.kind == "mpim",
            "is_private": channel.kind in ("group", "im", "mpim"),
        }
    }


def usergroups_users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    members = ws.usergroups.get(args.text("usergroup", required=True))
    if members is None:
        raise SlackApiFailure("no_such_subteam")
    return {"users": sorted(members)}


def reactions_add(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = args.text("channel", required=True)
    ts, name = args.text("timestamp", required=True), args.text("name", required=True)
    ws.add_reaction(channel, ts, ws.bot.user_id, name)
    return {}


def conversations_open(ws: Workspace, args: Args) -> dict[str, Any]:
    users = [u for u in args.text("users", required=True).split(",") if u]
    if len(users) != 1:
        raise SlackApiFailure("not_supported")
    channel = ws.dm_channel(users[0])
    return {"channel": {"id": channel, "is_im": True}}


def conversations_members(ws: Workspace, args: Args) -> dict[str, Any]:
    """A conversation's members, a page at a time (Slack's default page is 100, at most
    1,000). As in Slack, a private conversation the bot is not in is `channel_not_found`."""
    channel = ws.channel(args.text("channel", required=True))
    if channel.kind != "channel" and ws.bot.user_id not in channel.members:
        raise SlackApiFailure("channel_not_found")
    members = sorted(channel.members)
    start = cursor_offset(args.text("cursor"))
    limit = max(1, min(args.number("limit", 100), 1000))
    more = start + limit < len(members)
    return {
        "members": members[start : start + limit],
        "response_metadata": {"next_cursor": f"offset:{start + limit}" if more else ""},
    }


METHODS = {
    "auth.test": auth_test,
    "users.info": users_info,
    "conversations.info": conversations_info,
    "usergroups.users.list": usergroups_users_list,
    "reactions.add": reactions_add,
    "conversations.open": conversations_open,
    "conversations.members": conversations_members,
}
