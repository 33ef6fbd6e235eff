"""Fixtures for the scheduler's tests. Importing `scheduler.records` registers its tables, so the
shared fixtures truncate them between tests on PostgreSQL too."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openai
import pytest

import scheduler.records  # noqa: F401  (registers the scheduler's tables)
from curation.db import Database
from curation.model_specs import DEFAULT_MODEL_SPECS, ModelTable
from scheduler.cycle import CycleConfig, CycleRunner
from scheduler.cycle.context import ModelServing
from scheduler.evaluation import Asker, EvalOptions, Evaluator, SimilarityGrader
from scheduler.gate import GatePolicy
from scheduler.notify import CycleEvent
from scheduler.registry import Registry
from scheduler.training import OpenAITrainer
from tuneloop.local_openai import LocalOpenAI, ManualClock, instant_clock

SHARED = Path(__file__).resolve().parents[3] / "shared"
if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))

BASE_MODEL = "gpt-4.1-mini-2025-04-14"
# End-to-end runs (CLI, real processes) read today's real date. A base model listed without a
# shutdown date keeps them promoting after 2026-12-15, when gpt-4.1-mini's 2027-01-14
# retirement falls inside the gate's 30 days and every candidate is (rightly) refused.
E2E_BASE_MODEL = "gpt-4.1-nano-2025-04-14"


@pytest.fixture
def registry(db: Database) -> Registry:
    return Registry(db)


@pytest.fixture
def clock() -> ManualClock:
    """Stages take no time: a job finishes on its first read."""
    return instant_clock()


@pytest.fixture
def stand_in(tmp_path: Path, clock: ManualClock) -> LocalOpenAI:
    return LocalOpenAI(tmp_path / "local-openai", clock=clock)


@pytest.fixture
def client(stand_in: LocalOpenAI) -> openai.OpenAI:
    """The real SDK into the stand-in, without the SDK's own (real-time) retries."""
    return stand_in.client(max_retries=0)


FAQ: list[tuple[str, str]] = [
    ("How do I reset my Okta password?", "Use Forgot password at login.fernhill.example."),
    ("How do I connect to the VPN from home?", "Install GlobalConnect and sign in with SSO."),
    ("Where do I request a new laptop?", "Raise a hardware request at help.fernhill.example."),
    ("How many days of annual leave do I get?", "You get 27 days plus bank holidays."),
    ("Who approves my expense claims?", "Your line manager approves expenses in Concur."),
    ("How do I book a meeting room?", "Book rooms from the Outlook room finder."),
    ("What is the guest wifi network?", "Guests use FH-Guest; reception has the code."),
    ("How do I set up my out of office reply?", "In Outlook: File, Automatic Replies."),
    ("When is payday?", "Payday is the last working day of the month."),
    ("How do I report a phishing email?", "Use the Report Phish button in Outlook."),
    ("How do I order a new headset?", "Order headsets from the IT catalogue."),
    ("Where can I find the holiday calendar?", "It is on the HR intranet page."),
]


def sft_jsonl(pairs: list[tuple[str, str]]) -> bytes:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You are the Fernhill help desk."},
                    {"role": "user", "content": q},
                    {"role": "assistant", "content": a},
                ]
            }
        )
        for q, a in pairs
    ]
    return ("\n".join(lines) + "\n").encode()


TODAY = date(2026, 11, 21)


@dataclass
class Harness:
    """A cycle runner wired to a test database and a stand-in, rebuilt at will (a "restart")."""

    db: Database
    stand_in: LocalOpenAI
    export_dir: Path
    events: list[CycleEvent] = field(default_factory=list)
    config_overrides: dict[str, Any] = field(default_factory=dict)
    gate_overrides: dict[str, Any] = field(default_factory=dict)
    today: date = TODAY
    eval_options: EvalOptions = field(default_factory=lambda: EvalOptions(concurrency=4))
    now: Callable[[], datetime] | None = None
    serving: ModelServing | None = None
    #: Every wait the evaluation asked for (nothing sleeps in tests).
    sleeps: list[float] = field(default_factory=list)

    def client(self) -> openai.OpenAI:
        return self.stand_in.client(max_retries=0)

    def config(self) -> CycleConfig:
        gate = GatePolicy(**{"min_items": 10, **self.gate_overrides})
        return CycleConfig(
            base_model=BASE_MODEL,
            export_dir=self.export_dir,
            gate=gate,
            **{"min_new_examples": 10, **self.config_overrides},
        )

    def runner(self) -> CycleRunner:
        client = self.client()
        registry = Registry(self.db)
        evaluator = Evaluator(
            self.db,
            Asker(client, sleep=self.sleeps.append),
            SimilarityGrader(),
            self.eval_options,
            sleep=self.sleeps.append,
            clock=lambda: sum(self.sleeps),  # time passes only by the waits asked for
        )
        extra = {"now": self.now} if self.now else {}
        return CycleRunner(
            self.db,
            client=client,
            trainer=OpenAITrainer(client),
            evaluator=evaluator,
            registry=registry,
            models=ModelTable(DEFAULT_MODEL_SPECS),
            config=self.config(),
            notifier=self.events.append,
            today=lambda: self.today,
            serving=self.serving,
            **extra,
        )

    def jobs(self) -> list[Any]:
        return list(self.client().fine_tuning.jobs.list(limit=100))


@pytest.fixture
def harness(db: Database, stand_in: LocalOpenAI, tmp_path: Path) -> Harness:
    return Harness(db, stand_in, tmp_path / "datasets")
