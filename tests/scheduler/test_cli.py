"""The commands: retrain, status, models, eval, through the real CLI against the stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from curation.db import Database
from curation.models import Split
from scheduler.records import RetrainCycle
from tests.conftest import Travel
from tests.scheduler.conftest import E2E_BASE_MODEL as BASE_MODEL
from tests.scheduler.conftest import FAQ
from tests.scheduler.helpers import add_examples, golden_pairs, held_out_pairs
from tuneloop.cli import app

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TUNELOOP_PROVIDER", "local")
    monkeypatch.setenv("TUNELOOP_BASE_MODEL", BASE_MODEL)
    monkeypatch.setenv("TUNELOOP_LOCAL_OPENAI_STAGE_SECONDS", "0")
    monkeypatch.setenv("TUNELOOP_LOCAL_OPENAI_LOAD_DELAY_SECONDS", "0")
    monkeypatch.setenv("TUNELOOP_MIN_NEW_EXAMPLES", "10")
    monkeypatch.setenv("TUNELOOP_GATE_MIN_EVAL_ITEMS", "10")
    monkeypatch.setenv("TUNELOOP_REVIEWERS", "UREVIEW1")
    return database_url


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def seed(db: Database) -> None:
    add_examples(db, FAQ, split=Split.TRAIN, thread_prefix="train")
    add_examples(db, golden_pairs(FAQ[:8]), golden=True, thread_prefix="golden")
    add_examples(db, held_out_pairs(FAQ[8:]), split=Split.EVAL, thread_prefix="held")


def test_retrain_status_and_models_as_json(env: str, db: Database) -> None:
    code, out = run("retrain", "--json")
    assert code == 0 and json.loads(out)["cycle_id"] is None
    assert "0 new approved examples" in json.loads(out)["note"]
    seed(db)
    code, out = run("status", "--json")
    status = json.loads(out)
    assert (status["new_examples"], status["open_cycle"]) == (16, None)
    assert status["active_model"] == {"model": BASE_MODEL, "promoted": False, "since": None}
    code, out = run("retrain", "--wait", "--json", "--poll-seconds", "0")
    assert code == 0, out
    report = json.loads(out)
    assert report["outcome"] == "promoted" and report["started"] is True
    code, out = run("status", "--json")
    status = json.loads(out)
    candidate = status["active_model"]["model"]
    assert candidate.startswith(f"ft:{BASE_MODEL}:local:tuneloop:")
    assert status["recent_decisions"][0]["verdict"] == "promote"
    assert status["recent_cycles"][0]["outcome"] == "promoted"
    code, out = run("models", "list", "--json")
    listed = json.loads(out)
    assert [m["model"] for m in listed["models"] if m["active"]] == [candidate]
    assert [h["action"] for h in listed["history"]] == ["promote", "bootstrap"]


def test_promote_and_rollback_by_hand_are_audited(env: str, db: Database) -> None:
    seed(db)
    assert run("retrain", "--now", "--wait", "--poll-seconds", "0")[0] == 0
    code, out = run("models", "rollback", "--reason", "answers feel off", "--json")
    assert code == 0, out
    change = json.loads(out)
    assert (change["to_model"], change["actor"]) == (BASE_MODEL, "UREVIEW1")
    code, out = run("models", "rollback", "--reason", "again")
    assert code == 1 and "nothing earlier" in out
    candidate = change["from_model"]
    code, out = run("models", "promote", candidate, "--reason", "fixed", "-r", "UNOBODY")
    assert code == 1 and "not one of TUNELOOP_REVIEWERS" in out
    code, out = run("models", "promote", candidate, "--reason", "fixed", "--json")
    assert code == 0 and json.loads(out)["to_model"] == candidate


def test_manual_promotion_refuses_a_model_that_shuts_down_soon(
    env: str, monkeypatch: pytest.MonkeyPatch, travel: Travel
) -> None:
    travel(datetime(2026, 11, 21, 12, tzinfo=UTC))  # "54 days from now" whatever today is
    monkeypatch.setenv("TUNELOOP_GATE_SHUTDOWN_DAYS", "60")
    code, out = run("models", "promote", "gpt-4o-2024-08-06", "--reason", "try it")
    assert code == 1 and "shuts down on 2027-01-14, 54 days from now" in out
    code, out = run("models", "promote", "gpt-4o-2024-08-06", "--reason", "try", "--force")
    assert code == 0, out


def test_eval_reports_the_gate_without_promoting(env: str, db: Database) -> None:
    seed(db)
    assert run("retrain", "--now", "--wait", "--poll-seconds", "0")[0] == 0
    code, out = run("models", "list", "--json")
    candidate = next(m["model"] for m in json.loads(out)["models"] if m["active"])
    code, out = run("eval", "--candidate", BASE_MODEL, "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["incumbent"] == candidate and data["verdict"] == "reject"
    assert data["summary"]["outcomes"]["loss"] == 12
    code, out = run("eval", "--candidate", candidate, "--incumbent", BASE_MODEL)
    assert code == 0 and "12 wins" in out and "nothing promoted" in out
    assert "evaluating: 0/12 items\nevaluating: 12/12 items\n" in out  # progress as stored
    code, out = run("status", "--json")
    assert json.loads(out)["active_model"]["model"] == candidate


def test_a_refused_run_exits_non_zero(env: str, db: Database, monkeypatch) -> None:
    seed(db)
    monkeypatch.setenv("TUNELOOP_BUDGET_PER_RUN_USD", "0")
    code, out = run("retrain", "--now")
    assert code == 1 and "over budget" in out


def test_retrain_now_with_nothing_new_says_so_unless_forced(env: str, db: Database) -> None:
    """A second `retrain --now` on the same examples would train (and, on a hosted provider,
    pay for) the same model again: refused as Slack's `/tuneloop retrain` refuses it."""
    seed(db)
    assert run("retrain", "--now", "--wait", "--poll-seconds", "0")[0] == 0
    code, out = run("retrain", "--now", "--wait", "--poll-seconds", "0")
    assert code == 1 and "Nothing new to train on" in out
    assert "`tuneloop retrain --now --force` starts one anyway" in out
    with db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(RetrainCycle)) == 1
    code, out = run("retrain", "--now", "--force", "--wait", "--poll-seconds", "0")
    assert code == 0, out
    with db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(RetrainCycle)) == 2


