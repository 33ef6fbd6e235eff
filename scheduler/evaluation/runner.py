"""Running an evaluation: every item answered by both models, graded, and stored.

Items run on a thread pool (the work is waiting on the network, so threads suffice), bounded
by `concurrency` so a big eval set cannot flood the provider. Results are committed in small
batches as they arrive: a run interrupted halfway resumes by asking only the items it has not
stored, and nothing is asked twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from curation.db import Database
from curation.models.base import utcnow
from scheduler.evaluation.asking import Answer, Asker
from scheduler.evaluation.cases import EvalCase, eval_cases
from scheduler.evaluation.graders import Grade, Grader
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "attempts": self.attempts,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }


@dataclass(frozen=True)
class _Result:
    case: EvalCase
    candidate: Answer
    incumbent: Answer
    grade: Grade | None
    grade_error: str | None


class Evaluator:
    def __init__(
        self,
        db: Database,
        asker: Asker,
        grader: Grader,
        options: EvalOptions | None = None,
        *,
        now: Callable[[], datetime] = utcnow,
        on_stored: OnStored | None = None,
    ) -> None:
        self.db = db
        self.on_stored = on_stored
        self._asker = asker
        self.grader = grader
        self.options = options or EvalOptions()
        self._now = now

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

    def run(self, eval_run_id: int) -> EvalRun:
        """Ask and grade every item not yet stored, then mark the run complete."""
        with self.db.read_session() as session:
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
        batch: list[_Result] = []
        done = len(cases) - len(todo)

        def progressed() -> None:
            if self.on_stored is not None:
                self.on_stored(eval_run_id, done, len(cases))

        def store(results: list[_Result]) -> None:
            nonlocal done
            self._store(eval_run_id, results)
            done += len(results)
            progressed()

        progressed()  # where it starts: nothing yet, or what an interrupted run stored
        with ThreadPoolExecutor(
            max_workers=max(1, self.options.concurrency), thread_name_prefix="eval"
        ) as pool:
            futures = [
                pool.submit(self._answer_and_grade, run.candidate, run.incumbent, case)
                for case in todo
            ]
            for future in as_completed(futures):
                batch.append(future.result())
                if len(batch) >= self.options.commit_every:
                    store(batch)
                    batch = []
        store(batch)
        return self._finish(eval_run_id, len(cases))

    # --- steps --------------------------------------------------------------------------------
    def _answer_and_grade(self, candidate: str, incumbent: str, case: EvalCase) -> _Result:
        mine = self._asker.ask(candidate, case.messages)
        theirs = self._asker.ask(incumbent, case.messages)
        if mine.text is None or theirs.text is None:
            return _Result(case, mine, theirs, None, None)
        try:
            grade = self.grader.grade(case, mine.text, theirs.text)
        except Exception as exc:  # a judge that failed must not sink the whole run
            log.warning("grading example %s failed: %s", case.example_id, exc)
            return _Result(case, mine, theirs, None, f"{type(exc).__name__}: {exc}"[:2000])
        return _Result(case, mine, theirs, grade, None)

    def _store(self, eval_run_id: int, results: Iterable[_Result]) -> None:
        rows = [_item(eval_run_id, result) for result in results]
        if not rows:
            return
        with self.db.session() as session:
            session.add_all(rows)

    def _finish(self, eval_run_id: int, planned: int) -> EvalRun:
        with self.db.session() as session:
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
