"""views.open, views.push, views.update and views.publish, with Slack's view limits."""

from __future__ import annotations

from typing import Any

from tuneloop.local_slack.block_rules import view_problems
from tuneloop.local_slack.errors import SlackApiFailure
from tuneloop.local_slack.methods.args import Args
from tuneloop.local_slack.workspace import Workspace


def _checked_view(args: Args, kind: str) -> dict[str, Any]:
    view = args.decoded("view")
    problems = view_problems(view)
    if not problems and view.get("type") != kind:
        problems = [f"must be {kind} [json-pointer:/view/type]"]
    if problems:
        raise SlackApiFailure("invalid_arguments", messages=[f"[ERROR] {p}" for p in problems])
    return view


def open_view(ws: Workspace, args: Args) -> dict[str, Any]:
    user = ws.take_trigger(args.text("trigger_id", required=True))
    return {"view": ws.open_modal(user, _checked_view(args, "modal"))}


def push_view(ws: Workspace, args: Args) -> dict[str, Any]:
    user = ws.take_trigger(args.text("trigger_id", required=True))
    return {"view": ws.open_modal(user, _checked_view(args, "modal"), push=True)}


def update_view(ws: Workspace, args: Args) -> dict[str, Any]:
    view_id = args.text("view_id")
    if not view_id:
        external = args.text("external_id", required=True)
        view_id = next((v["id"] for v in ws.views.values() if v.get("external_id") == external), "")
    if view_id not in ws.views:
        raise SlackApiFailure("not_found")
    expected = args.text("hash")
    if expected and ws.views[view_id].get("hash") != expected:
        raise SlackApiFailure("hash_conflict")
    kind = ws.views[view_id].get("type", "modal")
    return {"view": ws.replace_view(view_id, _checked_view(args, kind))}


def publish(ws: Workspace, args: Args) -> dict[str, Any]:
    user = args.text("user_id", required=True)
    return {"view": ws.publish_home(user, _checked_view(args, "home"))}


METHODS = {
    "views.open": open_view,
    "views.push": push_view,
    "views.update": update_view,
    "views.publish": publish,
}
