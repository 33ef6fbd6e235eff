"""A newcomer's first commands: `init` writes a team's own folder, the sample seeds need an
explicit choice, `--version`, help with plain flags and whole sentences, and an evaluation of
a model that does not exist."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import click
import pytest
import typer.main
from typer.testing import CliRunner

from curation.db import Database
from scheduler.evaluation.cases import eval_cases
from tests.scheduler.conftest import E2E_BASE_MODEL
from tuneloop.cli import app
from tuneloop.settings import SAMPLE_SEEDS_DIR, load_settings

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("TUNELOOP_SEEDS_DIR", "TUNELOOP_TRAINER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TUNELOOP_PROVIDER", "local")
    monkeypatch.setenv("TUNELOOP_BASE_MODEL", E2E_BASE_MODEL)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


def _no_store_settings(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """In `folder`, with no setting that names a store or seeds: as a newcomer starts."""
    monkeypatch.chdir(folder)
    for name in ("DATABASE_URL", "TUNELOOP_DATA_DIR", "TUNELOOP_SEEDS_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_init_writes_a_team_folder_that_the_commands_use(
    env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run("init", "acme", "--team", "Acme IT")
    assert code == 0, out
    folder = env / "acme"
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == [
        ".env",
        "README.md",
        "seeds/golden.jsonl",
        "seeds/golden.template.jsonl",
        "seeds/system_prompt.md",
        "seeds/train.jsonl",
    ]
    assert "Acme IT" in (folder / "seeds/system_prompt.md").read_text()
    assert (folder / "seeds/train.jsonl").read_text() == ""
    template = [json.loads(line) for line in (folder / "seeds/golden.template.jsonl").open()]
    assert all(line["messages"][-1]["role"] == "assistant" for line in template)
    dotenv = (folder / ".env").read_text()
    assert "TUNELOOP_TRAINER=lora" in dotenv and "TUNELOOP_SEEDS_DIR=seeds" in dotenv
    assert "2026-12-15" in dotenv  # why not OpenAI: the gate's shutdown-date refusal

    # Run from the folder, tuneloop reads its .env: the team's seeds, the lora backend.
    monkeypatch.chdir(folder)
    line = {
        "messages": [
            {"role": "user", "content": "Where is the Acme VPN?"},
            {"role": "assistant", "content": "vpn.acme.example"},
        ]
    }
    (folder / "seeds/train.jsonl").write_text(json.dumps(line) + "\n")
    (folder / "seeds/golden.jsonl").write_text((folder / "seeds/golden.template.jsonl").read_text())
    code, out = run("seeds", "import", "--json")
    assert code == 0, out
    files = json.loads(out)["files"]
    assert [(Path(f["path"]).name, f["added"]) for f in files] == [
        ("train.jsonl", 1),
        ("golden.jsonl", 3),
    ]
    assert load_settings().trainer == "lora"
    # What the folder's README says the gate counts is what it evaluates on: the golden set
    # and the held-out split, to which seeds/train.jsonl gives nothing.
    db = Database.open(database_url)
    with db.read_session() as session:
        assert [case.golden for case in eval_cases(session)] == [True] * 3
    db.dispose()
    instructions = " ".join((folder / "README.md").read_text().split())
    assert "Every line of `seeds/train.jsonl` is trained on, none held out" in instructions
    assert "share of `train.jsonl`" not in instructions

    # Again: every file the team wrote is kept.
    code, out = run("init", str(folder))
    assert code == 0 and out.count("(already there)") == 6
    assert "vpn.acme.example" in (folder / "seeds/train.jsonl").read_text()


def test_init_with_openai_says_why_not(env: Path) -> None:
    code, out = run("init", "trial", "--trainer", "openai")
    assert code == 0 and "warning: OpenAI takes no new fine-tuning jobs after 2027-01-06" in out
    assert "use --trainer lora for a bot that keeps learning" in out


def test_init_with_together_points_at_together(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run("init", "hosted", "--trainer", "together")
    assert code == 0 and "warning" not in out, out
    folder = env / "hosted"
    assert "TUNELOOP_TRAINER=together" in (folder / ".env").read_text()
    assert "# TOGETHER_API_KEY=" in (folder / ".env").read_text()
    assert "TOGETHER_API_KEY" in (folder / "README.md").read_text()
    _no_store_settings(monkeypatch, folder)
    assert load_settings().trainer == "together"


def test_the_sample_seeds_need_an_explicit_choice(env: Path) -> None:
    code, out = run("seeds", "import")
    assert code == 1 and "which seeds? Give your team's seeds folder" in out
    assert "`tuneloop init` writes one" in out and "--sample" in out
    code, out = run("seeds", "import", "--sample")
    assert code == 0, out
    assert f"importing the sample company's seeds ({SAMPLE_SEEDS_DIR})" in out
    assert "Fernhill's help desk, not your team's" in out


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"tuneloop {version('tuneloop')}\n"


def _commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def test_help_has_plain_flags_and_whole_sentences() -> None:
    root = typer.main.get_command(app)
    for path, command in _commands(root):
        ctx = click.Context(command, info_name=" ".join(path) or "tuneloop")
        for param in command.params:
            if isinstance(param, click.Option) and param.is_flag:
                assert not param.secondary_opts, (path, param.opts)  # no --x/--no-x pairs
        short = command.get_short_help_str(limit=60)
        assert not path or not short.endswith("..."), (path, short)  # cut in the listing
        assert "<bool>" not in command.get_help(ctx), path


def test_eval_of_a_model_that_does_not_exist(env: Path) -> None:
    code, out = run("eval", "--candidate", "ft:no-such-model", "--incumbent", E2E_BASE_MODEL)
    assert code == 1
    assert "error: model ft:no-such-model does not exist at the model provider" in out
    assert "nothing evaluated" in out


def test_a_store_started_in_a_folder_without_one_is_said_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Outside a team's folder by mistake (`cd acme` forgotten), a command says it starts a new
    store here instead of showing an empty one without a word."""
    _no_store_settings(monkeypatch, tmp_path)
    code, first = run("seeds", "import", "--sample")
    assert code == 0, first
    assert f"no store in this folder yet: starting one in {tmp_path / 'data'}" in first
    assert "tuneloop init" in first
    code, again = run("stats")
    assert code == 0 and "no store in this folder yet" not in again


