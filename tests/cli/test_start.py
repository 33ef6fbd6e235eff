"""The command line starts without loading what a command does not use: `--help` loads neither
the database layer nor settings nor the OpenAI SDK, and commands that read an up-to-date store
(the retraining status and the model registry included) load neither Alembic nor the OpenAI
SDK. (Start-up times against a bare interpreter: bench/bench_scale.py --cli-only.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation.db import make_engine, upgrade
from curation.export import Method
from tests.conftest import REPO_ROOT
from tuneloop.cli.export_commands import ExportMethod

HEAVY = ("alembic", "openai", "sqlalchemy", "pydantic_settings", "tiktoken", "slack_bolt")

#: Runs the command line in a fresh interpreter and prints which heavy packages it loaded.
PROBE = """
import json, sys
from tuneloop.cli import main
sys.argv = ["tuneloop", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.stdin.read())))
print("LOADED", json.dumps(heavy))
"""


def _loaded(args: list[str], env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=json.dumps(HEAVY),
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
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED "))
    return list(json.loads(line.removeprefix("LOADED ")))


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    engine = make_engine(f"sqlite:///{tmp_path / 'tuneloop.db'}")
    upgrade(engine)
    engine.dispose()
    return {"TUNELOOP_DATA_DIR": str(tmp_path), "TUNELOOP_REVIEWERS": "UREVIEW1"}


def test_help_loads_no_database_settings_or_sdk(cli_env: dict[str, str]) -> None:
    assert _loaded(["--help"], cli_env) == []
    assert _loaded(["review", "--help"], cli_env) == []


@pytest.mark.parametrize(
    "command", [["review", "list"], ["stats"], ["status"], ["models", "list"], ["init", "team"]]
)
def test_reading_commands_load_no_alembic_or_sdk(
    cli_env: dict[str, str], command: list[str]
) -> None:
    loaded = _loaded(command, cli_env)
    if command[0] != "init":
        assert "sqlalchemy" in loaded  # they did read the store
    assert "alembic" not in loaded and "openai" not in loaded


def test_the_export_method_option_offers_exports_methods() -> None:
    assert [m.value for m in ExportMethod] == [m.value for m in Method]
