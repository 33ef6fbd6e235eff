"""Which checkpoint a restarted worker resumes from.

transformers' Trainer writes `checkpoint-<step>/` in place and `trainer_state.json` last (see
`Trainer._save_checkpoint`), so a folder without it is one the worker died while writing.
"""

from __future__ import annotations

import re
from pathlib import Path

TRAINER_STATE = "trainer_state.json"
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")


def complete_checkpoints(folder: Path) -> list[Path]:
    """The complete checkpoints under `folder`, oldest step first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _CHECKPOINT.fullmatch(path.name)
        if match and (path / TRAINER_STATE).is_file():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def last_checkpoint(folder: Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    found = complete_checkpoints(folder)
    return found[-1] if found else None


def checkpoint_step(path: Path) -> int:
    match = _CHECKPOINT.fullmatch(path.name)
    if match is None:
        raise ValueError(f"{path} is not a checkpoint folder")
    return int(match.group(1))
