"""Evaluation against the stand-in: both models answer every item, with bounded concurrency,
timeouts and retries; every answer and score is stored; an interrupted run resumes."""

from __future__ import annotations

import threading
from typing import Any

import httpx2
import openai
import pytest
from sqlalchemy import func, select

from curation.db import Database
from curation.models import Split
from scheduler.evaluation import (
    Answer,
    Asker,
    EvalCase,
    EvalOptions,
    Evaluator,
    ExactMatchGrader,
    JudgeGrader,
    RetryPolicy,
    SimilarityGrader,
    eval_cases,
)
from scheduler.evaluation.judge import parse_verdict
from scheduler.records import EvalItem, EvalRun, EvalStatus, ItemOutcome
from tests.scheduler.conftest import BASE_MODEL, FAQ
from tests.scheduler.helpers import add_examples, train_model
from tuneloop.local_openai import LocalOpenAI

GOLDEN = FAQ[:6]
HELD_OUT = FAQ[6:10]


def _no_sleep(log: list[float] | None = None):
    return (lambda s: log.append(s)) if log is not None else (lambda s: None)


def _evaluator(db: Database, client: openai.OpenAI, **options: Any) -> Evaluator:
    sleeps = options.pop("sleeps", None)
    asker = Asker(client, retry=RetryPolicy(attempts=4), sleep=_no_sleep(sleeps))
    return Evaluator(db, asker, SimilarityGrader(), EvalOptions(**options))


def _start(evaluator: Evaluator, db: Database, candidate: str, incumbent: str = BASE_MODEL) -> int:
    with db.session() as session:
        return evaluator.create_run(session, candidate=candidate, incumbent=incumbent).id


def _items(db: Database, run_id: int) -> list[EvalItem]:
    with db.read_session() as s:
        return list(s.scalars(select(EvalItem).where(EvalItem.eval_run_id == run_id)))


@pytest.fixture
def candidate(client: openai.OpenAI) -> str:
    return train_model(client, FAQ)


def test_the_eval_set_is_golden_plus_held_out(db: Database) -> None:
    add_examples(db, GOLDEN, golden=True, thread_prefix="g")
    add_examples(db, HELD_OUT, split=Split.EVAL, thread_prefix="h")
    add_examples(db, FAQ[10:], split=Split.TRAIN, thread_prefix="x")
    with db.read_session() as s:
        cases = eval_cases(s)
    assert [c.golden for c in cases] == [True] * 6 + [False] * 4
    assert cases[0].question == GOLDEN[0][0] and cases[0].reference == GOLDEN[0][1]


def test_every_answer_and_score_is_stored(
    db: Database, client: openai.OpenAI, candidate: str
) -> None:
    add_examples(db, GOLDEN, golden=True, thread_prefix="g")
    add_examples(db, HELD_OUT, split=Split.EVAL, thread_prefix="h")
    evaluator = _evaluator(db, client, concurrency=4)
    run = evaluator.run(_start(evaluator, db, candidate))
    assert run.status is EvalStatus.COMPLETE and run.item_count == 10
    items = _items(db, run.id)
    assert len(items) == 10
    for item in items:
        assert item.candidate_answer == item.reference  # the candidate was taught these
        assert item.incumbent_answer and item.incumbent_answer != item.reference
        assert item.candidate_score > item.incumbent_score
        assert item.outcome is ItemOutcome.WIN
    assert run.summary["outcomes"]["win"] == 10
    assert run.summary["golden_mean_score"]["candidate"] == 1.0


