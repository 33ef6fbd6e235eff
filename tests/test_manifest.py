"""manifest.yaml: valid against Slack's published manifest schema, and in step with the bot
(the command, shortcut, events, scopes and request URLs the code relies on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.asgi import EVENTS_PATH
from bot.blocks import ids
from bot.config import BotConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST = REPO_ROOT / "manifest.yaml"
SCHEMA = Path(REPO_ROOT).parent / "shared" / "slack-manifest-schema" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_the_manifest_matches_slacks_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack's manifest schema is not here ({SCHEMA}); it comes with ../shared")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(manifest)
    ]
    assert problems == []


def test_the_manifest_declares_what_the_bot_listens_to(manifest: dict[str, Any]) -> None:
    features, settings = manifest["features"], manifest["settings"]
    [command] = features["slash_commands"]
    assert command["command"] == "/tuneloop"
    [shortcut] = features["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", ids.CORRECTION_SHORTCUT)
    assert shortcut["name"] == "Correct this answer"
    events = set(settings["event_subscriptions"]["bot_events"])
    assert {
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
        "reaction_added",
        "app_home_opened",
        "assistant_thread_started",
    } <= events
    assert features["app_home"]["home_tab_enabled"] and features["app_home"]["messages_tab_enabled"]
    assert settings["interactivity"]["is_enabled"]


def test_every_request_url_is_the_bots_events_path(manifest: dict[str, Any]) -> None:
    urls = [
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
        manifest["features"]["slash_commands"][0]["url"],
    ]
    assert all(url.endswith(EVENTS_PATH) for url in urls)


def test_the_manifest_grants_the_scopes_the_bot_uses(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {
        "app_mentions:read",
        "chat:write",
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
        "commands",
        "reactions:read",
        "usergroups:read",
        "assistant:write",
        # conversations.members: the correction modal opens for members of the conversation
        "channels:read",
        "groups:read",
        "im:read",
        "mpim:read",
    }
    assert needed <= scopes


def test_the_manifests_suggested_prompts_are_the_bots(manifest: dict[str, Any]) -> None:
    prompts = manifest["features"]["assistant_view"]["suggested_prompts"]
    assert [(p["title"], p["message"]) for p in prompts] == list(BotConfig().suggested_prompts)
