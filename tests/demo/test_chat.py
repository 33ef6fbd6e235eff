"""`tuneloop chat` driven through stdin: ask, flag, correct, approve as the reviewer, retrain
(the background scheduler decides), and the status, all through the real Slack surface."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from tuneloop.cli import app as cli_app

SHARED = Path(__file__).resolve().parents[3] / "shared"
if (SHARED / "tiktoken").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken"))

SESSION = """\
Is there a cycle to work scheme?
/flag
/correct Yes: apply at cyclescheme.fernhill.example.
/queue
/approve all
/retrain
/wait
/frobnicate
How many days holiday do we get?
/up
/quit
"""


def test_a_chat_session_flags_corrects_approves_and_retrains() -> None:
    result = CliRunner().invoke(cli_app, ["chat"], input=SESSION)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "first run: promoted" in out
    assert "I don't know that yet" in out  # the first model has not learned this topic
    assert "flagged for review" in out
    assert "Your correction was sent for review (review item #1)" in out
    assert "#1 correction: 'Is there a cycle to work scheme?'" in out
    assert "approved 1 item(s) from App Home" in out
    assert "Retraining run 2 started" in out
    # The background scheduler took the run to a decision (one example is too little
    # evidence, so the gate keeps the current model) and the status says so.
    assert "no run open" in out and "Last decision" in out
    assert "unknown command /frobnicate" in out
    assert "Everyone gets 25 days of annual leave" in out  # a question the seeds taught
    assert "👍 recorded" in out and out.rstrip().endswith("bye")


def test_approve_by_number_explains_a_reply_with_personal_data_and_can_keep_it() -> None:
    session = """\
Who do I call about a broken laptop?
/correct Call Jane Doe on +44 20 7946 0958, she fixes laptops.
/approve #1
/approve 1 keep
/approve 7
/quit
"""
    result = CliRunner().invoke(cli_app, ["chat"], input=session)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "no button" not in out
    assert "#1's reply holds personal data" in out and "/approve 1 keep" in out
    assert "Approved #1, keeping its personal data" in out
    assert "#7 is not in your review queue" in out
