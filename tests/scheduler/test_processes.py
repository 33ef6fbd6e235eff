"""Real processes: a `tuneloop retrain --wait` killed with -9 resumes with one job, and two
`tuneloop scheduler` processes elect one leader and hand over cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from curation.db import Database
from scheduler.records import SchedulerLease, TrainingRun
from tests.scheduler.conftest import E2E_BASE_MODEL, SHARED
from tests.scheduler.test_cli import seed
from tuneloop.local_openai import LocalOpenAI

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from tuneloop.cli import main; main()"]


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "TUNELOOP_DATA_DIR": str(tmp_path / "data"),
        "TUNELOOP_PROVIDER": "local",
        "TUNELOOP_BASE_MODEL": E2E_BASE_MODEL,
        "TUNELOOP_LOCAL_OPENAI_STAGE_SECONDS": "0.4",
        "TUNELOOP_LOCAL_OPENAI_LOAD_DELAY_SECONDS": "0.2",
        "TUNELOOP_MIN_NEW_EXAMPLES": "10",
        "TUNELOOP_GATE_MIN_EVAL_ITEMS": "10",
        # The environment's own cache wins (an air-gapped CI may keep it elsewhere).
        "TIKTOKEN_CACHE_DIR": os.environ.get("TIKTOKEN_CACHE_DIR") or str(SHARED / "tiktoken"),
        **extra,
    }
    env.pop("TUNELOOP_REVIEWERS", None)
    return env


def _wait_for(condition, timeout: float = 30.0) -> None:
    """Wait for another process to reach a state (it runs in real time; this test cannot)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the other process never got there")
        time.sleep(0.05)


def test_kill_9_during_retrain_wait_resumes_with_exactly_one_job(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    seed(db)
    env = _env(database_url, tmp_path)
    first = subprocess.Popen(
        [*CLI, "retrain", "--wait", "--poll-seconds", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def job_recorded() -> bool:
        with db.read_session() as s:
            return bool(s.scalar(select(TrainingRun.job_id)))

    try:
        _wait_for(job_recorded)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    second = subprocess.run(
        [*CLI, "retrain", "--wait", "--json", "--poll-seconds", "0.1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["outcome"] == "promoted" and report["started"] is False
    stand_in = LocalOpenAI(tmp_path / "data" / "local-openai")
    assert len(list(stand_in.client().fine_tuning.jobs.list())) == 1
    with db.read_session() as s:
        assert len(list(s.scalars(select(TrainingRun)))) == 1


class Process:
    """A `tuneloop` process (`tuneloop scheduler` unless told) whose output lines can be
    awaited."""

    def __init__(self, env: dict[str, str], command: tuple[str, ...] = ("scheduler",)) -> None:
        self.proc = subprocess.Popen(
            [*CLI, *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, text: str, timeout: float = 30.0) -> None:
        while not any(text in line for line in self.seen):
            try:
                self.seen.append(self.lines.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in {self.seen}") from None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def test_two_schedulers_elect_one_leader_and_hand_over_on_sigterm(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    env = _env(database_url, tmp_path, TUNELOOP_SCHEDULER_LEASE_SECONDS="3")
    a = Process(env)
    b: Process | None = None
    try:
        a.expect("tuneloop scheduler started")
        b = Process(env)
        b.expect("tuneloop scheduler started")
        assert any("leading" in line for line in a.seen)
        assert any("standing by" in line for line in b.seen)
        assert not any("leading" in line for line in b.seen)
        assert a.stop() == 0
        a.expect("tuneloop scheduler stopped")
        b.expect("leading")  # took over once a handed the lease back
        with db.read_session() as s:
            lease = s.get(SchedulerLease, "scheduler")
            assert lease is not None and f":{b.proc.pid}:" in lease.holder
        assert b.stop() == 0
        with db.read_session() as s:
            released = s.get(SchedulerLease, "scheduler")
            # Released on shutdown: no holder, and the token kept for the next acquisition.
            assert released is not None and released.holder == "" and released.token == 2
    finally:
        for process in (a, b):
            if process is not None and process.proc.poll() is None:
                process.proc.kill()
