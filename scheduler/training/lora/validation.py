"""Whether an exported file is in the OpenAI format of its training method, before a job is
created: a file in the wrong format fails the job at once, with the lines that are wrong, as
OpenAI's file validation does (status `validating_files`, then `failed`)."""

from __future__ import annotations

import json
from pathlib import Path

from curation.chat_format import check_dpo_line, check_sft_line
from scheduler.training.protocol import TrainingMethod

#: Problems listed when a training file is refused (the rest are counted).
_MAX_PROBLEMS = 5


def format_problems(path: Path, method: TrainingMethod) -> str | None:
    """None when every line is in the method's OpenAI format; else what is wrong, and where."""
    check = check_dpo_line if method == "dpo" else check_sft_line
    problems: list[str] = []
    count = 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                found = [str(p) for p in check(json.loads(line))]
            except json.JSONDecodeError as exc:
                found = [f"not JSON: {exc.msg}"]
            count += 1
            if found and len(problems) < _MAX_PROBLEMS:
                problems.append(f"line {number}: {'; '.join(found)}")
            elif found:
                problems.append("")
    if count == 0:
        return f"{path.name} has no examples"
    if not problems:
        return None
    shown = [p for p in problems if p]
    more = len(problems) - len(shown)
    return (
        f"{path.name} is not in OpenAI's {method} format: "
        + "; ".join(shown)
        + (f" (and {more} more lines)" if more else "")
    )
