"""Training lines in OpenAI's formats, built from stored examples, and their validators."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from curation.chat_format import Problem, check_dpo_line, check_sft_line


class Method(StrEnum):
    SFT = "sft"  # supervised: {"messages": [...]}
    DPO = "dpo"  # preference: {"input": ..., "preferred_output": ..., "non_preferred_output": ...}


def sft_line(messages: list[dict[str, Any]], target: str, rejected: str | None) -> dict[str, Any]:
    return {"messages": [*messages, {"role": "assistant", "content": target}]}


def dpo_line(messages: list[dict[str, Any]], target: str, rejected: str | None) -> dict[str, Any]:
    return {
        "input": {"messages": messages},
        "preferred_output": [{"role": "assistant", "content": target}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }


LineBuilder = Callable[[list[dict[str, Any]], str, str | None], dict[str, Any]]
LineChecker = Callable[[Any], list[Problem]]

BUILDERS: dict[Method, LineBuilder] = {Method.SFT: sft_line, Method.DPO: dpo_line}
CHECKERS: dict[Method, LineChecker] = {Method.SFT: check_sft_line, Method.DPO: check_dpo_line}


def line_messages(line: dict[str, Any]) -> list[dict[str, Any]]:
    """Every message in a line, in order: what is counted and scanned."""
    if "messages" in line:
        return list(line["messages"])
    return [
        *line["input"]["messages"],
        *line["preferred_output"],
        *line["non_preferred_output"],
    ]
