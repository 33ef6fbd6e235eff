"""`store_stats`: every number of the summary, on a store with some of everything."""

from __future__ import annotations

from curation.capture import ConversationRef
from curation.examples import NewExample, insert_example, retire_example
from curation.models import ExampleSource, FeedbackKind, Split
from curation.stats import store_stats
from curation.store import Store
from tests.conftest import REVIEWERS, SYSTEM, ask


def _example(question: str, source: ExampleSource, **extra: object) -> NewExample:
    return NewExample(
        messages=[SYSTEM, {"role": "user", "content": question}],
        target=f"The answer to {question}",
        source=source,
        thread_key=f"T1:C1:{question}",
        **extra,  # type: ignore[arg-type]
    )


def test_the_summary_counts_everything(store: Store) -> None:
    answered = [ask(store, f"Question {n}?", f"Reply {n}.") for n in range(4)]
    pending, _ = store.capture.claim_exchange(
        ConversationRef("C1", "9.0001", "9.0001", "UASKER", "T1"), [SYSTEM]
    )
    failed, _ = store.capture.claim_exchange(
        ConversationRef("C1", "9.0002", "9.0002", "UASKER", "T1"), [SYSTEM]
    )
    store.capture.fail_exchange(failed, error="timeout", model="m")
    store.capture.add_feedback(answered[0], "UBOB", FeedbackKind.THUMBS_DOWN)
    store.capture.add_feedback(answered[1], "UBOB", FeedbackKind.THUMBS_UP)
    store.capture.add_feedback(answered[1], "UCAROL", FeedbackKind.THUMBS_UP)
    _, item, _ = store.capture.add_correction(answered[2], "UBOB", "Use Workday.")
    assert item is not None
    store.review.approve(item.id, REVIEWERS[0])  # a correction example, train or eval
    with store.db.session() as session:
        for n, source in enumerate([ExampleSource.SEED, ExampleSource.SEED, ExampleSource.IMPORT]):
            new = _example(f"seed {n}", source, split=Split.TRAIN)
            insert_example(session, new, approved_by="U", eval_fraction=0.0)
        golden, _ = insert_example(
            session, _example("golden", ExampleSource.SEED, golden=True), approved_by="U",
            eval_fraction=0.0,
        )  # fmt: skip
        retired, _ = insert_example(
            session, _example("bad", ExampleSource.IMPORT, split=Split.TRAIN), approved_by="U",
            eval_fraction=0.0,
        )  # fmt: skip
        session.flush()
        retire_example(session, retired.id, reason="poisoned")
    stats = store_stats(store.db)
    correction_split = stats["examples"]["by_split"]
    assert stats["exchanges"] == {
        "total": 6,
        "by_status": {"answered": 4, "pending": 1, "failed": 1},
    }
    assert pending
    assert stats["feedback"] == {"thumbs_down": 1, "thumbs_up": 2}
    assert stats["corrections"] == 1
    assert stats["review"] == {"pending": 2, "approved": 1, "rejected": 0, "needs_edit": 0}
    assert stats["examples"]["total"] == 5  # 3 seeds and imports, 1 golden, 1 correction
    assert stats["examples"]["by_source"] == {"seed": 3, "import": 1, "correction": 1}
    assert sum(correction_split.values()) == 4 and correction_split.get("train", 0) >= 3
    assert stats["examples"]["golden"] == 1
    assert stats["examples"]["retired"] == 1
    assert stats["dataset_versions"] == 0 and stats["latest_dataset"] is None
    assert golden.split is Split.EVAL
