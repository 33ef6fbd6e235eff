"""A terminal session in the local workspace. What you type goes to the real Bolt app as a
Slack mention; the commands click the real buttons, fill the real modals and type the real
`/tuneloop` slash command, as the demo's people do. You are also the reviewer, so you can
approve your own corrections from the App Home tab and ask for a retrain; the scheduler runs
in the background and picks the run up within a second or two."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console

from bot.blocks import ids
from curation.importing import import_seeds
from curation.models import ReviewState
from tuneloop.demo import people
from tuneloop.demo.world import World, build_world
from tuneloop.local_openai import Clock

if TYPE_CHECKING:
    from scheduler.service import RetrainScheduler

HELP = """Type a question to ask the bot, or a command:
  /up                 thumbs-up the last answer
  /flag               thumbs-down (flag) the last answer
  /correct TEXT       correct the last answer ("Correct this answer" and its modal)
  /queue              the review queue on your App Home tab (you are the reviewer)
  /approve [ID|all]   approve a queued correction from App Home (default: all)
  /approve ID keep    approve one whose reply holds personal data, keeping it
  /retrain            `/tuneloop retrain`: the background scheduler runs it
  /wait               wait until the open retraining run has decided
  /status             `/tuneloop status`
  /help, /quit"""


@dataclass
class ChatSession:
    world: World
    out: Console
    scheduler: RetrainScheduler | None = None
    last: people.Asked | None = None
    _seen: int = field(default=0)

    @property
    def you(self) -> str:
        return self.world.people.reviewer

    def run(self, lines: Iterable[str]) -> None:
        """Handle each line until `/quit` or the end of input."""
        self.out.print(HELP, highlight=False, markup=False)
        for line in lines:
            if not self.handle(line.strip()):
                return

    def handle(self, line: str) -> bool:
        """One line; False when the session should end."""
        if not line:
            return True
        if not line.startswith("/"):
            self._ask(line)
            return True
        verb, _, rest = line[1:].partition(" ")
        action = {
            "up": self._up,
            "flag": self._flag,
            "correct": self._correct,
            "queue": self._queue,
            "approve": self._approve,
            "retrain": self._retrain,
            "wait": self._wait,
            "status": self._status,
            "help": lambda _: self.out.print(HELP, highlight=False, markup=False),
        }.get(verb.lower())
        if verb.lower() in {"quit", "exit"}:
            return False
        if action is None:
            self._say(f"unknown command /{verb}; /help lists them")
            return True
        try:
            action(rest.strip())
        except (LookupError, RuntimeError, TimeoutError) as error:
            self._say(f"could not do that: {error}")
        return True

    # --- conversation ------------------------------------------------------------------------
    def _ask(self, question: str) -> None:
        self.last = people.ask(self.world, self.you, question)
        self.out.print(f"[bold]tuneloop>[/] {self.last.answer}", highlight=False)

    def _needs_answer(self) -> people.Asked:
        if self.last is None:
            raise LookupError("ask the bot something first")
        return self.last

    def _up(self, _: str) -> None:
        people.thumbs_up(self.world, self.you, self._needs_answer())
        self._say("👍 recorded")
        self._ephemerals()

    def _flag(self, _: str) -> None:
        people.thumbs_down(self.world, self.you, self._needs_answer())
        self._say("👎 recorded: the answer is flagged for review")
        self._ephemerals()

    def _correct(self, text: str) -> None:
        if not text:
            raise LookupError("write the corrected answer after /correct")
        people.correct(self.world, self.you, self._needs_answer(), text)
        self._ephemerals()

    # --- reviewing and retraining --------------------------------------------------------------
    def _queue(self, _: str) -> None:
        review = self.world.store.review
        pending = review.list(ReviewState.PENDING, 20) + review.list(ReviewState.NEEDS_EDIT, 20)
        if not pending:
            self._say("the review queue is empty")
        for item in pending:
            proposed = f" -> {item.correction!r}" if item.correction else ""
            self._say(f"#{item.id} {item.kind.value}: {item.question!r}{proposed}")

    def _approve(self, which: str) -> None:
        if which in {"", "all"}:
            count = people.approve_all(self.world, self.you)
            self._say(f"approved {count} item(s) from App Home")
            return
        number, _, option = which.lstrip("#").partition(" ")
        keep = option.strip().lower() == "keep"
        self.world.driver.open_home(self.you)
        self.world.settle()
        home = self.world.ws.home_of(self.you) or {}
        offered = people.decision_buttons(home, number)
        if not offered:
            raise LookupError(f"#{number} is not in your review queue (/queue lists it)")
        action = ids.REVIEW_APPROVE_KEEPING if keep else ids.REVIEW_APPROVE
        if action not in offered:
            if keep:
                raise LookupError(
                    f"#{number}'s reply holds no personal data: use /approve {number}"
                )
            raise LookupError(
                f"#{number}'s reply holds personal data (the Home tab lists it): "
                f"/approve {number} keep approves it keeping that data, "
                "or /correct the answer without it"
            )
        self.world.driver.click_in_view(self.you, home, action, number)
        self.world.settle()
        self._say(people.home_notice(self.world.ws.home_of(self.you) or {}) or "done")

    def _slash(self, text: str) -> None:
        response = self.world.driver.command(self.you, self.world.people.channel, text)
        self.world.settle()
        if response.status != 200:
            self._say(f"/tuneloop {text} failed with HTTP {response.status}")
        self._ephemerals()

    def _retrain(self, _: str) -> None:
        self._slash("retrain")

    def _status(self, _: str) -> None:
        self._slash("status")

    def _wait(self, _: str, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.world.runner.open_cycle() is not None:
            if time.monotonic() > deadline:
                raise TimeoutError("the run is still open; try /wait again")
            time.sleep(0.1)
        self._say("no run open")
        self._slash("status")

    # --- output --------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.out.print(f"[dim]·[/] {text}", highlight=False)

    def _ephemerals(self) -> None:
        """What the bot told you privately since last time (confirmations, command answers)."""
        shown = self.world.ws.ephemerals_for(self.you)
        for entry in shown[self._seen :]:
            self.out.print(f"[italic]tuneloop (only you)>[/] {entry['text']}", highlight=False)
        self._seen = len(shown)


@contextmanager
def open_chat(
    out: Console,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
    poll_seconds: int = 1,
) -> Iterator[ChatSession]:
    """A world with the seeds imported and a first model trained, the retraining scheduler
    running in the background, and a session over it."""
    from tuneloop.wiring import build_retrain_scheduler

    overrides: dict[str, object] = {
        "retrain_interval_minutes": 1,
        "poll_interval_seconds": poll_seconds,
        "scheduler_lease_seconds": 3,
    }
    with build_world(database_url=database_url, clock=clock, settings_overrides=overrides) as world:
        out.print("Setting up: seeds, then the first model (export, fine-tune, evaluate, gate)...")
        import_seeds(world.db, world.settings.seeds_dir, eval_fraction=0.2)
        report = world.runner.tick(force=True, trigger="manual", requested_by="chat")
        out.print(f"first run: {report.outcome or report.stage}. {report.note}", highlight=False)
        scheduler = build_retrain_scheduler(world.settings, world.db, runner=world.runner)
        scheduler.start()
        try:
            yield ChatSession(world, out, scheduler)
        finally:
            scheduler.shutdown(wait=True)
