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
from rich.text import Text

from bot.blocks import ids
from curation.importing import import_seeds
from curation.models import ReviewState
from tuneloop.demo import people
from tuneloop.demo.world import World, build_world
from tuneloop.local_openai import Clock
from tuneloop.terminal import literal, slack_text

if TYPE_CHECKING:
    from scheduler.service import RetrainScheduler

HELP = """Type a question to ask the bot, or a command:
  /up                 thumbs-up the last answer
  /flag               thumbs-down (flag) the last answer
  /correct TEXT       correct the last answer ("Correct this answer" and its modal)
  /queue [more]       the review queue (you are the reviewer), 20 at a time; more: the next 20
  /approve [ID|all]   approve a queued item from App Home, showing what it trains (default: all)
  /approve ID keep    approve one whose reply holds personal data, keeping it
  /retrain [--force]  `/tuneloop retrain`: the background scheduler runs it (--force: even
                      with nothing new to train on)
  /wait               wait until the open retraining run has decided
  /status             `/tuneloop status`
  /help, /quit"""


#: Items on one page of `/queue`.
QUEUE_PAGE = 20
#: What the review queue holds for a reviewer to act on.
QUEUED = (ReviewState.PENDING, ReviewState.NEEDS_EDIT)


@dataclass
class ChatSession:
    """One person's session: the asker of the questions and the reviewer of the answers.

    Everything a person or the model wrote is printed `literal` (never as rich markup), and
    a line that fails says why and leaves the session (and its workspace) running."""

    world: World
    out: Console
    scheduler: RetrainScheduler | None = None
    last: people.Asked | None = None
    _seen: int = field(default=0)
    #: The last review item `/queue` showed, for `/queue more`.
    _queue_after: int | None = None

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
        except Exception as error:  # a bug should not end the session and lose its workspace
            self._say(f"could not do that ({type(error).__name__}): {error}")
        return True

    # --- conversation ------------------------------------------------------------------------
    def _ask(self, question: str) -> None:
        self.last = people.ask(self.world, self.you, question)
        self.out.print(Text("tuneloop> ", style="bold") + literal(self.last.answer))

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
    def _queue(self, more: str) -> None:
        if more not in ("", "more"):
            raise LookupError("/queue shows the first page, /queue more the next one")
        after = self._queue_after if more else None
        if more and after is None:
            raise LookupError("say /queue first")
        review = self.world.store.review
        page = review.list(QUEUED, QUEUE_PAGE, after_id=after)
        counts = review.counts()
        total = sum(counts.get(state.value, 0) for state in QUEUED)
        if not page:
            self._queue_after = None
            self._say("the review queue is empty" if not more else "no more items in the queue")
            return
        for item in page:
            proposed = f" -> {item.correction!r}" if item.correction else ""
            needs_edit = " (needs an edit)" if item.state is ReviewState.NEEDS_EDIT else ""
            self._say(f"#{item.id} {item.kind.value}{needs_edit}: {item.question!r}{proposed}")
        self._queue_after = page[-1].id
        if len(page) == QUEUE_PAGE:
            self._say(f"{total} in the queue; /queue more for the next {QUEUE_PAGE}")

    def _approve(self, which: str) -> None:
        if which in {"", "all"}:
            self._approve_all()
            return
        number, _, option = which.lstrip("#").partition(" ")
        if not number.isdigit():
            raise LookupError(f"/approve takes a review item id (#12), or all, not {which!r}")
        self.world.driver.open_home(self.you)
        self.world.settle()
        self._approve_on_home(int(number), keep=option.strip().lower() == "keep")

    def _approve_all(self) -> None:
        self.world.driver.open_home(self.you)
        self.world.settle()
        approved = 0
        while (value := people.first_approvable(self.world.ws.home_of(self.you) or {})) is not None:
            if not self._approve_on_home(int(value)):
                break  # refused: the Home tab would offer it again
            approved += 1
        self._say(f"approved {approved} item(s) from App Home")
        waiting = [
            item
            for item in self.world.store.review.list(ReviewState.PENDING, 1000)
            if item.correction is not None
        ]
        home = self.world.ws.home_of(self.you) or {}
        personal = [
            item.id
            for item in waiting
            if ids.REVIEW_APPROVE_KEEPING in people.decision_buttons(home, str(item.id))
        ]
        for item_id in personal:
            self._say(
                f"#{item_id}'s reply holds personal data: /approve {item_id} keep approves it "
                "keeping that data, or /correct the answer without it"
            )
        waiting = [item for item in waiting if item.id not in personal]
        if waiting:
            self._say(
                f"{len(waiting)} more correction(s) wait behind the items the Home tab shows "
                f"first (#{waiting[0].id} is the first): decide those (a flag needs an edit: "
                "`tuneloop review edit`), then /approve again"
            )

    def _approve_on_home(self, item_id: int, *, keep: bool = False) -> bool:
        """Show what approving item `item_id` trains, click its Approve button on the Home tab
        (Approve keeping personal data with `keep`), and say how it went; True when approved.

        Raises LookupError when the Home tab offers no such decision."""
        home = self.world.ws.home_of(self.you) or {}
        offered = people.decision_buttons(home, str(item_id))
        if not offered:
            raise LookupError(f"#{item_id} is not in your review queue (/queue lists it)")
        action = ids.REVIEW_APPROVE_KEEPING if keep else ids.REVIEW_APPROVE
        if action not in offered:
            if keep:
                raise LookupError(
                    f"#{item_id}'s reply holds no personal data: use /approve {item_id}"
                )
            raise LookupError(
                f"#{item_id}'s reply holds personal data (the Home tab lists it): "
                f"/approve {item_id} keep approves it keeping that data, "
                "or /correct the answer without it"
            )
        item = self.world.store.review.get(item_id)
        trained = item.correction if item.correction is not None else item.reply
        self._say(f"approving #{item.id}: {item.question!r} -> {trained!r}")
        self.world.driver.click_in_view(self.you, home, action, str(item_id))
        self.world.settle()
        self._ephemerals()
        notice = people.home_notice(self.world.ws.home_of(self.you) or {})
        if notice:
            self.out.print(Text("· ", style="dim") + slack_text(notice))
        now = self.world.store.review.get(item_id)
        if now.state is not ReviewState.APPROVED:
            self._say(f"#{item_id} was not approved (it is {now.state.value})")
            return False
        self._say(f"approved #{item_id} as example {now.example_id}")
        return True

    def _slash(self, text: str) -> None:
        response = self.world.driver.command(self.you, self.world.people.channel, text)
        self.world.settle()
        if response.status != 200:
            self._say(f"/tuneloop {text} failed with HTTP {response.status}")
        self._ephemerals()

    def _retrain(self, rest: str) -> None:
        self._slash(f"retrain {rest}".strip())

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
        self.out.print(Text("· ", style="dim") + literal(text))

    def _ephemerals(self) -> None:
        """What the bot told you privately since last time (confirmations, command answers),
        its Slack mrkdwn shown as Slack would show it."""
        shown = self.world.ws.ephemerals_for(self.you)
        for entry in shown[self._seen :]:
            said = slack_text(entry["text"])
            self.out.print(Text("tuneloop (only you)> ", style="italic") + said)
        self._seen = len(shown)


