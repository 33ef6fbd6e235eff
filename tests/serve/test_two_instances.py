"""Two `tuneloop serve` in Socket Mode on one PostgreSQL: Slack spreads events over both
connections and resends some to the other one; each question is answered exactly once, and
what the first leaves unacknowledged when it stops is answered by the second."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.serve.conftest import Serve, exchanges_and_leases
from tuneloop.local_slack import LocalSlackServer, SlackDriver, Workspace, payloads

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres_database_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("several instances share one PostgreSQL database")
    return database_url


def test_two_instances_answer_each_question_exactly_once(
    start_serve: Callable[..., Serve],
    workspace: Workspace,
    slack: LocalSlackServer,
    postgres_database_url: str,
) -> None:
    server = slack.socket_mode
    first = start_serve(postgres_database_url, socket_mode=True)
    second = start_serve(postgres_database_url, socket_mode=True)
    server.wait_for_connections(2)
    alice = workspace.add_user("alice")
    channel = workspace.add_channel("help", members=[alice])
    driver = SlackDriver(workspace, socket_mode=server)
    asked = [driver.mention(alice, channel, f"Question {n} about leave?") for n in range(6)]
    for said in asked:  # Slack resends each event: its acknowledgement was lost, say
        event = payloads.app_mention_event(workspace, said.channel, said.message)
        driver.deliver_event(event, event_id=said.event_ids[0], retry_num=1)
    assert len({ack.connection for ack in server.acks}) == 2  # both instances took events
    first.stop()
    server.wait_until(lambda: server.open_connections() == 1, 10, "the first to disconnect")
    asked += [driver.mention(alice, channel, f"Later question {n}?") for n in range(2)]
    assert first.wait() == 0, first.output
    for said in asked:
        workspace.wait_for_bot_replies(channel, said.ts, timeout=30)
    second.stop()
    assert second.wait() == 0, second.output
    for said in asked:
        assert len(workspace.bot_replies(channel, said.ts)) == 1
    assert exchanges_and_leases(postgres_database_url) == (len(asked), 0)
    driver.close()
