"""`tuneloop chat` driven through stdin: ask, flag, correct, approve as the reviewer, retrain
(the background scheduler decides), and the status, all through the real Slack surface."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
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


@pytest.mark.parametrize("transport", ["HTTP", "Socket Mode"])
def test_a_chat_session_flags_corrects_approves_and_retrains(transport: str) -> None:
    args = ["chat", "--socket-mode"] if transport == "Socket Mode" else ["chat"]
    result = CliRunner().invoke(cli_app, args, input=SESSION)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"The bot hears the local workspace over {transport}." in out
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
    # The bot's Slack mrkdwn is shown as Slack shows it, not with its markers.
    assert "Active model: " in out and "*Active model:*" not in out
    assert "unknown command /frobnicate" in out
    assert "Everyone gets 25 days of annual leave" in out  # a question the seeds taught
    assert "👍 recorded" in out and out.rstrip().endswith("bye")


def test_retrain_with_nothing_new_says_so_unless_forced() -> None:
    # Right after the set-up's first run, nothing is new: the seeds were trained on.
    result = CliRunner().invoke(cli_app, ["chat"], input="/retrain\n/retrain --force\n/quit\n")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Nothing new to train on: no approved examples since the last run" in out
    assert out.count("Retraining run") == 1 and "Retraining run 2 started" in out


#: Rich markup, a link, an emoji code and an ANSI escape: a question with `[/]` once crashed
#: the session (and with it, its temporary workspace).
HOSTILE = "[/] [bold]b[/bold] [link=u]y[/link] :smile: \x1b[31mr"
SHOWN = "[/] [bold]b[/bold] [link=u]y[/link] :smile: \\x1b[31mr"


def test_hostile_text_is_shown_as_written_and_the_session_goes_on() -> None:
    session = f"Q {HOSTILE}\n/flag\n/correct C {HOSTILE}\n/queue\n/approve all\n/quit\n"
    result = CliRunner().invoke(cli_app, ["chat"], input=session)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "\x1b" not in out and "😄" not in out
    assert f"#1 correction: 'Q {SHOWN}' -> 'C {SHOWN}'" in out  # /queue
    assert f"approving #1: 'Q {SHOWN}' -> 'C {SHOWN}'" in out  # /approve shows what it trains
    assert "approved #1 as example" in out and out.rstrip().endswith("bye")


def test_queue_pages_and_approve_shows_each_item() -> None:
    from rich.console import Console

    from curation.models import FeedbackKind
    from tests.conftest import ask
    from tuneloop.chat import open_chat

    out = Console(record=True, width=300)
    with open_chat(out) as chat:
        store = chat.world.store
        ids = []
        for n in range(QUEUE_ITEMS):
            exchange = ask(store, f"question {n}", f"answer {n}")
            if n % 2:
                ids.append(store.capture.add_correction(exchange, "UFIX", f"fixed {n}")[1].id)
            else:
                ids.append(store.capture.add_feedback(exchange, "UFLAG", FeedbackKind.FLAG)[1].id)
        out.export_text()  # forget the set-up's lines
        chat.handle("/queue")
        first = out.export_text()
        assert [f"#{i} " in first for i in ids] == [True] * 20 + [False] * 5
        assert f"{QUEUE_ITEMS} in the queue; /queue more for the next 20" in first
        chat.handle("/queue more")
        second = out.export_text()
        assert [f"#{i} " in second for i in ids] == [False] * 20 + [True] * 5
        chat.handle("/queue more")
        assert "no more items in the queue" in out.export_text()

        chat.handle(f"/approve #{ids[1]}")
        said = out.export_text()
        assert f"approving #{ids[1]}: 'question 1' -> 'fixed 1'" in said
        assert f"approved #{ids[1]} as example" in said
        # The Home tab lists the oldest items; flags (nothing to approve) fill it up in the end.
        chat.handle("/approve all")
        said = out.export_text()
        shown = [n for n in range(QUEUE_ITEMS) if f"'question {n}' -> 'fixed {n}'" in said]
        assert shown and all(n % 2 and n != 1 for n in shown)
        assert said.count("approved #") == len(shown)
        assert f"approved {len(shown)} item(s) from App Home" in said
        left = [n for n in range(QUEUE_ITEMS) if n % 2 and n != 1 and n not in shown]
        assert f"{len(left)} more correction(s) wait behind the items the Home tab" in said


QUEUE_ITEMS = 25


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


def test_approve_all_says_which_corrections_wait_for_a_personal_data_decision() -> None:
    session = """\
Where do I park?
/correct Ask reception at parking@fernhill.example.
/approve all
/quit
"""
    result = CliRunner().invoke(cli_app, ["chat"], input=session)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "approved 0 item(s) from App Home" in out
    assert "#1's reply holds personal data: /approve 1 keep" in out
    assert "wait behind the items" not in out
