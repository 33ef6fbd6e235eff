"""Data and steps shared by the scheduler's tests (plain functions, not fixtures)."""

from __future__ import annotations

import openai

from curation.db import Database
from curation.examples import NewExample, insert_example
from curation.models import ExampleSource, Split
from tests.scheduler.conftest import BASE_MODEL, sft_jsonl

SYSTEM = {"role": "system", "content": "You are the Fernhill help desk."}


def add_examples(
    db: Database,
    pairs: list[tuple[str, str]],
    *,
    split: Split = Split.TRAIN,
    golden: bool = False,
    thread_prefix: str = "t",
    source: ExampleSource = ExampleSource.CORRECTION,
) -> list[int]:
    """Store approved examples (one thread each) and return their ids."""
    ids = []
    with db.session() as session:
        for index, (question, answer) in enumerate(pairs):
            example, _ = insert_example(
                session,
                NewExample(
                    messages=[SYSTEM, {"role": "user", "content": question}],
                    target=answer,
                    source=source,
                    thread_key=f"{thread_prefix}{index}",
                    golden=golden,
                    split=Split.EVAL if golden else split,
                ),
                approved_by="UREVIEW1",
                eval_fraction=0.2,
            )
            ids.append(example.id)
    return ids


def train_model(client: openai.OpenAI, pairs: list[tuple[str, str]], suffix: str = "t") -> str:
    """Fine-tune a stand-in model on `pairs` (with an instant clock) and return its id."""
    uploaded = client.files.create(file=("t.jsonl", sft_jsonl(pairs)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=uploaded.id, suffix=suffix)
    finished = client.fine_tuning.jobs.retrieve(job.id)
    assert finished.status == "succeeded", finished.error
    return finished.fine_tuned_model


#: Golden items: the training questions asked differently, with the same reference answers.
def golden_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(f"please, {q.lower()}", f"{a} (golden)") for q, a in pairs]


#: Held-out items: asked differently again, kept out of training by their split.
def held_out_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(f"hi! {q.upper()}", a) for q, a in pairs]