def test_plain_status_shows_a_run_whose_job_failed(env: str, db: Database) -> None:
    from curation.models.base import utcnow
    from scheduler.records import CycleOutcome, CycleStage, RetrainCycle

    with db.session() as s:
        s.add(
            RetrainCycle(
                trigger="schedule",
                requested_by="tuneloop:scheduler",
                strategy="full",
                method="supervised",
                new_examples=16,
                stage=CycleStage.TRAIN,
                outcome=CycleOutcome.TRAINING_FAILED,
                is_open=False,
                closed_at=utcnow(),
                note="fine-tuning job ftjob-1 failed: invalid_training_file: [line 3] bad",
            )
        )
    code, out = run("status")
    assert code == 0, out
    assert "recent runs" in out and "training_failed" in out
    assert "invalid_training_file" in out and "[line 3]" in out  # kept, not read as markup


def test_manual_promotion_probes_the_model_first(env: str) -> None:
    missing = f"ft:{BASE_MODEL}:acme::missing"
    code, out = run("models", "promote", missing, "--reason", "a typo")
    assert code == 1
    assert "is not served by the provider (HTTP 404 model_not_found); not promoted" in out
    assert "--force" in out
    code, out = run("models", "list", "--json")
    assert json.loads(out)["models"] == []  # nothing was promoted, nothing bootstrapped
    code, out = run("models", "promote", missing, "--reason", "I know", "--force", "--json")
    assert code == 0 and json.loads(out)["to_model"] == missing, out


def test_an_openai_folder_without_a_key_is_told_it_trains_on_the_stand_in(
    env: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its figures (and the stand-in's "cost") must not pass for OpenAI's."""
    seed(db)
    monkeypatch.delenv("TUNELOOP_PROVIDER", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("TUNELOOP_TRAINER", "openai")
    result = runner.invoke(app, ["retrain", "--now", "--wait", "--poll-seconds", "0"])
    assert result.exit_code == 0, result.output
    assert "local OpenAI stand-in (OPENAI_API_KEY is not set)" in result.stderr
    monkeypatch.setenv("TUNELOOP_PROVIDER", "local")  # chosen on purpose: nothing to say
    result = runner.invoke(app, ["retrain", "--now", "--wait", "--poll-seconds", "0"])
    assert "stand-in" not in result.stderr
