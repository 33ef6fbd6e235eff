"""Running an evaluation: every item answered by both models, graded, and stored.

Items run on a thread pool (the work is waiting on the network, so threads suffice), bounded
by `concurrency` so a big eval set cannot flood the provider. Results are committed in small
batches as they arrive: a run interrupted halfway resumes by asking only the items it has not
stored, and nothing is asked twice.

A burst of 429s or 5xx outlasting a question's own retries does not turn into errors (which
would decide "insufficient evidence" on a candidate already trained and paid for): such items
are deferred, not stored, and asked again after the provider's `retry-after` (or a back-off),
in rounds, for up to `EvalOptions.retry_wait_s` from the first deferral (a round under way then
finishes; no new wait starts past the bound). Then `EvaluationPaused` is raised with the run
left incomplete: the next call of `run` asks only what is missing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import RetryCallState, Retrying, retry_if_result, wait_exponential

from curation.db import Database
from curation.models.base import utcnow
from scheduler.evaluation.asking import Answer, Asker
from scheduler.evaluation.cases import EvalCase, eval_cases
from scheduler.evaluation.graders import Grade, Grader
from scheduler.evaluation.judge import JudgeError
from scheduler.records import EvalItem, EvalRun, EvalStatus, ItemOutcome

log = logging.getLogger(__name__)

#: Called with (eval run id, items stored, items planned) after each commit of results.
OnStored = Callable[[int, int, int], None]


@dataclass(frozen=True)
class EvalOptions:
    concurrency: int = 16
    timeout_s: float = 60.0
    attempts: int = 4
    max_tokens: int | None = 1024
    #: Sampling temperature of both models' answers. 0 is greedy: the comparison then measures
    #: the models, not the dice (at the API's default of 1 a small model's answer to the same
    #: question changes from run to run, and that noise swamps the gate's sign test).
    temperature: float | None = 0.0
    #: Results stored per commit: small enough to lose little on a crash, big enough to be cheap.
    commit_every: int = 20
    #: Seconds a run may spend waiting out a 429/5xx burst before it pauses, resumable.
    retry_wait_s: float = 300.0
    #: Back-off between rounds of deferred items when the provider gave no `retry-after`.
    round_delay_s: float = 5.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "attempts": self.attempts,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "retry_wait_s": self.retry_wait_s,
        }


class EvaluationPaused(Exception):
    """The provider kept answering 429 or 5xx for longer than the run may wait: the run is
    left incomplete (resumable), with `missing` items still to ask. `retry_after_s` is the
    provider's last hint, when it gave one."""

    def __init__(
        self, eval_run_id: int, *, missing: int, waited_s: float, retry_after_s: float | None
    ) -> None:
        super().__init__(
            f"eval run {eval_run_id} paused: the provider answered 429 or 5xx for "
            f"{waited_s:.0f} s of waiting; {missing} items still to ask"
        )
        self.eval_run_id = eval_run_id
        self.missing = missing
        self.waited_s = waited_s
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class _Result:
    case: EvalCase
    candidate: Answer
    incumbent: Answer
    grade: Grade | None
    grade_error: str | None
    #: The provider said "later" (429/5xx after the retries): ask again, store nothing.
    deferred: bool = False
    retry_after_s: float | None = None


