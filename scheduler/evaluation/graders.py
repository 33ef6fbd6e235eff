"""Graders: how good each answer is against the reference, and who won the item.

Scores are in [0, 1] and absolute (answer against reference), so the gate can hold the golden
set to a floor and compare golden means; the outcome (win, loss or tie, from the candidate's
side) feeds the win rate.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Protocol

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from scheduler.evaluation.cases import EvalCase
from scheduler.records import ItemOutcome


@dataclass(frozen=True)
class Grade:
    candidate_score: float
    incumbent_score: float
    outcome: ItemOutcome
    details: dict[str, Any] = field(default_factory=dict)


class Grader(Protocol):
    name: str

    def grade(self, case: EvalCase, candidate: str, incumbent: str) -> Grade: ...


def outcome_of(candidate: float, incumbent: float, tie_margin: float) -> ItemOutcome:
    if candidate - incumbent > tie_margin:
        return ItemOutcome.WIN
    if incumbent - candidate > tie_margin:
        return ItemOutcome.LOSS
    return ItemOutcome.TIE


class SimilarityGrader:
    """Reference similarity with rapidfuzz (the default: works offline, costs nothing).

    The score is the mean of `fuzz.ratio` (order matters: penalises rambling) and
    `fuzz.token_sort_ratio` (word order does not: forgives rephrasing), on lower-cased text
    stripped of punctuation. Differences within `tie_margin` are ties, not wins, so noise in
    wording does not count as evidence.
    """

    name = "similarity"

    def __init__(self, tie_margin: float = 0.03) -> None:
        self.tie_margin = tie_margin

    def score(self, answer: str, reference: str) -> float:
        a, b = default_process(answer), default_process(reference)
        if not a and not b:
            return 1.0
        return round((fuzz.ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 200, 4)

    def grade(self, case: EvalCase, candidate: str, incumbent: str) -> Grade:
        c, i = self.score(candidate, case.reference), self.score(incumbent, case.reference)
        return Grade(c, i, outcome_of(c, i, self.tie_margin))


_SPACE = re.compile(r"\s+")
_EDGE_PUNCTUATION = " .,;:!?\"'`()[]"


def normalise_short(text: str) -> str:
    """Case, width, surrounding punctuation and spacing do not make a short answer wrong."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", text).strip(_EDGE_PUNCTUATION)


class ExactMatchGrader:
    """1 if the answer equals the reference after normalisation, else 0: for short answers
    (a number, a yes/no, a channel name) where near enough is wrong."""

    name = "exact"

    def grade(self, case: EvalCase, candidate: str, incumbent: str) -> Grade:
        reference = normalise_short(case.reference)
        c = float(normalise_short(candidate) == reference)
        i = float(normalise_short(incumbent) == reference)
        return Grade(c, i, outcome_of(c, i, 0.0))
