"""What `tuneloop retrain --wait` (and `tuneloop eval`) show while a run goes on: the stage,
the fine-tuning job's status and progress (its step and loss, as the backend reports them),
the evaluation's progress (items stored of those planned), and at the end the decision with
its reason.

On a terminal it is a rich `Progress` display: a line for each stage reached, a live line with
the current stage's note and a bar for the evaluation. Anywhere else (a pipe, a log, CI) each
new state is one plain line, so a log keeps the whole story and nothing redraws.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column
from rich.text import Text

from tuneloop.terminal import literal


class _ItemCount(ProgressColumn):
    """ "37/54 items" for a task with a total; nothing for the stage line."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)} items", style="progress.download")


class ProgressDisplay:
    """Shows a retraining run or an evaluation as it goes; use as a context manager around
    the work.

    `live` picks the rich display (for a terminal) over plain lines. Every piece of text
    (notes carry model ids and provider messages) is shown literally, never as markup.
    """

    def __init__(self, console: Console, *, live: bool) -> None:
        self._console = console
        self._cycle: int | None = None
        self._stage: str | None = None
        self._said: set[str] = set()
        self._progress: Progress | None = None
        self._stage_task: TaskID | None = None
        self._eval_task: TaskID | None = None
        if live:
            # The note takes the width left and folds onto more lines rather than cutting a
            # model id short; the bar and the counts keep theirs.
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn(
                    "{task.description}",
                    markup=False,
                    table_column=Column(ratio=1, overflow="fold"),
                ),
                BarColumn(bar_width=24),
                _ItemCount(),
                TimeElapsedColumn(),
                console=console,
                expand=True,
            )

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is None:
            return
        if error is None and self._stage_task is not None:
            # Each stage has its line above; the outcome and decision follow. After a failure
            # the live line stays: it says where the run was.
            self._progress.remove_task(self._stage_task)
        self._progress.stop()

    # --- what the wait loop and the evaluator tell it -----------------------------------------
    def report(self, report: Any) -> None:
        """A `CycleReport` of the open run: its stage and note (the job's status and progress
        are in the note)."""
        self._cycle = report.cycle_id
        line = f"cycle {report.cycle_id}: {report.stage}: {report.note}"
        if self._progress is None:
            self._say(line)
            return
        if report.stage != self._stage:
            self._progress.console.print(literal(line), soft_wrap=True)
        shown = literal(line).plain  # control characters escaped; the column takes no markup
        if self._stage_task is None:
            self._stage_task = self._progress.add_task(shown, total=None)
        else:
            self._progress.update(self._stage_task, description=shown, refresh=True)
        self._stage = report.stage

    def evaluated(self, answered: int, planned: int) -> None:
        """The evaluation has `answered` of `planned` items stored."""
        if self._progress is None:
            where = f"cycle {self._cycle}: " if self._cycle is not None else ""
            self._say(f"{where}evaluating: {answered}/{planned} items")
            return
        if self._eval_task is None:
            self._eval_task = self._progress.add_task("evaluating", total=planned)
        # Drawn at once, not at the next tick: each commit of results is a step worth seeing.
        self._progress.update(self._eval_task, completed=answered, total=planned, refresh=True)

    def on_stored(self, _eval_run_id: int, answered: int, planned: int) -> None:
        """The evaluator's `OnStored` hook."""
        self.evaluated(answered, planned)

    def _say(self, line: str) -> None:
        # Each new line once: a wait loop that polls every few seconds repeats itself.
        if line not in self._said:
            self._said.add(line)
            self._console.print(literal(line), soft_wrap=True)


def progress_display(as_json: bool, out: Console, err: Console) -> ProgressDisplay | None:
    """The display for a long command printing on `out`: live on a terminal, a line per state
    elsewhere. With --json, stdout is the JSON's alone: live on `err` when that is a terminal,
    else none (None)."""
    shown_on = err if as_json else out
    if as_json and not shown_on.is_terminal:
        return None
    return ProgressDisplay(shown_on, live=shown_on.is_terminal)


def decision_lines(decision: dict[str, Any] | None) -> Text | None:
    """The gate's decision for people: the verdict on the candidate against the incumbent,
    and its reason (every failed check, one a line)."""
    if decision is None:
        return None
    headline = (
        f"decision: {decision['verdict']} {decision['candidate']} "
        f"(against {decision['incumbent']})\n"
    )
    reasons = "\n".join(f"  {line}" for line in decision["reason"].splitlines())
    return literal(headline + reasons)
