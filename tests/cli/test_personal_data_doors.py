"""Personal data through the real commands: `tuneloop import` asks for a decision on every
trained text that holds some (not only `content`), `tuneloop export` redacts every text a model
only reads (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tuneloop.cli import app

PHONE = "+44 20 7946 0958"
ASKED = "Send the new starter's details to HR, please."


@pytest.fixture(autouse=True)
def _all_for_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every imported line on the training side: eleven lines make one export."""
    monkeypatch.setenv("TUNELOOP_EVAL_FRACTION", "0")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _call(arguments: dict[str, Any]) -> dict[str, Any]:
    function = {"name": "notify", "arguments": json.dumps(arguments)}
    return {"id": "call_1", "type": "function", "function": function}


def _sft(n: int, reply: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"{ASKED} ({n})"}, reply]}


def _dpo(n: int, preferred: str, rejected: str) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": f"{ASKED} ({n})"}]},
        "preferred_output": [{"role": "assistant", "content": preferred}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }


FILLER = {
    "sft": [_sft(n, {"role": "assistant", "content": f"Done ({n})."}) for n in range(10)],
    "dpo": [_dpo(n, f"Done ({n}).", f"No ({n}).") for n in range(10)],
}


@pytest.mark.parametrize(
    ("method", "line", "where"),
    [
        (
            "sft",
            _sft(10, {"role": "assistant", "tool_calls": [_call({"phone": PHONE})]}),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            "dpo",
            _dpo(10, "Sent.", f"Email jane.doe@fernhill.example or call {PHONE}"),
            "non_preferred_output[0].content",
        ),
    ],
)
def test_a_trained_text_with_personal_data_is_imported_only_when_told(
    env: str, tmp_path: Path, method: str, line: dict[str, Any], where: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in [*FILLER[method], line]))
    code, out = _run("import", str(source))
    assert code != 0
    assert f"in.jsonl:11: personal_data at {where}: " in out.replace("\n", "")
    assert "--keep-personal-data" in out
    code, out = _run("import", str(source), "--keep-personal-data")
    assert code == 0, out
    code, out = _run("export", "--out", str(tmp_path / "export"), "--method", method)
    assert code == 0, out
    exported = json.loads((tmp_path / "export" / "train.jsonl").read_text().splitlines()[-1])
    trained = exported["messages"][-1] if method == "sft" else exported["non_preferred_output"][0]
    expected = line["messages"][1] if method == "sft" else line["non_preferred_output"][0]
    assert trained == expected


def test_a_context_turns_call_arguments_are_redacted_in_the_export(
    env: str, tmp_path: Path
) -> None:
    context = {"role": "assistant", "weight": 0, "tool_calls": [_call({"phone": PHONE})]}
    line = {
        "messages": [
            {"role": "user", "content": ASKED},
            context,
            {"role": "tool", "tool_call_id": "call_1", "content": "sent"},
            {"role": "assistant", "content": "Done."},
        ]
    }
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in [*FILLER["sft"], line]))
    code, out = _run("import", str(source))
    assert code == 0, out
    code, out = _run("export", "--out", str(tmp_path / "export"))
    assert code == 0, out
    text = (tmp_path / "export" / "train.jsonl").read_text()
    assert PHONE not in text
    [turn] = [m for m in json.loads(text.splitlines()[-1])["messages"] if "tool_calls" in m]
    assert json.loads(turn["tool_calls"][0]["function"]["arguments"]) == {"phone": "[PHONE]"}
    assert turn["weight"] == 0
