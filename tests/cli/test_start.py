"""The command line starts without loading what a command does not use: `--help` loads neither
the database layer nor settings nor the OpenAI SDK, and commands that read an up-to-date SQLite
store (the retraining status and the model registry included) load neither Alembic, the model
provider's SDK, tiktoken, the machine-learning stack, Slack's SDK nor SQLAlchemy's PostgreSQL
dialect. (Start-up times against a bare interpreter: bench/bench_scale.py --cli-only.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation.db import Database
from curation.export import Method
from curation.models import FeedbackKind
from curation.store import Store
from tests.conftest import REPO_ROOT, ask
from tuneloop.cli.export_commands import ExportMethod

#: Modules a command that only reads the store must not load (each costs start-up time):
#: migrations, the model provider's SDK and HTTP client, token counting, the training and
#: serving stack, Slack, the scheduler's clock, click (typer carries its own copy), and the
#: PostgreSQL dialect when the store is a SQLite file.
NOT_FOR_STORE_COMMANDS = (
    "alembic",
    "openai",
    "httpx2",
    "tiktoken",
    "torch",
    "transformers",
    "peft",
    "slack_bolt",
    "slack_sdk",
    "apscheduler",
    "click",
    "sqlalchemy.dialects.postgresql",
)
#: ... and what `--help` does not load either: the database layer and settings.
NOT_FOR_HELP = (*NOT_FOR_STORE_COMMANDS, "sqlalchemy", "pydantic_settings")

#: Runs the command line in a fresh interpreter and prints which of the modules named on
#: stdin it loaded (a package counts as loaded once any module of it is).
PROBE = """
import json, sys
from tuneloop.cli import main
sys.argv = ["tuneloop", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exit:
    code = exit.code or 0
loaded = sorted(name for name in json.loads(sys.stdin.read()) if name in sys.modules)
print("LOADED", json.dumps({"code": code, "loaded": loaded}))
"""


def _run(
    probe: str, args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`probe` run in a fresh interpreter, from the store's folder, with `args`."""
    return subprocess.run(
        [sys.executable, "-c", probe, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        cwd=env["TUNELOOP_DATA_DIR"],
        env={
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            **env,
            "PYTHONPATH": str(REPO_ROOT),
        },
    )


def _loaded(args: list[str], env: dict[str, str], names: tuple[str, ...]) -> list[str]:
    """The modules among `names` that `tuneloop *args` loaded; fails if the command failed."""
    done = _run(PROBE, args, env, stdin=json.dumps(names))
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED "))
    result = json.loads(line.removeprefix("LOADED "))
    assert result["code"] == 0, f"tuneloop {' '.join(args)} failed: {done.stderr}"
    return list(result["loaded"])


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """A SQLite store in the default place, holding review item 1 (pending) and example 1."""
    db = Database.open(f"sqlite:///{tmp_path / 'tuneloop.db'}")
    store = Store.build(db, reviewers=["UREVIEW1"])
    flagged = ask(store, "Where do I file expenses?", "In the travel portal.", ts="1.000100")
    store.capture.add_feedback(flagged, "UASKER", FeedbackKind.THUMBS_DOWN)
    liked = ask(store, "Who resets passwords?", "The IT desk, ext. 4357.", ts="2.000100")
    _, item, _ = store.capture.add_feedback(liked, "UASKER", FeedbackKind.THUMBS_UP)
    assert item is not None and item.id == 2
    store.review.approve(item.id, "UREVIEW1")
    db.dispose()
    return {"TUNELOOP_DATA_DIR": str(tmp_path), "TUNELOOP_REVIEWERS": "UREVIEW1"}


def test_help_loads_no_database_settings_or_sdk(cli_env: dict[str, str]) -> None:
    assert _loaded(["--help"], cli_env, NOT_FOR_HELP) == []
    assert _loaded(["review", "--help"], cli_env, NOT_FOR_HELP) == []


@pytest.mark.parametrize(
    "command",
    [
        ["review", "list"],
        ["review", "show", "1"],
        ["examples", "show", "1"],
        ["stats"],
        ["status"],
        ["models", "list"],
        ["init", "team"],
    ],
)
def test_reading_commands_load_nothing_they_do_not_use(
    cli_env: dict[str, str], command: list[str]
) -> None:
    loaded = _loaded(command, cli_env, (*NOT_FOR_STORE_COMMANDS, "sqlalchemy"))
    if command[0] != "init":
        assert "sqlalchemy" in loaded  # they did read the store
    assert [name for name in loaded if name != "sqlalchemy"] == []


def test_the_export_method_option_offers_exports_methods() -> None:
    assert [m.value for m in ExportMethod] == [m.value for m in Method]


#: Runs a command through the console script's entry point, then reports, from an exit
#: handler, how many objects are left out of the exit's collections.
EXIT_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("FROZEN", gc.get_freeze_count()))
from tuneloop.cli import main
sys.argv = ["tuneloop", *sys.argv[1:]]
main()
"""


def test_a_command_leaves_its_exit_little_to_collect_and_its_store_closed(
    cli_env: dict[str, str],
) -> None:
    """What is alive when a command is done is frozen, so the exit's collections skip the
    objects of every loaded module; the command's own garbage was collected first, so the
    store's connection closed as before and SQLite folded its write-ahead log into the file."""
    output = _run(EXIT_PROBE, ["review", "list", "--json"], cli_env).stdout
    assert "Where do I file expenses?" in output  # the command did its work
    frozen = int(output.split("FROZEN ")[1].split()[0])
    assert frozen > 10_000  # the modules' objects (a store command loads tens of thousands)
    folder = Path(cli_env["TUNELOOP_DATA_DIR"])
    assert (folder / "tuneloop.db").exists()
    assert not (folder / "tuneloop.db-wal").exists()