class Evaluator:
    def __init__(
        self,
        db: Database,
        asker: Asker,
        grader: Grader,
        options: EvalOptions | None = None,
        *,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_stored: OnStored | None = None,
    ) -> None:
        """`sleep` waits between rounds of deferred items and `clock` (seconds, monotonic)
        measures the burst against `options.retry_wait_s`; tests pass ones that do not wait.
        `on_stored` hears the run's progress (a display) as results are committed."""
        self.db = db
        self.on_stored = on_stored
        self._asker = asker
        self.grader = grader
        self.options = options or EvalOptions()
        self._now = now
        self._sleep = sleep
        self._clock = clock

    def create_run(
        self,
        session: Session,
        *,
        candidate: str,
        incumbent: str,
        cycle_id: int | None = None,
        training_run_id: int | None = None,
        dataset_version_id: int | None = None,
    ) -> EvalRun:
        """Record a new run (inside the caller's transaction); `run` then fills it."""
        planned = len(eval_cases(session, dataset_version_id))
        run = EvalRun(
            cycle_id=cycle_id,
            training_run_id=training_run_id,
            dataset_version_id=dataset_version_id,
            candidate=candidate,
            incumbent=incumbent,
            grader=self.grader.name,
            item_count=planned,
            settings={**self.options.as_dict(), "grader": self.grader.name},
            summary={},
            started_at=self._now(),
        )
        session.add(run)
        session.flush()
        return run

    def run(self, eval_run_id: int, *, db: Database | None = None) -> EvalRun:
        """Ask and grade every item not yet stored, then mark the run complete. Results are
        written through `db` when given (the cycle's database, fenced by its leader's lease),
        else through the evaluator's own. Raises `EvaluationPaused` (the run incomplete, what
        was answered stored) when a 429/5xx burst outlasts `EvalOptions.retry_wait_s`."""
        db = db or self.db
        with db.read_session() as session:
            run = session.get_one(EvalRun, eval_run_id)
            cases = eval_cases(session, run.dataset_version_id)
            stored = set(
                session.scalars(
                    select(EvalItem.example_id).where(EvalItem.eval_run_id == eval_run_id)
                )
            )
        todo = [case for case in cases if case.example_id not in stored]
        log.info(
            "eval run %s: %s vs %s, %d of %d items to ask",
            eval_run_id,
            run.candidate,
            run.incumbent,
            len(todo),
            len(cases),
        )
        done = len(cases) - len(todo)

        def stored(count: int) -> None:
            nonlocal done
            done += count
            if self.on_stored is not None:
                self.on_stored(eval_run_id, done, len(cases))

        stored(0)  # where it starts: nothing yet, or what an interrupted run stored
        hint: list[float | None] = [None]
        burst_since: list[float] = []

        def ask_round() -> list[EvalCase]:
            nonlocal todo
            todo, hint[0] = self._ask_and_store(db, eval_run_id, run, todo, stored)
            if todo:
                burst_since[:] = burst_since or [self._clock()]
                log.warning(
                    "eval run %s: %d items deferred (429/5xx); waiting before asking again",
                    eval_run_id,
                    len(todo),
                )
            return todo

        rounds = Retrying(
            retry=retry_if_result(bool),
            wait=self._round_wait(hint),
            stop=lambda state: self._past_bound(state, burst_since[0]),
            sleep=self._sleep,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else todo,
        )
        missing = rounds(ask_round)
        if missing:
            raise EvaluationPaused(
                eval_run_id,
                missing=len(missing),
                waited_s=self._clock() - burst_since[0],
                retry_after_s=hint[0],
            )
        return self._finish(db, eval_run_id, len(cases))

    def _round_wait(self, hint: list[float | None]) -> Callable[[RetryCallState], float]:
        """Wait what the provider last asked for, else back off from `round_delay_s`."""
        backoff = wait_exponential(multiplier=self.options.round_delay_s, max=60.0)

        def wait(state: RetryCallState) -> float:
            return hint[0] if hint[0] is not None else backoff(state)

        return wait

    def _past_bound(self, state: RetryCallState, burst_since: float) -> bool:
        """tenacity's stop: True once the next wait would end more than `retry_wait_s` after
        the burst was first met."""
        ends = self._clock() + (state.upcoming_sleep or 0.0)
        return ends - burst_since > self.options.retry_wait_s

    def _ask_and_store(
        self,
        db: Database,
        eval_run_id: int,
        run: EvalRun,
        todo: list[EvalCase],
        stored: Callable[[int], None],
    ) -> tuple[list[EvalCase], float | None]:
        """One round over `todo`: store each answered item (telling `stored` how many at each
        commit); return the deferred ones and the provider's longest `retry-after` among them."""
        deferred: list[EvalCase] = []
        hints: list[float] = []
        batch: list[_Result] = []
        with ThreadPoolExecutor(
            max_workers=max(1, self.options.concurrency), thread_name_prefix="eval"
        ) as pool:
            futures = [
                pool.submit(self._answer_and_grade, run.candidate, run.incumbent, case)
                for case in todo
            ]
            for future in as_completed(futures):
                result = future.result()
                if result.deferred:
                    deferred.append(result.case)
                    if result.retry_after_s is not None:
                        hints.append(result.retry_after_s)
                    continue
                batch.append(result)
                if len(batch) >= self.options.commit_every:
                    self._store(eval_run_id, batch, db)
                    stored(len(batch))
                    batch = []
        self._store(eval_run_id, batch, db)
        stored(len(batch))
        return deferred, max(hints) if hints else None

    # --- steps --------------------------------------------------------------------------------
    def _answer_and_grade(self, candidate: str, incumbent: str, case: EvalCase) -> _Result:
        mine = self._asker.ask(candidate, case.messages)
        theirs = self._asker.ask(incumbent, case.messages) if not mine.deferred else mine
        if mine.deferred or theirs.deferred:
            hint = mine.retry_after_s if mine.deferred else theirs.retry_after_s
            return _Result(case, mine, theirs, None, None, deferred=True, retry_after_s=hint)
        if mine.text is None or theirs.text is None:
            return _Result(case, mine, theirs, None, None)
        try:
            grade = self.grader.grade(case, mine.text, theirs.text)
        except JudgeError as exc:
            if not exc.deferred:
                log.warning("grading example %s failed: %s", case.example_id, exc)
                return _Result(case, mine, theirs, None, f"JudgeError: {exc}"[:2000])
            return _Result(
                case, mine, theirs, None, None, deferred=True, retry_after_s=exc.retry_after_s
            )
        except Exception as exc:  # a judge that failed must not sink the whole run
            log.warning("grading example %s failed: %s", case.example_id, exc)
            return _Result(case, mine, theirs, None, f"{type(exc).__name__}: {exc}"[:2000])
        return _Result(case, mine, theirs, grade, None)

    def _store(self, eval_run_id: int, results: Iterable[_Result], db: Database) -> None:
        rows = [_item(eval_run_id, result) for result in results]
        if not rows:
            return
        with db.session() as session:
            session.add_all(rows)

    def _finish(self, db: Database, eval_run_id: int, planned: int) -> EvalRun:
        with db.session() as session:
            run = session.get_one(EvalRun, eval_run_id)
            items = list(session.scalars(select(EvalItem).where(EvalItem.eval_run_id == run.id)))
            run.item_count = planned
            run.summary = summarise(items)
            run.status = EvalStatus.COMPLETE
            run.finished_at = self._now()
            return run