READING_COMMANDS = [
    ["status"],
    ["stats"],
    ["models", "list"],
    ["review", "list"],
    ["review", "show", "1"],
    ["examples", "show", "1"],
    ["db", "current"],
    ["export", "--out", "ds"],
]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_command_that_reads_the_store_makes_none_where_there_is_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    _no_store_settings(monkeypatch, tmp_path)
    code, out = run(*command)
    assert code == 1, out
    assert out.startswith(f"error: no store here: {tmp_path / 'data' / 'tuneloop.db'} does not")
    assert "neither DATABASE_URL nor TUNELOOP_DATA_DIR is set" in out
    assert "`tuneloop init NAME`" in out and "starting one" not in out
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_a_store_named_by_the_settings_that_does_not_exist_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TUNELOOP_DATA_DIR", str(tmp_path / "team-data"))
    code, out = run("status")
    assert code == 1 and f"TUNELOOP_DATA_DIR='{tmp_path / 'team-data'}'" in out
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'typo.db'}")
    code, out = run("stats")
    assert code == 1 and f"{tmp_path / 'typo.db'} does not exist (DATABASE_URL=" in out
    assert list(tmp_path.iterdir()) == []


def test_an_import_that_adds_nothing_leaves_no_new_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_store_settings(monkeypatch, tmp_path)
    assert run("init", "acme")[0] == 0
    monkeypatch.chdir(tmp_path / "acme")
    store = tmp_path / "acme" / "data" / "tuneloop.db"
    for _ in range(2):  # the same again: still nothing left behind
        code, out = run("seeds", "import")
        assert code == 1 and "holds no examples" in out, out
        assert f"nothing was imported, so the new store {store} was not kept" in out
        assert not (tmp_path / "acme" / "data").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n')
    code, out = run("import", str(bad))
    assert code == 1 and "was not kept" in out and not store.exists()
    line = {
        "messages": [
            {"role": "user", "content": "Where is the Acme VPN?"},
            {"role": "assistant", "content": "vpn.acme.example"},
        ]
    }
    (tmp_path / "acme/seeds/train.jsonl").write_text(json.dumps(line) + "\n")
    code, out = run("seeds", "import")  # golden.jsonl is still empty: one file of two
    assert code == 1 and "1 added" in out and "not kept" not in out and store.exists()
    code, out = run("import", str(bad))  # a failed import never removes a store it found
    assert code == 1 and "not kept" not in out and store.exists()


def test_no_store_in_a_team_folder_or_below_it_says_what_to_do_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_store_settings(monkeypatch, tmp_path)
    assert run("init", "acme")[0] == 0
    team = tmp_path / "acme"
    monkeypatch.chdir(team)  # its .env is here, nothing imported yet
    code, out = run("stats")
    assert code == 1 and "run `tuneloop seeds import` to make it" in out, out
    assert "Run tuneloop from your team's folder" not in out
    monkeypatch.chdir(team / "seeds")  # below it: the .env above is not read, and is named
    code, out = run("stats")
    assert code == 1 and f"not of the folders above: run it from {team}, where the .env" in out
    code, out = run("seeds", "import", "--sample")
    assert code == 0, out
    assert f"The .env in {team} is not read from here (a subfolder): run tuneloop from" in out
