"""Reviewers as a Slack user group: membership read with usergroups.users.list, cached.

Combine with the configured ids: `store = Store.build(db, reviewers=any_of(ids, group))`.
A failed read keeps the last known members (and logs it), so a Slack hiccup neither locks
reviewers out nor lets anyone else in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("tuneloop.bot.reviewers")


class UserGroupReviewers:
    def __init__(
        self,
        client: WebClient,
        usergroup: str,
        *,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._usergroup = usergroup
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._members: frozenset[str] = frozenset()
        self._expires = float("-inf")

    def __call__(self, user_id: str) -> bool:
        return user_id in self.members()

    def members(self) -> frozenset[str]:
        with self._lock:
            if self._clock() < self._expires:
                return self._members
            try:
                answer = self._client.usergroups_users_list(usergroup=self._usergroup)
                self._members = frozenset(answer.get("users") or [])
            except SlackApiError as error:
                log.error(
                    "could not read reviewer group %s: %s",
                    self._usergroup,
                    error.response.get("error"),
                )
            self._expires = self._clock() + self._ttl_s
            return self._members


def any_of(user_ids: Collection[str], *groups: Callable[[str], bool]) -> Callable[[str], bool]:
    """A reviewer policy: listed ids, or members of any of the groups."""
    listed = frozenset(user_ids)

    def is_reviewer(user_id: str) -> bool:
        return user_id in listed or any(group(user_id) for group in groups)

    return is_reviewer
