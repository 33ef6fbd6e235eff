"""The "model" a stand-in fine-tune produces: nearest-neighbour retrieval over its examples.

Asked a question, it finds the training prompt most similar to the question's last user
message and answers with that prompt's target reply, or with `FALLBACK_ANSWER` when nothing is
similar enough. It is a stand-in for development, demos and tests, not a language model.

Similarity is rapidfuzz's `fuzz.ratio` (0-100) between normalised texts: lower-cased words,
minus common function words, de-duplicated and sorted, so word order, case, punctuation and
filler ("how do I", "please") do not matter but the words that carry the question do. Only
training prompts that share at least one word with the question are compared (an inverted
index finds them), which keeps a 10,000-example model fast; a question made only of unknown
words is compared with every prompt, so typos can still match.

Determinism: the same examples and question always give the same answer. Within the examples,
a later one replaces an earlier one for the same (normalised) prompt, so corrections win; a DPO
example's preferred output becomes the answer, and its non-preferred output is never given for
that prompt. Equal similarities go to the most recently taught prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from tuneloop.local_openai.training_validation import Example

FALLBACK_ANSWER = (
    "I don't know that yet. If you know the answer, please suggest a correction so I can learn it."
)

DEFAULT_THRESHOLD = 80.0

_WORD = re.compile(r"\w+", re.UNICODE)

# Words that say little about what is asked; dropping them lets "How do I reset my password?"
# and "Can you reset my password please" meet. Negations stay: they change the question.
_STOPWORD_TEXT = """
    a an the i me my mine myself we us our ours you your yours he him his she her hers it its
    they them their theirs is am are was were be been being do does did doing have has had
    having can could would should will shall may might must to of in on at by for with about
    from into onto over under up down out off and or but if then so than too very just also
    how what when where which who whom whose why this that these those there here please
    hi hello hey thanks thank ok okay s t
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def normalise(text: str) -> str:
    """Sorted, de-duplicated content words; all words if the text has only function words."""
    words = _WORD.findall(text.lower())
    content = {word for word in words if word not in _STOPWORDS}
    return " ".join(sorted(content or set(words)))


@dataclass(frozen=True)
class Match:
    """The answer for a question, and the training prompt (normalised) it came from."""

    answer: str
    score: float
    prompt: str | None


class RetrievalIndex:
    """Training prompts and answers, indexed for nearest-neighbour look-up. Immutable."""

    def __init__(self, examples: Iterable[Example], threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0 <= threshold <= 100:
            raise ValueError("threshold must be between 0 and 100")
        self.threshold = float(threshold)
        answers: dict[str, str] = {}
        banned: dict[str, set[str]] = {}
        for example in examples:
            key = normalise(example.prompt)
            if not key:
                continue
            # Re-inserting moves the prompt to the end: the index order is "last taught".
            answers.pop(key, None)
            answers[key] = example.answer
            never = banned.setdefault(key, set())
            never.discard(example.answer)
            if example.rejected is not None and example.rejected != example.answer:
                never.add(example.rejected)
        self._keys: list[str] = list(answers)
        self._answers: list[str] = [answers[key] for key in self._keys]
        self._position: dict[str, int] = {key: i for i, key in enumerate(self._keys)}
        # A prompt's answer is never one of its rejected outputs: each example removes its own
        # answer from the prompt's rejected set, so the invariant holds whatever the order.
        self.rejected: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in banned.items() if v}
        postings: dict[str, list[int]] = {}
        for position, key in enumerate(self._keys):
            for word in key.split():
                postings.setdefault(word, []).append(position)
        self._postings = postings
        self.answer_for = lru_cache(maxsize=4096)(self._answer_for)

    def __len__(self) -> int:
        return len(self._keys)

    def _answer_for(self, question: str) -> Match:
        """The reply to `question` (the last user message); cached per question."""
        key = normalise(question)
        if not key:
            return Match(FALLBACK_ANSWER, 0.0, None)
        exact = self._position.get(key)
        if exact is not None:
            return Match(self._answers[exact], 100.0, key)
        position, score = self._nearest(key)
        if position is None:
            return Match(FALLBACK_ANSWER, score, None)
        return Match(self._answers[position], score, self._keys[position])

    def _nearest(self, key: str) -> tuple[int | None, float]:
        """Best prompt at or above the threshold, ties to the most recently taught one."""
        words = key.split()
        lists = [self._postings[word] for word in words if word in self._postings]
        if lists:
            candidates = set().union(*lists)
            positions = list(candidates) if len(candidates) * 2 < len(self._keys) else None
        else:
            positions = None
        choices = self._keys if positions is None else [self._keys[i] for i in positions]
        found = process.extract(
            key,
            choices,
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=self.threshold,
            limit=None,
        )
        if not found:
            return None, 0.0
        best_score = max(score for _choice, score, _index in found)
        indices = [index for _choice, score, index in found if score == best_score]
        if positions is not None:
            indices = [positions[index] for index in indices]
        return max(indices), float(best_score)
