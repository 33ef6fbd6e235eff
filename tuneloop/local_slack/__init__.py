"""A local Slack workspace: a stateful Web API stub on localhost and a driver that plays Slack.

The bot's real `slack_sdk.WebClient` talks to `LocalSlackServer` (point `SLACK_API_URL` at its
`api_url`); `SlackDriver` sends the real Bolt app signed events, actions, shortcuts, view
submissions and slash commands as Slack would, over HTTP or over Socket Mode
(`LocalSlackServer.socket_mode`, a `SocketModeServer` the app connects to with
`apps.connections.open`). Tests, `tuneloop chat` and `tuneloop demo` use this one workspace.
It is a stand-in for development, demos and tests, not Slack.
"""

from tuneloop.local_slack.driver import AppResponse, Said, SlackDriver, Submitted
from tuneloop.local_slack.errors import SlackApiFailure
from tuneloop.local_slack.faults import SlackFaults
from tuneloop.local_slack.server import LocalSlackServer
from tuneloop.local_slack.signing import signed_headers
from tuneloop.local_slack.socket_mode import SocketModeServer
from tuneloop.local_slack.workspace import ApiCall, BotIdentity, Channel, Workspace

__all__ = [
    "ApiCall",
    "AppResponse",
    "BotIdentity",
    "Channel",
    "LocalSlackServer",
    "Said",
    "SlackApiFailure",
    "SlackDriver",
    "SlackFaults",
    "SocketModeServer",
    "Submitted",
    "Workspace",
    "signed_headers",
]
