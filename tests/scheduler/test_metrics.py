"""What `tuneloop scheduler` exposes: the store's figures after real cycles (decisions, how
cycles ended, the open cycle's stage, the active model), and the process itself serving
/metrics and /healthz with its log lines as JSON."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import threading
from pathlib import Path

import httpx2
import pytest
from prometheus_client import generate_latest
from sqlalchemy import select
from typer.testing import CliRunner

from curation.db import Database
from scheduler.records import CycleOutcome, Decision
from scheduler.registry import ActiveModelLookup, Registry
from tests.scheduler.conftest import BASE_MODEL, E2E_BASE_MODEL, FAQ, Harness
from tests.scheduler.helpers import add_examples
from tests.scheduler.test_cycle import POISON, seed
from tests.scheduler.test_processes import CLI, _env
from tests.scrape import Scrape, free_port
from tuneloop.cli import app
from tuneloop.metrics import Metrics, StoreCollector


def _scrape(metrics: Metrics) -> Scrape:
    return Scrape.parse(generate_latest(metrics.registry).decode())


def test_decisions_cycle_outcomes_stage_and_active_model_come_from_the_store(
    harness: Harness,
) -> None:
    runner = harness.runner()
    metrics = Metrics()
    lookup = ActiveModelLookup(harness.db, default=BASE_MODEL)
    metrics.watch(StoreCollector(harness.db, active_model=lookup, new_examples=runner.new_examples))
    empty = _scrape(metrics)
    assert empty.value("tuneloop_gate_decisions_total", verdict="promote") == 0
    assert "tuneloop_last_gate_decision_timestamp_seconds" not in empty.families
    assert empty.value("tuneloop_active_model_info", model=BASE_MODEL) == 1

    seed(harness.db)
    assert _scrape(metrics).value("tuneloop_new_approved_examples") == runner.new_examples() > 0
    assert runner.tick().outcome == CycleOutcome.PROMOTED
    good = Registry(harness.db).active().model
    add_examples(harness.db, [(q, POISON) for q, _ in FAQ], thread_prefix="poison")
    assert runner.tick().outcome == CycleOutcome.REJECTED
    add_examples(harness.db, [(q, f"{a} (v3)") for q, a in FAQ], thread_prefix="third")
    opened = runner.begin(force=True)  # opened, not advanced: it waits at its first stage

    scrape = _scrape(metrics)
    assert scrape.value("tuneloop_gate_decisions_total", verdict="promote") == 1
    assert scrape.value("tuneloop_gate_decisions_total", verdict="reject") == 1
    assert scrape.value("tuneloop_gate_decisions_total", verdict="insufficient_evidence") == 0
    assert scrape.value("tuneloop_retrain_cycles_total", outcome="promoted") == 1
    assert scrape.value("tuneloop_retrain_cycles_total", outcome="rejected") == 1
    assert opened.stage == "export"
    assert scrape.value("tuneloop_retrain_cycle_stage", stage="export") == 1
    assert scrape.value("tuneloop_retrain_cycle_stage", stage="idle") == 0
    assert scrape.value("tuneloop_active_model_info", model=good) == 1
    with harness.db.read_session() as session:
        last = session.scalars(select(Decision.decided_at).order_by(Decision.id.desc())).first()
    assert scrape.value("tuneloop_last_gate_decision_timestamp_seconds") == pytest.approx(
        last.timestamp()
    )


@pytest.mark.slow
def test_the_scheduler_serves_metrics_and_health_and_logs_json_lines(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    port = free_port()
    environment = _env(
        database_url,
        tmp_path,
        TUNELOOP_METRICS_PORT=str(port),
        TUNELOOP_LOG_FORMAT="json",
        TUNELOOP_LOG_LEVEL="info",
    )
    process = subprocess.Popen(
        [*CLI, "scheduler"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [said.put(line) for line in stdout], daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        lines: list[str] = []
        while not any(line.startswith("metrics: ") for line in lines):
            try:
                lines.append(said.get(timeout=60))
            except queue.Empty:
                process.kill()
                raise AssertionError(f"no metrics line: {lines} {process.stderr}") from None
        assert f"metrics: {base}/metrics (health: /healthz)\n" in lines
        health = httpx2.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json() == {"ok": True, "leader": True, "active_model": E2E_BASE_MODEL}
        scrape = Scrape.get(f"{base}/metrics")
        assert scrape.value("tuneloop_scheduler_leader") == 1
        assert scrape.value("tuneloop_store_up") == 1
        assert scrape.value("tuneloop_retrain_cycle_stage", stage="idle") == 1
        assert httpx2.get(f"{base}/other", timeout=10).status_code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    records = [json.loads(line) for line in errors.splitlines() if line.strip()]
    assert records, "the scheduler logged nothing"
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
    assert any("leads the scheduler" in r["message"] for r in records)


def test_a_taken_metrics_port_is_refused_with_the_setting_named(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in _env(database_url, tmp_path).items():
        monkeypatch.setenv(name, value)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("TUNELOOP_METRICS_PORT", str(taken.getsockname()[1]))
        result = CliRunner().invoke(app, ["scheduler"])
    assert result.exit_code == 1
    assert "TUNELOOP_METRICS_PORT" in result.output and "Traceback" not in result.output
