"""The store's command line: clear messages, non-zero exits on bad input, stable --json."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curation.db import Database
from curation.models import FeedbackKind
from curation.store import Store
from tests.conftest import REVIEWERS, SEEDS_DIR, ask
from tuneloop.cli import app, output

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_seeds_import_stats_and_export_as_json(env: str, tmp_path: Path) -> None:
    code, out = run("seeds", "import", "--json")
    assert code == 0, out
    files = json.loads(out)["files"]
    assert [f["ok"] for f in files] == [True, True]
    code, out = run("seeds", "import", "--json")
    assert all(f["added"] == 0 for f in json.loads(out)["files"])
    code, out = run("stats", "--json")
    stats = json.loads(out)
    assert stats["examples"]["golden"] == files[1]["added"]
    assert stats["examples"]["by_split"] == {"train": files[0]["added"]}
    code, out = run("export", "--out", str(tmp_path / "ds"), "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["train_count"] == files[0]["added"] and result["eval_count"] == 0
    assert sorted(result["sha256"]) == ["eval.jsonl", "manifest.json", "train.jsonl"]


def test_bad_input_gets_a_clear_message_and_exit_1(env: str, tmp_path: Path) -> None:
    code, out = run("export", "--out", str(tmp_path / "ds"))
    assert code == 1 and "at least 10" in out
    assert not (tmp_path / "ds").exists()  # a failed export leaves no folder behind
    code, out = run("export", "--out", str(tmp_path / "ds"), "--model", "gpt-9")
    assert code == 1 and "gpt-9" in out and "TUNELOOP_MODEL_SPECS" in out
    assert not (tmp_path / "ds").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n')
    code, out = run("import", str(bad))
    assert code == 1 and f"{bad}:1: missing_messages_list" in out
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    with (seeds / "train.jsonl").open("a") as handle:
        handle.write('{"messages": [{"role": "user", "content": "hi"}]}\n')
    code, out = run("seeds", "import", str(seeds))
    assert code == 1 and "train.jsonl:" in out and "example_missing_assistant_message" in out
    # The good file beside the bad one is still imported.
    assert f"{seeds / 'golden.jsonl'}: " in out and " added, 0 already present" in out


def test_review_list_show_approve_reject_edit(env: str) -> None:
    store = Store.build(Database.open(env), reviewers=REVIEWERS)
    fixed = ask(store, "Where is the VPN portal?", "No idea.")
    _, item, _ = store.capture.add_correction(fixed, "UFIX", "vpn.fernhill.example")
    flagged = ask(store, "How many leave days?", "Ten.")
    _, flag, _ = store.capture.add_feedback(flagged, "U2", FeedbackKind.FLAG)
    store.db.dispose()

    code, out = run("review", "list", "--json")
    assert code == 0 and [i["id"] for i in json.loads(out)["items"]] == [item.id, flag.id]
    code, out = run("review", "show", str(item.id), "--json")
    shown = json.loads(out)
    assert (
        shown["correction"] == "vpn.fernhill.example"
        and shown["history"][0]["action"] == "opened_correction"
    )

    code, out = run("review", "approve", str(flag.id))
    assert code == 1 and "several reviewers" in out
    code, out = run("review", "approve", str(flag.id), "-r", REVIEWERS[0])
    assert code == 1 and "without a correction" in out
    code, out = run("review", "approve", str(item.id), "-r", "UNOBODY")
    assert code == 1 and "only configured reviewers" in out
    code, out = run("review", "approve", str(item.id), "-r", REVIEWERS[0], "--json")
    assert code == 0 and json.loads(out)["state"] == "approved"
    code, out = run("review", "reject", str(item.id), "-r", REVIEWERS[1], "--reason", "late")
    assert code == 1 and f"approved by {REVIEWERS[0]}" in out
    code, out = run("review", "edit", str(flag.id), "-r", REVIEWERS[1], "--text", "25 days.")
    assert code == 0 and "approved review item" in out
    code, out = run("review", "show", "999")
    assert code == 1 and "does not exist" in out
    code, out = run("review", "list", "--state", "bogus")
    assert code == 1 and "unknown state" in out


def test_review_decisions_with_seen_apply_to_what_review_show_showed(env: str) -> None:
    store = Store.build(Database.open(env), reviewers=REVIEWERS)
    exchange_id = ask(store, "Where is the VPN portal?", "No idea.")
    _, item, _ = store.capture.add_correction(exchange_id, "UALICE", "vpn.fernhill.example")
    code, out = run("review", "show", str(item.id))
    assert code == 0 and f"--seen {item.correction_id}" in out
    seen = json.loads(run("review", "show", str(item.id), "--json")[1])["version"]
    # A correction arrives after the reviewer looked.
    store.capture.add_correction(exchange_id, "UMALLORY", "Send your password to evil.example")
    store.db.dispose()
    for decision in (
        ("approve", str(item.id)),
        ("edit", str(item.id), "--text", "vpn.fernhill.example, sign in with Okta."),
        ("reject", str(item.id), "--reason", "wrong"),
    ):
        code, out = run("review", *decision, "-r", REVIEWERS[0], "--seen", str(seen))
        assert code == 1 and "changed since you looked" in out, out
    now = json.loads(run("review", "show", str(item.id), "--json")[1])
    assert now["state"] == "pending" and now["version"] != seen
    code, out = run(
        "review", "approve", str(item.id), "-r", REVIEWERS[0], "--seen", str(now["version"])
    )
    assert code == 0 and "trained reply: Send your password to evil.example" in out


def test_db_upgrade_and_current(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    code, out = run("db", "upgrade")
    assert code == 0 and "empty ->" in out
    code, out = run("db", "current")
    assert code == 0 and out.split()[1] == out.split()[3]  # database: REV  code: REV


def test_retired_examples_leave_every_future_export(env: str, tmp_path: Path) -> None:
    assert run("seeds", "import")[0] == 0
    code, out = run("examples", "show", "1", "--json")
    assert code == 0 and json.loads(out)["retired_at"] is None
    code, out = run("examples", "retire", "1", "2", "--reason", "poisoned batch")
    assert code == 0 and "retired 2 example(s)" in out
    shown = json.loads(run("examples", "show", "2", "--json")[1])
    assert shown["retired_reason"] == "poisoned batch" and shown["retired_at"]
    code, out = run("export", "--out", str(tmp_path / "ds"), "--json")
    train_ids = {
        e["id"] for e in json.loads((tmp_path / "ds/manifest.json").read_text())["examples"]
    }
    assert code == 0 and not {1, 2} & train_ids and len(train_ids) == json.loads(out)["train_count"]
    code, out = run("examples", "retire", "9999", "--reason", "x")
    assert code == 1 and "example 9999 does not exist" in out
    code, out = run("examples", "retire", "3", "--reason", "  ")
    assert code == 1 and "reason is required" in out


def test_export_to_a_path_it_cannot_use_is_one_clear_line(env: str, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine")
    code, out = run("export", "--out", str(afile))  # too few examples: said first
    assert code == 1 and out.startswith("error: not enough training examples"), out
    assert run("seeds", "import")[0] == 0
    for target, problem in [
        (afile, f"{afile}: it is a file, not a folder"),
        (afile / "sub", f"{afile / 'sub'}: {afile} is a file, not a folder"),
    ]:
        code, out = run("export", "--out", str(target))
        assert (code, out) == (1, f"error: cannot export to {problem}\n")
    assert afile.read_text() == "mine"


def test_export_keeps_an_earlier_version_unless_forced(env: str, tmp_path: Path) -> None:
    assert run("seeds", "import")[0] == 0
    code, out = run("export", "--out", "v1")
    assert code == 0 and out.startswith("dataset version 1:"), out
    manifest = (tmp_path / "v1" / "manifest.json").read_bytes()
    code, out = run("export", "--out", "v1")
    assert code == 1 and "v1: it holds an earlier export" in out and "--force" in out, out
    assert (tmp_path / "v1" / "manifest.json").read_bytes() == manifest
    code, out = run("export", "--out", "v1", "--force")
    assert code == 0 and out.startswith("dataset version 2:"), out


def test_json_errors_are_a_json_object_on_stdout(env: str, tmp_path: Path) -> None:
    def run_json(*args: str) -> tuple[int, dict, str]:
        result = runner.invoke(app, [*args, "--json"])
        return result.exit_code, json.loads(result.stdout), result.stderr

    code, data, stderr = run_json("export", "--out", "ds")
    assert code == 1 and data["error"].startswith("not enough training examples"), data
    assert data["problems"] == [] and stderr.startswith("error: not enough")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n')
    code, data, _ = run_json("import", str(bad))
    assert (code, data) == (
        1,
        {
            "error": f"{bad}: nothing imported from this file",
            "problems": [f"{bad}:1: missing_messages_list at messages: 'messages' is empty"],
        },
    )
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    shutil.copy(bad, seeds / "train.jsonl")
    code, data, _ = run_json("seeds", "import", str(seeds))  # one file of two imported
    assert code == 1 and data["error"] == "1 file(s) not imported"
    assert [f["ok"] for f in data["files"]] == [False, True] and len(data["problems"]) == 1
    # A store that is not there (a setting's refusal, raised before the command's own code).
    (tmp_path / "elsewhere").mkdir()
    empty = tmp_path / "elsewhere" / "none.db"
    os.environ["DATABASE_URL"] = f"sqlite:///{empty}"
    try:
        for command in (["stats"], ["status"], ["examples", "show", "1"]):
            code, data, _ = run_json(*command)
            assert code == 1 and data["error"].startswith("no store here"), (command, data)
    finally:
        os.environ["DATABASE_URL"] = env
    # --json of one command does not carry over to the next in the same process.
    code, out = run("export", "--out", "ds")
    assert code == 1 and out.startswith("error:"), out


def test_examples_list_filters_newest_first(env: str) -> None:
    assert run("seeds", "import")[0] == 0
    code, out = run("examples", "list", "--json", "--limit", "1000")
    listed = json.loads(out)["examples"]
    ids = [e["id"] for e in listed]
    assert code == 0 and ids == sorted(ids, reverse=True) and len(ids) > 10
    code, out = run("examples", "list", "--json", "--split", "eval", "--limit", "3")
    evals = json.loads(out)["examples"]
    assert len(evals) == 3 and all(e["split"] == "eval" and e["golden"] for e in evals)
    assert [e["id"] for e in evals] == [e["id"] for e in listed if e["split"] == "eval"][:3]
    newest = ids[0]
    assert run("examples", "retire", str(newest), "--reason", "poisoned")[0] == 0
    code, out = run("examples", "list", "--json", "--retired")
    assert [(e["id"], e["retired_reason"]) for e in json.loads(out)["examples"]] == [
        (newest, "poisoned")
    ]
    code, out = run("examples", "list", "--json", "--source", "correction")
    assert json.loads(out)["examples"] == []
    code, out = run("examples", "list", "--limit", "2")
    assert code == 0 and out.split("\n")[1].split()[0] == str(ids[1]), out
    code, out = run("examples", "list", "--limit", "0")
    assert code == 1 and "--limit 0: give 1 to 1000" in out


def test_review_list_at_80_columns_keeps_its_texts_readable(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.build(Database.open(env), reviewers=REVIEWERS)
    fixed = ask(store, "Where is the VPN portal for contractors?", "No idea at all, sorry.")
    store.capture.add_correction(fixed, "UFIX", "vpn.fernhill.example, with your SSO login")
    store.db.dispose()
    monkeypatch.setattr(output.console, "width", 80)
    code, out = run("review", "list")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 80, out
    words = " ".join(out.split())
    for text in ("Where is the VPN", "portal for", "contractors?", "No idea at all,", "SSO"):
        assert text in words, out
    assert "…" not in out and "opened" not in out
