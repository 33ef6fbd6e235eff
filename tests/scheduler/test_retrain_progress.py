"""`tuneloop retrain --wait` shows the run as it goes, through the real CLI against the
OpenAI stand-in: the fine-tuning job's step and loss, the evaluation's items, the decision and
its reason; with --json, stdout holds only the JSON."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner

from curation.db import Database
from curation.models import Split
from curation.models.base import utcnow
from scheduler.cycle import status
from scheduler.cycle.status import evaluation_progress
from scheduler.evaluation import Evaluator
from scheduler.records import EvalItem, SchedulerLease
from tests.scheduler.conftest import FAQ
from tests.scheduler.helpers import add_examples, golden_pairs, held_out_pairs
from tests.scheduler.test_cli import env  # noqa: F401  (the CLI's environment)
from tuneloop import provider
from tuneloop.cli import app, scheduler_commands
from tuneloop.local_openai import LocalOpenAI
from tuneloop.local_openai.clock import DEFAULT_MANUAL_START

runner = CliRunner()


class SteppingClock:
    """Time that moves `step` seconds each time it is read: every look at a job finds it a
    little further on, so a wait loop sees each stage and several training steps in turn,
    the same ones on every run."""

    def __init__(self, step: float, stage_seconds: float = 1.0) -> None:
        self._now = DEFAULT_MANUAL_START
        self._step = step
        self._stage_seconds = stage_seconds

    @property
    def stage_seconds(self) -> float:
        return self._stage_seconds

    def now(self) -> float:
        self._now += self._step
        return self._now


@pytest.fixture
def stepping_stand_in(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """The process's stand-in for the CLI's data folder, on a stepping clock."""
    folder = (tmp_path / "data" / "local-openai").resolve()
    stand_in = LocalOpenAI(folder, clock=SteppingClock(0.05))
    monkeypatch.setitem(provider._instances, folder, stand_in)


def seed(db: Database) -> None:
    """12 training examples; 24 evaluation items (more than one commit of results)."""
    add_examples(db, FAQ, split=Split.TRAIN, thread_prefix="train")
    add_examples(db, golden_pairs(FAQ), golden=True, thread_prefix="golden")
    add_examples(db, held_out_pairs(FAQ), split=Split.EVAL, thread_prefix="held")


def test_wait_shows_training_steps_evaluation_items_and_the_decision(
    stepping_stand_in: None, db: Database
) -> None:
    seed(db)
    result = runner.invoke(app, ["retrain", "--now", "--wait", "--poll-seconds", "0"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    training = [line for line in lines if re.search(r": running \(step \d+/36, loss \d", line)]
    assert len(training) >= 2, result.output  # the job's progress, step by step
    steps = [int(re.search(r"step (\d+)/", line)[1]) for line in training]
    assert steps == sorted(set(steps))
    assert "cycle 1: evaluating: 20/24 items" in lines
    assert "cycle 1: evaluating: 24/24 items" in lines
    assert lines.index("cycle 1: evaluating: 20/24 items") > lines.index(training[-1])
    end = next(i for i, line in enumerate(lines) if line.startswith("cycle 1: promoted."))
    assert lines[end + 1].startswith("decision: promote ft:")
    assert lines[end + 2].startswith("  promote: ")  # the gate's reason, in its words
    assert "Traceback" not in result.output


def test_json_stays_quiet_and_carries_the_decision(stepping_stand_in: None, db: Database) -> None:
    seed(db)
    result = runner.invoke(app, ["retrain", "--now", "--wait", "--json", "--poll-seconds", "0"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert report["outcome"] == "promoted"
    decision = report["decision"]
    assert decision["verdict"] == "promote" and decision["reason"].startswith("promote: ")
    assert decision["numbers"]["answered"] == 24
    assert result.stderr == ""  # not a terminal: no progress anywhere


def test_on_a_terminal_the_display_is_live(
    stepping_stand_in: None, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db)
    terminal = Console(force_terminal=True, width=160, soft_wrap=True, emoji=False)
    monkeypatch.setattr(scheduler_commands, "console", terminal)
    result = runner.invoke(app, ["retrain", "--now", "--wait", "--poll-seconds", "0"])
    assert result.exit_code == 0, result.output
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.output)  # the redraws' escapes
    assert re.search(r"running \(step \d+/36, loss", shown)
    assert "20/24 items" in shown and "24/24 items" in shown
    assert "decision: promote ft:" in shown


def test_following_another_process_shows_the_evaluation_it_stores(
    stepping_stand_in: None, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db)
    original = Evaluator._store

    def store_then_die(self: Evaluator, eval_run_id: int, results: list, into: Database) -> None:
        if results and count(db, EvalItem) >= 20:
            raise RuntimeError("killed while evaluating")
        original(self, eval_run_id, results, into)

    monkeypatch.setattr(Evaluator, "_store", store_then_die)
    crashed = runner.invoke(app, ["retrain", "--now", "--wait", "--poll-seconds", "0"])
    assert isinstance(crashed.exception, RuntimeError), crashed.output
    monkeypatch.setattr(Evaluator, "_store", original)
    assert count(db, EvalItem) == 20
    # Another scheduler leads (on another host) for a moment: this command follows it, then
    # takes the run over when its lease runs out, and finishes the evaluation.
    with db.session() as session:
        session.merge(
            SchedulerLease(
                name="scheduler",
                holder="elsewhere:1:cafe",
                expires_at=utcnow() + timedelta(seconds=1),
            )
        )
    read: list[dict | None] = []

    def spied(db: Database, cycle_id: int) -> dict | None:
        read.append(evaluation_progress(db, cycle_id))
        return read[-1]

    monkeypatch.setattr(status, "evaluation_progress", spied)
    result = runner.invoke(app, ["retrain", "--wait", "--poll-seconds", "0.05"])
    assert result.exit_code == 0, result.output
    # While following, the progress came from the other process's stored results.
    assert read and read[0]["answered"] == 20 and read[0]["planned"] == 24
    lines = result.output.splitlines()
    assert lines[0] == "the scheduler (elsewhere:1:cafe) runs the cycle; following it"
    assert lines.index("cycle 1: evaluating: 20/24 items") < lines.index(
        "cycle 1: evaluating: 24/24 items"
    )
    assert any(line.startswith("decision: promote ft:") for line in lines)


def count(db: Database, table: type) -> int:
    with db.read_session() as session:
        return session.scalar(select(func.count()).select_from(table))
