"""Training lines in OpenAI's formats, built from stored examples, and their validators."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from curation.chat_format import Problem, check_dpo_line, check_sft_line
from curation.training_line import TrainingLine


class Method(StrEnum):
    SFT = "sft"  # supervised: {"messages": [...]}
    DPO = "dpo"  # preference: {"input": ..., "preferred_output": ..., "non_preferred_output": ...}


LineBuilder = Callable[[TrainingLine], dict[str, Any]]
LineChecker = Callable[[Any], list[Problem]]

BUILDERS: dict[Method, LineBuilder] = {
    Method.SFT: TrainingLine.sft_line,
    Method.DPO: TrainingLine.dpo_line,
}
CHECKERS: dict[Method, LineChecker] = {Method.SFT: check_sft_line, Method.DPO: check_dpo_line}


def line_messages(line: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """Every message in a line, in order, each with whether it is trained: a supervised
    line's assistant messages of weight 1, and both outputs of a preference line (the model is
    trained towards one and away from the other)."""
    if "messages" in line:
        return [(m, m["role"] == "assistant" and m.get("weight", 1) == 1) for m in line["messages"]]
    return [
        *((m, False) for m in line["input"]["messages"]),
        *((m, True) for m in line["preferred_output"]),
        *((m, True) for m in line["non_preferred_output"]),
    ]


def line_tools(line: dict[str, Any]) -> list[Any]:
    """The tool (and legacy function) definitions of a line, which count as tokens too."""
    holder = line if "messages" in line else line["input"]
    return [*holder.get("tools", ()), *holder.get("functions", ())]
