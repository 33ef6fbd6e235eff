"""The local folder of a base model, for the LoRA worker and the serving side, without loading
torch in the asking process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tuneloop.base_models.errors import BaseModelUnavailable
from tuneloop.base_models.folders import is_complete
from tuneloop.base_models.smollm2 import SMOLLM2_NAME
from tuneloop.base_models.tiny import TINY_MODEL_NAME

EMBEDDED = (SMOLLM2_NAME, TINY_MODEL_NAME)


def base_model_folder(name: str, *, models_dir: Path, configured: Path | None = None) -> Path:
    """Where the base model `name` lives on this machine.

    `configured` (TUNELOOP_LORA_BASE_MODEL_PATH) wins when set and must be a model folder.
    Otherwise `name` must be an embedded model: its folder under `models_dir` is made on first
    use by a child process (`python -m tuneloop.base_models`; SmolLM2 takes ~30 s). Raises
    `BaseModelUnavailable` with what to install or set.
    """
    if configured is not None:
        if not (configured / "config.json").is_file():
            raise BaseModelUnavailable(
                f"TUNELOOP_LORA_BASE_MODEL_PATH={configured} is not a model folder (no "
                "config.json): point it at a Hugging Face model folder saved on this machine"
            )
        return configured
    if name not in EMBEDDED:
        raise BaseModelUnavailable(
            f"{name!r} is not an embedded base model ({', '.join(EMBEDDED)}): set "
            "TUNELOOP_LORA_BASE_MODEL_PATH to its model folder on this machine"
        )
    folder = models_dir / name
    if is_complete(folder):
        return folder
    done = subprocess.run(
        [sys.executable, "-m", "tuneloop.base_models", name, str(models_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        reason = reason.removeprefix("error: ")  # the child's own CLI prefix; ours comes later
        raise BaseModelUnavailable(f"could not prepare the base model {name}: {reason}")
    return Path(done.stdout.strip())
