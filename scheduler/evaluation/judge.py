"""An LLM judge: which of two answers is closer to the reference, asked in both orders.

Judges favour whichever answer they read first (position bias), so each item is judged twice
with the answers swapped; only a verdict that survives the swap counts, and a disagreement is a
tie. The judge gives no absolute measure, so the scores kept for the golden-set checks come
from the reference-similarity grader.
"""

from __future__ import annotations

from scheduler.evaluation.asking import Asker
from scheduler.evaluation.cases import EvalCase
from scheduler.evaluation.graders import Grade, SimilarityGrader
from scheduler.records import ItemOutcome

JUDGE_INSTRUCTIONS = (
    "You grade answers from an internal help desk assistant. You get a question, a reference "
    "answer written by the help desk team, and two candidate answers, A and B. Decide which "
    "candidate gives the user the same correct, useful information as the reference. Reply "
    "with exactly one character: A if answer A is better, B if answer B is better, T if they "
    "are equally good or equally bad."
)


class JudgeError(RuntimeError):
    """The judge model gave no answer (after the asker's retries). `deferred`: it kept
    answering 429 or 5xx, so the item is asked again later rather than scored as an error."""

    def __init__(self, message: str, *, deferred: bool = False, retry_after_s: float | None = None):
        super().__init__(message)
        self.deferred = deferred
        self.retry_after_s = retry_after_s


def judge_prompt(case: EvalCase, first: str, second: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": JUDGE_INSTRUCTIONS},
        {
            "role": "user",
            "content": (
                f"Question:\n{case.question}\n\nReference answer:\n{case.reference}\n\n"
                f"Answer A:\n{first}\n\nAnswer B:\n{second}\n\nWhich is better: A, B or T?"
            ),
        },
    ]


def parse_verdict(text: str | None) -> str:
    """'A', 'B' or 'T'; anything else the judge says counts as no preference."""
    cleaned = (text or "").strip().strip("*\"'.` ").upper()
    return cleaned[0] if cleaned[:1] in ("A", "B", "T") and len(cleaned) <= 12 else "T"


class JudgeGrader:
    name = "judge"

    def __init__(self, asker: Asker, model: str, *, similarity: SimilarityGrader | None = None):
        self._asker = asker
        self.model = model
        self._similarity = similarity or SimilarityGrader()

    def _verdict(self, case: EvalCase, first: str, second: str) -> tuple[str, str | None]:
        answer = self._asker.ask(
            self.model, judge_prompt(case, first, second), temperature=0, max_completion_tokens=5
        )
        if answer.error is not None:
            raise JudgeError(
                answer.error, deferred=answer.deferred, retry_after_s=answer.retry_after_s
            )
        return parse_verdict(answer.text), answer.text

    def grade(self, case: EvalCase, candidate: str, incumbent: str) -> Grade:
        forward, forward_raw = self._verdict(case, candidate, incumbent)  # candidate is A
        backward, backward_raw = self._verdict(case, incumbent, candidate)  # candidate is B
        prefers_candidate = (forward == "A", backward == "B")
        prefers_incumbent = (forward == "B", backward == "A")
        if all(prefers_candidate):
            outcome = ItemOutcome.WIN
        elif all(prefers_incumbent):
            outcome = ItemOutcome.LOSS
        else:
            outcome = ItemOutcome.TIE
        similarity = self._similarity.grade(case, candidate, incumbent)
        return Grade(
            similarity.candidate_score,
            similarity.incumbent_score,
            outcome,
            {
                "judge_model": self.model,
                "candidate_first": {"verdict": forward, "raw": forward_raw},
                "incumbent_first": {"verdict": backward, "raw": backward_raw},
                "orders_agree": outcome is not ItemOutcome.TIE or forward == backward == "T",
            },
        )
