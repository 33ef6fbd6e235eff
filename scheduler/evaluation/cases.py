"""The eval set: the golden set (never trained on) plus the held-out split of approved examples.

For a retraining cycle the held-out part is exactly the dataset version's eval side, so the
candidate is judged on the examples that were kept out of its training file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from curation.export import Method, exportable
from curation.models import DatasetItem, Example, Split
from curation.training_line import request_messages


@dataclass(frozen=True)
class EvalCase:
    example_id: int
    golden: bool
    thread_key: str
    #: The prompt exactly as the bot would send it: system prompt, history, user turn.
    messages: list[dict[str, Any]]
    reference: str

    @property
    def question(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content", ""))
        return ""


def eval_cases(session: Session, dataset_version_id: int | None = None) -> list[EvalCase]:
    """Golden examples, then the held-out examples, each ordered by id."""
    golden = select(Example).where(Example.golden.is_(True), Example.retired_at.is_(None))
    if dataset_version_id is not None:
        held_out_ids = select(DatasetItem.example_id).where(
            DatasetItem.dataset_version_id == dataset_version_id,
            DatasetItem.split == Split.EVAL.value,
        )
    else:
        held_out_ids = exportable(Split.EVAL, Method.SFT)
    held_out = select(Example).where(Example.id.in_(held_out_ids), Example.golden.is_(False))
    cases = []
    for query in (golden, held_out):
        for example in session.scalars(query.order_by(Example.id)):
            cases.append(
                EvalCase(
                    example_id=example.id,
                    golden=example.golden,
                    thread_key=example.thread_key,
                    messages=request_messages(example.messages),
                    reference=example.target,
                )
            )
    return cases
