"""`tuneloop demo` end to end, on the real Bolt app, store, cycle and stand-in (instant clock):
two promotions, the improved answers, the poisoned batch refused, and the exit status."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import scheduler.records  # noqa: F401  (registers the scheduler's tables for truncation)
from tuneloop.cli import app as cli_app
from tuneloop.demo import Check, DemoSummary, run_demo
from tuneloop.demo.script import POISON, TOPICS
from tuneloop.local_openai import instant_clock

SHARED = Path(__file__).resolve().parents[3] / "shared"
if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))


def test_the_loop_learns_from_corrections_and_refuses_poison(
    database_url: str, tmp_path: Path
) -> None:
    summary = run_demo(database_url=database_url, data_dir=tmp_path, clock=instant_clock())
    assert summary.ok, [c for c in summary.checks if not c.passed]

    base, first, corrected, poisoned = summary.models
    assert [first.outcome, corrected.outcome, poisoned.outcome] == [
        "promoted",
        "promoted",
        "rejected",
    ]
    assert poisoned.verdict == "reject" and "golden" in poisoned.reason
    assert summary.active_model == corrected.model != first.model
    # The first model beats the base on the golden set; the poisoned one falls well below.
    assert first.golden_mean > base.golden_mean
    assert poisoned.golden_mean < corrected.golden_mean - 0.1
    # What the report's chart draws: each decision's figures with the thresholds it faced.
    for row in (first, corrected):
        assert row.thresholds is not None and row.p_value < row.thresholds.significance
        assert row.win_rate_lower_bound <= row.win_rate
    assert corrected.incumbent_golden_mean == first.golden_mean
    assert poisoned.golden_mean < poisoned.thresholds.golden_floor

    asked = sum(len(topic.wordings) for topic in TOPICS)
    numbers = summary.numbers
    assert numbers["unknown_before"] == asked
    assert numbers["approved_corrections"] == asked
    assert numbers["learned_after"] >= 0.9 * asked
    assert numbers["approved_poison"] == len(POISON)


@pytest.mark.parametrize("transport", ["http", "socket_mode"])
def test_the_command_prints_json_and_writes_the_report(tmp_path: Path, transport: str) -> None:
    report = tmp_path / "out" / "demo.md"
    socket_mode = ["--socket-mode"] if transport == "socket_mode" else []
    result = CliRunner().invoke(cli_app, ["demo", "--json", "--report", str(report), *socket_mode])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{") :])
    assert data["ok"] is True
    assert data["numbers"]["slack_transport"] == transport
    assert [m["outcome"] for m in data["models"]] == [
        "served first",
        "promoted",
        "promoted",
        "rejected",
    ]
    assert data["wall_seconds"] > 0  # measured and reported (its speed is bench territory)
    text = report.read_text()
    assert "| v3 (poisoned) |" in text and "![Why the gate decided" in text
    assert data["models"][2]["thresholds"]["null_win_rate"] == 0.5
    assert report.with_suffix(".png").read_bytes().startswith(b"\x89PNG")


def test_the_command_fails_naming_the_expectation_that_did_not_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = DemoSummary(checks=[Check("the gate rejects the poisoned model", False, "promoted")])
    monkeypatch.setattr("tuneloop.demo.run_demo", lambda **_: summary)
    result = CliRunner().invoke(cli_app, ["demo", "--report", str(tmp_path / "r.md")])
    assert result.exit_code == 1
    assert "the gate rejects the poisoned model" in result.output


@pytest.mark.parametrize("where", ["under_a_file", "a_folder"])
def test_a_report_path_that_cannot_be_written_fails_before_the_demo_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import tuneloop.demo

    def never(**_: object) -> None:
        raise AssertionError("the demo ran")

    monkeypatch.setattr(tuneloop.demo, "run_demo", never)
    (tmp_path / "afile").write_text("x")
    report = tmp_path / "afile" / "x.md" if where == "under_a_file" else tmp_path
    result = CliRunner().invoke(cli_app, ["demo", "--report", str(report)])
    assert result.exit_code == 1, result.output
    assert "--report" in result.stderr and "Traceback" not in result.output


def test_an_unknown_trainer_is_refused_naming_the_choices(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["demo", "--trainer", "lorra", "--report", str(tmp_path)])
    assert result.exit_code == 2
    assert "'lorra' is not one of 'openai', 'together', 'lora'" in result.output
    assert "Traceback" not in result.output
