"""Decisions posted to the review channel; reviewers from a Slack user group."""

from __future__ import annotations

import logging

import pytest
from slack_sdk import WebClient

from bot.notify import SlackDecisionNotifier
from bot.reviewers import UserGroupReviewers, any_of
from tuneloop.local_slack import LocalSlackServer, Workspace


@pytest.fixture
def workspace(slack_server: LocalSlackServer) -> Workspace:
    ws = Workspace()
    slack_server.workspace = ws
    return ws


@pytest.fixture
def client(workspace: Workspace, slack_server: LocalSlackServer) -> WebClient:
    return WebClient(token=workspace.bot.token, base_url=slack_server.api_url)


def test_a_decision_is_posted_with_its_key_numbers(workspace: Workspace, client: WebClient) -> None:
    channel = workspace.add_channel("tuneloop-review")
    decision = {
        "cycle_id": 4,
        "outcome": "promoted",
        "note": "the candidate beat the served model",
        "candidate": "ft:gpt-4.1-mini-2025-04-14:local:tuneloop:abc",
        "incumbent": "gpt-4.1-mini-2025-04-14",
        "verdict": "better",
        "numbers": {"candidate_score": 0.8123, "incumbent_score": 0.61, "eval_items": 42},
    }
    assert SlackDecisionNotifier(client, channel).notify(decision)
    [message] = workspace.history(channel)
    assert message["text"].startswith("Retraining promoted for ft:gpt-4.1-mini")
    header, body, numbers, _ = message["blocks"]
    assert header["text"]["text"] == "Retraining cycle 4: promoted"
    assert "ft:gpt-4.1-mini-2025-04-14:local:tuneloop:abc" in body["text"]["text"]
    assert "*candidate score*\n0.8123" in [f["text"] for f in numbers["fields"]]


def test_a_failed_notification_is_logged_not_raised(
    workspace: Workspace, client: WebClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert not SlackDecisionNotifier(client, "CNOSUCHCHANNEL").notify({"outcome": "failed"})
    assert any("channel_not_found" in r.getMessage() for r in caplog.records)
    assert [r.levelno for r in caplog.records] == [logging.ERROR]


def test_reviewers_can_be_a_user_group(workspace: Workspace, client: WebClient) -> None:
    rita, bob = workspace.add_user("rita"), workspace.add_user("bob")
    group = workspace.add_usergroup("reviewers", [rita])
    now = [0.0]
    members = UserGroupReviewers(client, group, ttl_s=60, clock=lambda: now[0])
    is_reviewer = any_of(["UFIXED"], members)
    assert is_reviewer(rita) and is_reviewer("UFIXED") and not is_reviewer(bob)
    workspace.usergroups[group].add(bob)
    assert not is_reviewer(bob)  # cached
    now[0] = 61
    assert is_reviewer(bob)
    workspace.faults.fail_next("usergroups.users.list", "ratelimited")
    now[0] = 200
    assert is_reviewer(rita)  # a failed read keeps the last members
    assert len(workspace.calls_to("usergroups.users.list")) == 3
