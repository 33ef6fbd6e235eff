"""Text from people and models is never terminal markup: rich markup, emoji codes, links and
ANSI escapes in questions, answers, corrections, reasons and model ids are shown as written
by every command that prints them (nothing vanishes, nothing crashes, nothing recolours the
terminal)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from curation.db import Database
from curation.store import Store
from tests.conftest import REVIEWERS, ask
from tuneloop.cli import app, output

#: Each piece would be eaten, crash the command or reach the terminal as a control sequence
#: if it were read as markup.
HOSTILE = "[/] [bold]b[/bold] [link=u]y[/link] :smile: \x1b[31mr"
#: How it must look on the terminal: the same text, with the ESC shown as an escape.
SHOWN = "[/] [bold]b[/bold] [link=u]y[/link] :smile: \\x1b[31mr"

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Store:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TUNELOOP_REVIEWERS", REVIEWERS[0])
    monkeypatch.setenv("TUNELOOP_PROVIDER", "local")
    monkeypatch.setattr(output.console, "width", 400)  # one table row a line
    db = Database.open(database_url)
    yield Store.build(db, reviewers=REVIEWERS)
    db.dispose()


def shows(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "😄" not in result.output
    assert SHOWN in result.output, result.output
    return result.output


def test_every_command_shows_hostile_text_as_written(env: Store) -> None:
    exchange = ask(env, f"Q {HOSTILE}", f"A {HOSTILE}")
    _, item, _ = env.capture.add_correction(exchange, "UFIX", f"C {HOSTILE}")
    out = shows("review", "list")
    assert f"Q {SHOWN}" in out and f"A {SHOWN}" in out and f"C {SHOWN}" in out
    out = shows("review", "show", str(item.id))
    assert f"question: Q {SHOWN}" in out and f"correction: C {SHOWN}" in out
    result = runner.invoke(app, ["review", "approve", str(item.id), "--reason", HOSTILE])
    assert result.exit_code == 0, result.output
    out = shows("review", "show", str(item.id))
    assert f"reason: {SHOWN}" in out
    example_id = env.review.get(item.id).example_id
    out = shows("examples", "show", str(example_id))
    assert f"target: C {SHOWN}" in out

    model = f"ft:x:{HOSTILE}"
    out = shows("models", "promote", model, "--force", "--reason", HOSTILE)
    assert out.count(SHOWN) == 2  # the model id and the reason
    out = shows("models", "list")
    shows("status")
    out = shows("models", "rollback", "--reason", "back")
    assert f"(was ft:x:{SHOWN})" in out
