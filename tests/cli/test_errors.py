"""What a person gets wrong ends in a message naming the variable, the value and what is
allowed, with exit status 1 and no traceback, through the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from curation.db import Database
from curation.store import Store
from tests.conftest import REPO_ROOT, REVIEWERS, ask
from tuneloop.cli import app

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("TUNELOOP_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    """The command's exit status and its output (stdout and stderr); a command that raised
    instead of exiting fails the test, as it would print a traceback."""
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "postgres://tl:secret@db.internal/tuneloop",
            "DATABASE_URL='postgres://tl:***@db.internal/tuneloop': the scheme is postgresql://, "
            "not postgres:// (SQLAlchemy reads only the first); use "
            "'postgresql://tl:***@db.internal/tuneloop'",
        ),
        (
            "garbage",
            "DATABASE_URL='garbage' is not a database URL: use sqlite:///PATH/TO/FILE.db or "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
        ),
        ("mysql://u@h/db", "DATABASE_URL='mysql://u@h/db': tuneloop stores its data in SQLite"),
        (
            "postgresql://tl@127.0.0.1:1/tuneloop",
            "cannot open the database DATABASE_URL='postgresql://tl@127.0.0.1:1/tuneloop': ",
        ),
    ],
)
def test_a_database_url_it_cannot_use(
    env: Path, monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    for command in (["stats"], ["db", "upgrade"]):
        code, out = run(*command)
        assert code == 1 and f"error: {said}" in out, out
        assert "secret" not in out


def test_an_unreachable_server_gets_a_hint(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://tl@127.0.0.1:1/tuneloop")
    code, out = run("review", "list")
    assert code == 1 and "Connection refused" in out
    assert "(is the server running, and listening on that host and port?)" in out


def test_a_database_that_does_not_exist(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        pytest.skip("TEST_DATABASE_URL is not set")
    url = make_url(server).set(database="tuneloop_no_such_db").render_as_string(False)
    monkeypatch.setenv("DATABASE_URL", url)
    code, out = run("status")
    assert code == 1 and 'database "tuneloop_no_such_db" does not exist' in out
    assert "create it (`createdb NAME`, or CREATE DATABASE), then run `tuneloop db upgrade`" in out


def test_a_sqlite_file_in_a_folder_that_does_not_exist(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = env / "typo" / "tuneloop.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    code, out = run("db", "upgrade")
    assert code == 1 and f"the folder {missing.parent} does not exist" in out
    assert not missing.parent.exists()
    # A command that only reads says there is no store there.
    code, out = run("stats")
    assert code == 1 and f"no store here: {missing} does not exist" in out
    assert not missing.parent.exists()
    # The data folder is tuneloop's own: it is made on first use.
    monkeypatch.delenv("DATABASE_URL")
    code, out = run("db", "upgrade")
    assert code == 0 and (env / "data" / "tuneloop.db").is_file()


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        (
            "TUNELOOP_GRADER",
            "foo",
            "invalid setting: TUNELOOP_GRADER='foo': Input should be 'similarity', 'exact' or "
            "'judge'",
        ),
        (
            "TUNELOOP_EVAL_FRACTION",
            "2",
            "invalid setting: TUNELOOP_EVAL_FRACTION='2': Input should be less than 1",
        ),
        (
            "TUNELOOP_RETRAIN_CRON",
            "0 3 * *",
            "invalid setting: TUNELOOP_RETRAIN_CRON='0 3 * *': Wrong number of fields; got 4, "
            "expected 5; a crontab expression has five fields (minute hour day-of-month month "
            "day-of-week, in UTC), such as '0 3 * * *'",
        ),
        (
            "TUNELOOP_RETRAIN_CRON",
            "0 25 * * *",
            "invalid setting: TUNELOOP_RETRAIN_CRON='0 25 * * *': Error validating expression "
            "'25': the last value (25) is higher than the maximum value (23)",
        ),
    ],
)
def test_an_invalid_setting(
    env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv(name, value)
    for command in (["stats"], ["scheduler"], ["serve"]):
        code, out = run(*command)
        assert code == 1 and f"error: {said}" in out, out


def test_several_invalid_settings_are_listed(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNELOOP_GRADER", "foo")
    monkeypatch.setenv("TUNELOOP_EVAL_FRACTION", "2")
    code, out = run("status")
    assert code == 1 and "error: invalid settings - TUNELOOP_EVAL_FRACTION='2'" in out
    assert "- TUNELOOP_GRADER='foo'" in out


def test_a_misspelt_variable_is_warned_with_the_closest_name(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNELOOP_GRADR", "exact")
    (env / ".env").write_text(
        "TUNELOOP_REVIEWRS=U1\nTUNELOOP_EVAL_FRACTION=0.1\n"
        # A typo of a shared name tuneloop reads; another program's setting is its own.
        "DATABSE_URL=sqlite:///elsewhere.db\nAWS_REGION=eu-west-2\n"
    )
    code, out = run("db", "upgrade")
    assert code == 0
    assert (
        "warning: TUNELOOP_GRADR (in the environment) is not a tuneloop setting and is ignored; "
        "did you mean TUNELOOP_GRADER?" in out
    )
    assert "warning: TUNELOOP_REVIEWRS (in .env) is not a tuneloop setting" in out
    assert "did you mean TUNELOOP_REVIEWERS?" in out
    assert "warning: DATABSE_URL (in .env) is not a tuneloop setting" in out
    assert "did you mean DATABASE_URL?" in out
    assert "TUNELOOP_EVAL_FRACTION" not in out  # a real setting is not warned about
    assert "AWS_REGION" not in out
    assert out.count("warning:") == 3  # once each, however often the command loads settings


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuneloop", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        timeout=120,
    )


def test_tiktoken_files_missing_offline(env: Path) -> None:
    """A fresh interpreter, so tiktoken's encodings are not already loaded; its download goes
    to a proxy that refuses connections, as an offline machine's would fail."""
    cache = env / "empty-tiktoken-cache"
    cache.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("TUNELOOP_")}
    base.pop("DATABASE_URL", None)
    done = _cli(
        ["seeds", "import", "--sample"],
        {
            **base,
            "TUNELOOP_DATA_DIR": str(env / "data"),
            "TIKTOKEN_CACHE_DIR": str(cache),
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "https_proxy": "http://127.0.0.1:9",
        },
        env,
    )
    said = " ".join(done.stderr.split())
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert (
        f"error: tiktoken cannot load its o200k_base encoding (TIKTOKEN_CACHE_DIR={cache})" in said
    )
    assert "Offline, set TIKTOKEN_CACHE_DIR to a folder holding tiktoken's cached" in said


def test_the_script_itself_prints_no_traceback(env: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TUNELOOP_")}
    done = _cli(["status"], {**base, "DATABASE_URL": "postgres://u@h/db"}, env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error: DATABASE_URL='postgres://u@h/db': the scheme is postgresql://" in done.stderr


def test_demo_refuses_a_database_that_holds_data(database_url: str, env: Path) -> None:
    db = Database.open(database_url)
    store = Store.build(db, reviewers=REVIEWERS)
    ask(store, "Where is the VPN portal?", "vpn.example")
    db.dispose()
    for command in ("demo", "chat"):
        code, out = run(command, "--db", database_url)
        assert code == 1 and "already holds data (in exchanges)" in out, out
        assert "the demo needs an empty database of its own" in out
    db = Database.open(database_url)
    assert Store.build(db, reviewers=REVIEWERS).review.list(None) == []
    db.dispose()


def test_demo_names_its_option_in_a_bad_url(env: Path) -> None:
    code, out = run("demo", "--db", "postgres://u@h/db")
    assert code == 1 and "error: --db='postgres://u@h/db': the scheme is postgresql://" in out