def test_an_interrupted_run_resumes_with_only_the_missing_items(
    db: Database, client: openai.OpenAI, candidate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_examples(db, FAQ, golden=True)
    evaluator = _evaluator(db, client, concurrency=2, commit_every=5)
    run_id = _start(evaluator, db, candidate)
    original = Evaluator._store
    calls = []

    def crash_on_second_batch(self, eval_run_id, results, db):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit("killed")
        original(self, eval_run_id, results, db)

    monkeypatch.setattr(Evaluator, "_store", crash_on_second_batch)
    with pytest.raises(SystemExit):
        evaluator.run(run_id)
    monkeypatch.setattr(Evaluator, "_store", original)
    assert len(_items(db, run_id)) == 5
    asked: list[str] = []
    asker = Asker(client, sleep=_no_sleep())
    real_ask = asker.ask
    asker.ask = lambda model, messages, **kw: asked.append(model) or real_ask(model, messages, **kw)
    heard: list[tuple[int, int, int]] = []
    resumed = Evaluator(db, asker, SimilarityGrader(), EvalOptions(commit_every=5))
    resumed.on_stored = lambda *progress: heard.append(progress)
    run = resumed.run(run_id)
    assert len(asked) == 2 * (len(FAQ) - 5)
    # Progress as results are stored: from what the interrupted run left, one commit at a time.
    assert heard == [(run_id, 5, 12), (run_id, 10, 12), (run_id, 12, 12)]
    assert run.status is EvalStatus.COMPLETE
    items = _items(db, run_id)
    assert len(items) == len(FAQ) == len({i.example_id for i in items})


def test_concurrency_is_bounded(db: Database) -> None:
    add_examples(db, FAQ, golden=True)
    limit = 3
    state = {"in_flight": 0, "max": 0}
    lock = threading.Lock()
    first_wave = threading.Barrier(limit, timeout=10)

    class CountingAsker:
        calls = 0

        def ask(self, model: str, messages: list[dict[str, Any]], **_: Any) -> Answer:
            with lock:
                state["in_flight"] += 1
                state["max"] = max(state["max"], state["in_flight"])
                CountingAsker.calls += 1
                wave = CountingAsker.calls <= limit
            if wave:
                first_wave.wait()  # proves `limit` calls do run at once
            with lock:
                state["in_flight"] -= 1
            return Answer("an answer", 1)

    evaluator = Evaluator(db, CountingAsker(), SimilarityGrader(), EvalOptions(concurrency=limit))
    evaluator.run(_start(evaluator, db, "m1", "m2"))
    assert state["max"] == limit


def test_injected_429s_and_5xx_are_retried_and_survived(
    db: Database, client: openai.OpenAI, candidate: str, stand_in: LocalOpenAI
) -> None:
    add_examples(db, GOLDEN, golden=True)
    stand_in.faults.only_paths = ("/chat/completions",)
    stand_in.faults.rate_limit(3, retry_after_s=0.25)
    sleeps: list[float] = []
    evaluator = _evaluator(db, client, concurrency=1, sleeps=sleeps)
    run = evaluator.run(_start(evaluator, db, candidate))
    stand_in.faults.fail_requests(3, status=502)
    run2 = evaluator.run(_start(evaluator, db, candidate))
    for r in (run, run2):
        assert r.summary["outcomes"]["error"] == 0 and r.summary["outcomes"]["win"] == 6
    assert sleeps[:3] == [0.25, 0.25, 0.25]  # retry-after honoured, through the injected sleep
    assert len(sleeps) == 6


def test_timeouts_are_retried_then_recorded_as_errors(db: Database) -> None:
    add_examples(db, GOLDEN[:2], golden=True)

    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("read timed out", request=request)

    client = openai.OpenAI(
        api_key="k",
        base_url="http://timeouts.invalid/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    sleeps: list[float] = []
    asker = Asker(client, timeout_s=5, retry=RetryPolicy(attempts=3), sleep=sleeps.append)
    evaluator = Evaluator(db, asker, SimilarityGrader(), EvalOptions(concurrency=2))
    run = evaluator.run(_start(evaluator, db, "m1", "m2"))
    items = _items(db, run.id)
    assert {i.outcome for i in items} == {ItemOutcome.ERROR}
    assert all(
        "APITimeoutError" in i.candidate_error and "after 3 tries" in i.candidate_error
        for i in items
    )
    assert len(sleeps) == 2 * 2 * 2  # two retries per question, two questions per item


def test_exact_match_grader() -> None:
    case = EvalCase(1, True, "t", [{"role": "user", "content": "days?"}], "27 days.")
    grade = ExactMatchGrader().grade(case, "  27 DAYS ", "28 days")
    assert (grade.candidate_score, grade.incumbent_score, grade.outcome) == (1.0, 0.0, "win")
    assert ExactMatchGrader().grade(case, "27 days", "27 days!").outcome is ItemOutcome.TIE


def test_similarity_grader_ties_within_the_margin() -> None:
    case = EvalCase(
        1, True, "t", [{"role": "user", "content": "q"}], "Use the Report Phish button."
    )
    grader = SimilarityGrader()
    assert grader.score("use the report phish button", case.reference) == 1.0
    assert grader.grade(case, "Use the Report Phish button!", case.reference).outcome is (
        ItemOutcome.TIE
    )
    assert grader.grade(case, "Ask reception.", case.reference).outcome is ItemOutcome.LOSS


def _judge_client(decide) -> openai.OpenAI:
    """A chat endpoint whose answer `decide(user_text)` picks: a scripted judge."""
    import json

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        text = decide(body["messages"][-1]["content"])
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text},
                    }
                ],
            },
        )

    return openai.OpenAI(
        api_key="k",
        base_url="http://judge.invalid/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )


CASE = EvalCase(1, True, "t", [{"role": "user", "content": "VPN?"}], "Install GlobalConnect.")


def test_the_judge_asks_in_both_orders_and_a_consistent_verdict_wins() -> None:
    def fair(prompt: str) -> str:  # prefers whichever answer mentions GlobalConnect
        a = prompt.split("Answer A:\n")[1].split("\n\nAnswer B:")[0]
        return "A" if "GlobalConnect" in a else "B"

    judge = JudgeGrader(Asker(_judge_client(fair), sleep=_no_sleep()), "judge-model")
    grade = judge.grade(CASE, "Install GlobalConnect and sign in.", "Ask your manager.")
    assert grade.outcome is ItemOutcome.WIN
    assert grade.details["candidate_first"]["verdict"] == "A"
    assert grade.details["incumbent_first"]["verdict"] == "B"
    assert judge.grade(CASE, "Ask your manager.", "Install GlobalConnect.").outcome is (
        ItemOutcome.LOSS
    )
    assert grade.candidate_score > grade.incumbent_score  # absolute scores: reference similarity


def test_a_position_biased_judge_gives_ties() -> None:
    judge = JudgeGrader(Asker(_judge_client(lambda _p: "A"), sleep=_no_sleep()), "judge-model")
    grade = judge.grade(CASE, "Install GlobalConnect and sign in.", "Ask your manager.")
    assert grade.outcome is ItemOutcome.TIE and grade.details["orders_agree"] is False


def test_verdict_parsing() -> None:
    assert [parse_verdict(t) for t in ("A", " b.", "**T**", "Answer A is better", None)] == [
        "A",
        "B",
        "T",
        "T",
        "T",
    ]


def test_a_failing_judge_marks_the_item_an_error_not_the_run(db: Database) -> None:
    add_examples(db, GOLDEN[:2], golden=True)

    class StubAsker:
        def ask(self, model: str, messages: list[dict[str, Any]], **_: Any) -> Answer:
            if model == "judge":
                return Answer(None, 1, "InternalServerError 500: boom (after 4 tries)")
            return Answer("text", 1)

    judge = JudgeGrader(StubAsker(), "judge")  # type: ignore[arg-type]
    evaluator = Evaluator(db, StubAsker(), judge)  # type: ignore[arg-type]
    run = evaluator.run(_start(evaluator, db, "m1", "m2"))
    items = _items(db, run.id)
    assert {i.outcome for i in items} == {ItemOutcome.ERROR}
    assert "boom" in items[0].details["grade_error"]
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(EvalRun)) == 1
