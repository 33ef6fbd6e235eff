"""The cycle and a serving side that must load models before they answer (vLLM's runtime LoRA
adapters): the candidate is loaded before it is asked, both models before evaluation, and when
a cycle ends only the served model and its rollback target stay loaded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from scheduler.errors import ServingError
from scheduler.records import CycleOutcome
from scheduler.registry import Registry
from tests.scheduler.conftest import BASE_MODEL, FAQ, Harness
from tests.scheduler.helpers import add_examples, golden_pairs
from tests.scheduler.test_cycle import POISON, seed


@dataclass
class RecordingServing:
    """The serving side's protocol over a set of loaded names, with a log of calls."""

    loaded: set[str] = field(default_factory=set)
    calls: list[tuple[str, object]] = field(default_factory=list)
    failures: int = 0  # the next `failures` calls raise, as an unreachable server would

    def _maybe_fail(self, name: str) -> None:
        if self.failures:
            self.failures -= 1
            raise ServingError(f"could not load {name}: connection refused")

    def ensure(self, name: str) -> bool:
        self.calls.append(("ensure", name))
        self._maybe_fail(name)
        self.loaded.add(name)
        return True

    def keep(self, names: Iterable[str]) -> None:
        wanted = list(names)
        self.calls.append(("keep", wanted))
        self.loaded = set(wanted)


def test_the_candidate_is_loaded_before_it_is_asked_and_kept_once_promoted(
    harness: Harness,
) -> None:
    serving = harness.serving = RecordingServing()
    seed(harness.db)
    report = harness.runner().tick()
    assert report.outcome == CycleOutcome.PROMOTED, report.note
    candidate = Registry(harness.db).active().model
    ensured = [name for kind, name in serving.calls if kind == "ensure"]
    assert ensured[0] == candidate  # before the "does it answer" probe
    assert set(ensured[1:]) == {candidate, BASE_MODEL}  # both before evaluation
    assert serving.calls[-1] == ("keep", [candidate, BASE_MODEL])


def test_a_rejected_candidate_is_unloaded_when_its_cycle_ends(harness: Harness) -> None:
    serving = harness.serving = RecordingServing()
    seed(harness.db)
    assert harness.runner().tick().outcome == CycleOutcome.PROMOTED
    good = Registry(harness.db).active().model
    poisoned = [(question, POISON) for question, _ in golden_pairs(FAQ[:8])]
    add_examples(harness.db, poisoned, thread_prefix="poison")
    report = harness.runner().tick(force=True)
    assert report.outcome in (CycleOutcome.REJECTED, CycleOutcome.INSUFFICIENT_EVIDENCE)
    assert serving.loaded == {good, BASE_MODEL}


def test_an_unreachable_serving_side_makes_the_cycle_wait_not_fail(harness: Harness) -> None:
    serving = harness.serving = RecordingServing(failures=1)
    seed(harness.db)
    runner = harness.runner()
    first = runner.tick()
    assert first.outcome is None and "could not load" in first.note
    assert "connection refused" in first.note
    assert runner.poll().outcome == CycleOutcome.PROMOTED
    assert serving.failures == 0
