"""Token limits at the door: an example over the model's per-example limit is refused where it
enters (import, review approval) with its count and the limit, counted as export counts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation.errors import ValidationError
from curation.importing import ImportChecks, import_chat_file, import_seeds
from curation.model_specs import DEFAULT_MODEL_SPECS, ModelSpec, ModelTable
from curation.store import Store
from curation.token_limit import TokenLimit
from curation.tokens import counter, line_tokens
from curation.training_line import TrainingLine
from tests.conftest import REVIEWERS, SEEDS_DIR, ask

SMALL = TokenLimit("small-model", 40, "o200k_base")


def _line(question: str, answer: str) -> dict:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def test_the_limit_counts_what_export_writes() -> None:
    line = TrainingLine.from_sft_line(_line("Where is my payslip?", "In HiBob."))
    count = counter("o200k_base")
    # 3 priming + (3 + "user" 1 + 6) + (3 + "assistant" 1 + 4), as OpenAI's cookbook counts
    assert SMALL.tokens(line) == line_tokens(line.sft_line()["messages"], count) == 21
    real = TokenLimit.for_model(ModelTable(DEFAULT_MODEL_SPECS), "gpt-3.5-turbo-0125")
    assert (real.max_tokens, real.encoding) == (16_385, "cl100k_base")


def test_an_import_line_over_the_limit_is_refused_with_its_count(db, tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    lines = [_line("Short?", "Yes."), _line("Why does my build fail? Log: " + "a " * 40, "Disk.")]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    with pytest.raises(ValidationError) as raised:
        import_chat_file(
            db, path, system_prompt=None, eval_fraction=0, checks=ImportChecks(limit=SMALL)
        )
    (problem,) = raised.value.problems
    assert problem.startswith(f"{path}:2: too_many_tokens at line: ")
    assert problem.endswith("tokens, over the limit of 40 per example for small-model")
    # Without a limit (or with a roomier model) the same file is imported.
    assert import_chat_file(db, path, system_prompt=None, eval_fraction=0).added == 2


def test_the_shipped_seeds_fit_every_model_in_the_table(db) -> None:
    for model in DEFAULT_MODEL_SPECS:
        limit = TokenLimit.for_model(ModelTable(DEFAULT_MODEL_SPECS), model)
        reports = import_seeds(db, SEEDS_DIR, eval_fraction=0.2, checks=ImportChecks(limit=limit))
        assert all(r.ok for r in reports), reports


def test_an_approval_over_the_limit_is_refused_with_its_count(db) -> None:
    store = Store.build(db, reviewers=REVIEWERS, limit=SMALL)
    exchange = ask(store, "Where is the VPN portal?", "No idea.")
    long_fix = "Go to vpn.fernhill.example, " + "then follow the steps " * 10
    _, item, _ = store.capture.add_correction(exchange, "UFIXER", long_fix)
    with pytest.raises(ValidationError) as raised:
        store.review.approve(item.id, REVIEWERS[0])
    assert "too_many_tokens" in str(raised.value) and "over the limit of 40" in str(raised.value)
    assert store.review.get(item.id).state.value == "pending"  # nothing was decided
    short = ask(store, "Payday?", "No idea.")
    _, item, _ = store.capture.add_correction(short, "UFIXER", "The 25th.")
    assert store.review.approve(item.id, REVIEWERS[0]).example_created


def test_the_model_table_limit_is_what_the_door_uses(db, tmp_path: Path) -> None:
    table = ModelTable({"m": ModelSpec(max_example_tokens=30, training_price_per_million=1.0)})
    limit = TokenLimit.for_model(table, "ft:m:acme::x")
    assert (limit.model, limit.max_tokens) == ("ft:m:acme::x", 30)
