"""Evaluation: candidate and incumbent answer every eval item, a grader scores both."""

from scheduler.evaluation.asking import Answer, Asker, RetryPolicy
from scheduler.evaluation.cases import EvalCase, eval_cases
from scheduler.evaluation.graders import ExactMatchGrader, Grade, Grader, SimilarityGrader
from scheduler.evaluation.judge import JudgeGrader
from scheduler.evaluation.runner import EvalOptions, EvaluationPaused, Evaluator

__all__ = [
    "Answer",
    "Asker",
    "EvalCase",
    "EvalOptions",
    "EvaluationPaused",
    "Evaluator",
    "ExactMatchGrader",
    "Grade",
    "Grader",
    "JudgeGrader",
    "RetryPolicy",
    "SimilarityGrader",
    "eval_cases",
]