@contextmanager
def open_chat(
    out: Console,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
    poll_seconds: int = 1,
    socket_mode: bool = False,
) -> Iterator[ChatSession]:
    """A world with the seeds imported and a first model trained, the retraining scheduler
    running in the background, and a session over it (the bot over Socket Mode with
    `socket_mode`, else HTTP)."""
    from tuneloop.wiring import build_retrain_scheduler

    overrides: dict[str, object] = {
        "retrain_interval_minutes": 1,
        "poll_interval_seconds": poll_seconds,
        "scheduler_lease_seconds": 3,
    }
    with build_world(
        database_url=database_url,
        clock=clock,
        settings_overrides=overrides,
        socket_mode=socket_mode,
    ) as world:
        transport = "Socket Mode" if socket_mode else "HTTP"
        out.print(f"The bot hears the local workspace over {transport}.", highlight=False)
        out.print(
            "Setting up: the sample company's seeds (chat always plays with them, whatever "
            "TUNELOOP_SEEDS_DIR says; your team's bot is `tuneloop serve`), then the first "
            "model (export, fine-tune, evaluate, gate)...",
            highlight=False,
        )
        import_seeds(world.db, world.seeds_dir, eval_fraction=0.2)
        report = world.runner.tick(force=True, trigger="manual", requested_by="chat")
        out.print(literal(f"first run: {report.outcome or report.stage}. {report.note}"))
        scheduler = build_retrain_scheduler(world.settings, world.db, runner=world.runner)
        scheduler.start()
        try:
            yield ChatSession(world, out, scheduler)
        finally:
            scheduler.shutdown(wait=True)
