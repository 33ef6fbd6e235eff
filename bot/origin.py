"""Only this app's requests from this workspace are served; others are acknowledged and ignored.

A request signed with this app's signing secret comes from this app, but an app can be
installed in more than one workspace (or its signing secret shared by mistake with another
app): the bot's token, store and reviewers belong to one workspace, so an event, click or
command of another team id or `api_app_id` is answered 200 (Slack does not retry it) and
dropped. The expected ids are the bot token's, from `auth.test` (asked once, on the first
request that carries an id), unless the composition root passes them (TUNELOOP_SLACK_TEAM_ID,
TUNELOOP_SLACK_APP_ID). For an org-wide install on Enterprise Grid the team id may be the
org's (`E...`): a request matches when its team id or its enterprise id is the expected one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

log = logging.getLogger("tuneloop.bot.origin")


@dataclass(frozen=True)
class AppIdentity:
    """The team (workspace or org) and app whose requests this bot serves; None: any."""

    team_id: str | None = None
    app_id: str | None = None


class ExpectedOrigin:
    """The ids to match, given or learned from `auth.test` with the bot's client."""

    def __init__(self, given: AppIdentity | None = None) -> None:
        self._given = given or AppIdentity()
        self._learned: AppIdentity | None = None
        self._lock = threading.Lock()

    def identity(self, client: WebClient) -> AppIdentity:
        """The expected ids; those not given are asked of `auth.test` once (if it fails, they
        stay unknown for this request and are asked again on the next)."""
        given = self._given
        if given.team_id and given.app_id:
            return given
        with self._lock:
            if self._learned is None:
                try:
                    answer = client.auth_test()
                except (SlackClientError, OSError) as error:  # refused, or Slack unreachable
                    log.warning("auth.test failed (%s); request origin not checked", error)
                    return given
                self._learned = AppIdentity(
                    team_id=answer.get("enterprise_id")
                    if answer.get("is_enterprise_install")
                    else answer.get("team_id"),
                    app_id=answer.get("app_id"),
                )
            learned = self._learned
        return AppIdentity(given.team_id or learned.team_id, given.app_id or learned.app_id)


def origin_middleware(expected: ExpectedOrigin) -> Callable[..., BoltResponse | None]:
    """A Bolt global middleware that ignores requests of another team or app (see module)."""

    def ignore_other_origins(
        req: BoltRequest, context: BoltContext, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        app_id = _id(req.body.get("api_app_id"))
        teams = {_id(context.team_id), _id(context.enterprise_id)} - {None}
        if not app_id and not teams:
            return next()  # url_verification and the like carry no ids
        wanted = expected.identity(context.client)
        foreign_app = bool(wanted.app_id and app_id and app_id != wanted.app_id)
        foreign_team = bool(wanted.team_id and teams and wanted.team_id not in teams)
        if foreign_app or foreign_team:
            log.info(
                "ignored a request of team %.20s app %.20s (serving team %s, app %s)",
                context.team_id,
                app_id,
                wanted.team_id,
                wanted.app_id,
            )
            return BoltResponse(status=200, body="")
        return next()

    return ignore_other_origins


def _id(value: object) -> str | None:
    """A Slack id as sent, or None when the field is absent or not a string."""
    return value if isinstance(value, str) and value else None