def _item(eval_run_id: int, result: _Result) -> EvalItem:
    case, grade = result.case, result.grade
    details: dict[str, Any] = dict(grade.details) if grade else {}
    if result.grade_error:
        details["grade_error"] = result.grade_error
    return EvalItem(
        eval_run_id=eval_run_id,
        example_id=case.example_id,
        golden=case.golden,
        thread_key=case.thread_key,
        question=case.question,
        reference=case.reference,
        candidate_answer=result.candidate.text,
        incumbent_answer=result.incumbent.text,
        candidate_error=result.candidate.error,
        incumbent_error=result.incumbent.error,
        candidate_latency_ms=result.candidate.latency_ms,
        incumbent_latency_ms=result.incumbent.latency_ms,
        candidate_score=grade.candidate_score if grade else None,
        incumbent_score=grade.incumbent_score if grade else None,
        outcome=grade.outcome if grade else ItemOutcome.ERROR,
        details=details,
    )


def summarise(items: Iterable[EvalItem]) -> dict[str, Any]:
    """Counts and mean scores, overall and on the golden set, for status screens."""
    counts = {outcome.value: 0 for outcome in ItemOutcome}
    scores: dict[str, list[float]] = {"candidate": [], "incumbent": []}
    golden: dict[str, list[float]] = {"candidate": [], "incumbent": []}
    total = 0
    for item in items:
        total += 1
        counts[item.outcome.value] += 1
        if item.candidate_score is None or item.incumbent_score is None:
            continue
        for side, score in (
            ("candidate", item.candidate_score),
            ("incumbent", item.incumbent_score),
        ):
            scores[side].append(score)
            if item.golden:
                golden[side].append(score)
    return {
        "items": total,
        "outcomes": counts,
        "mean_score": {side: _mean(values) for side, values in scores.items()},
        "golden_mean_score": {side: _mean(values) for side, values in golden.items()},
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None
