"""Evaluation benchmark: does bounded concurrency hide the model's latency?

Run:  TIKTOKEN_CACHE_DIR=../shared/tiktoken python bench/bench_eval.py [--items 200]
          [--latency 0.2] [--concurrency 16] [--repeat 3]

It stores `--items` golden eval items in a SQLite file, fine-tunes a stand-in candidate on them
(not timed), injects `--latency` seconds into every chat completion, and times one evaluation:
candidate and incumbent answer every item, with `--concurrency` requests in flight, each item
graded and stored. It prints the wall time divided by the ideal, ceil(items / concurrency) x
latency x 2 models: the time the waiting alone needs when nothing else costs anything.
Target: at most 1.3. The best of `--repeat` runs is reported, as noise only ever adds time.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from curation.db import Database
from curation.examples import NewExample, insert_example
from curation.models import ExampleSource
from scheduler.evaluation import Asker, EvalOptions, Evaluator, SimilarityGrader
from tuneloop.local_openai import Faults, LocalOpenAI, instant_clock

BASE_MODEL = "gpt-4.1-mini-2025-04-14"
SYSTEM = {"role": "system", "content": "You are the Fernhill help desk."}
TOPICS = ["laptop", "vpn", "okta", "payroll", "expenses", "badge", "printer", "wifi", "leave"]


def _pairs(n: int) -> list[tuple[str, str]]:
    return [
        (
            f"question {i}: how do I sort out my {TOPICS[i % len(TOPICS)]} issue number {i}?",
            f"For {TOPICS[i % len(TOPICS)]} issue {i}, raise ticket type {i} at the help desk.",
        )
        for i in range(n)
    ]


def _setup(folder: Path, items: int, latency: float) -> tuple[Database, LocalOpenAI, str]:
    db = Database.open(f"sqlite:///{folder / 'bench.db'}")
    pairs = _pairs(items)
    with db.session() as session:
        for i, (question, answer) in enumerate(pairs):
            insert_example(
                session,
                NewExample(
                    messages=[SYSTEM, {"role": "user", "content": question}],
                    target=answer,
                    source=ExampleSource.SEED,
                    thread_key=f"bench{i}",
                    golden=True,
                ),
                approved_by="bench",
                eval_fraction=0.2,
            )
    stand_in = LocalOpenAI(folder / "openai", clock=instant_clock(), faults=Faults())
    client = stand_in.client(max_retries=0)
    lines = "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
        + "\n"
        for question, answer in pairs
    )
    uploaded = client.files.create(file=("bench.jsonl", lines.encode()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=uploaded.id)
    candidate = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert candidate, "the stand-in did not train the candidate"
    stand_in.faults.only_paths = ("/chat/completions",)
    stand_in.faults.latency_s = latency
    return db, stand_in, candidate


def _one_run(db: Database, stand_in: LocalOpenAI, candidate: str, concurrency: int) -> float:
    client = stand_in.client(max_retries=0)
    evaluator = Evaluator(
        db, Asker(client), SimilarityGrader(), EvalOptions(concurrency=concurrency)
    )
    with db.session() as session:
        run_id = evaluator.create_run(session, candidate=candidate, incumbent=BASE_MODEL).id
    started = time.perf_counter()
    run = evaluator.run(run_id)
    wall = time.perf_counter() - started
    outcomes = run.summary["outcomes"]
    assert outcomes["error"] == 0 and run.summary["items"] == run.item_count, run.summary
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ideal = math.ceil(args.items / args.concurrency) * args.latency * 2
    with tempfile.TemporaryDirectory() as folder:
        db, stand_in, candidate = _setup(Path(folder), args.items, args.latency)
        walls = [_one_run(db, stand_in, candidate, args.concurrency) for _ in range(args.repeat)]
        db.dispose()
    best = min(walls)
    print(
        f"evaluation of {args.items} items x 2 models, {args.latency * 1000:.0f} ms latency, "
        f"concurrency {args.concurrency}"
    )
    runs = ", ".join(f"{wall:.2f}" for wall in walls)
    print(f"  wall (best of {args.repeat}): {best:.2f} s; runs: {runs}")
    print(f"  ideal: ceil({args.items}/{args.concurrency}) x {args.latency} s x 2 = {ideal:.2f} s")
    print(f"  wall / ideal = {best / ideal:.3f}  (target <= 1.3)")


if __name__ == "__main__":
    main()
