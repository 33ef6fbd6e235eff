"""Writing a model folder once, atomically, readable by a serving process of another user."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

#: Written last: a folder without it is an interrupted build, never a model.
COMPLETE_MARK = ".tuneloop-complete"


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE_MARK).is_file()


def build_once(folder: Path, write: Callable[[Path], None]) -> Path:
    """Run `write(tmp)` into a temporary sibling folder and rename it to `folder`.

    A finished folder is returned as it is; a crash mid-build leaves only a temporary folder
    (removed on the next try), so readers never see half a model. Files are made world-
    readable: PEFT and transformers save with the process's umask (sometimes 0600), and vLLM
    often runs as another user.
    """
    if is_complete(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        write(tmp)
        make_readable(tmp)
        (tmp / COMPLETE_MARK).write_text("ok\n", encoding="utf-8")
        if folder.exists():  # an interrupted build without the mark
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def make_readable(folder: Path) -> None:
    """0755 for folders and 0644 for files under `folder` (and the folder itself)."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
