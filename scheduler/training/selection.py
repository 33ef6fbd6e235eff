"""The training file of the incremental strategy: new examples plus a replay sample of older
ones, cut from a dataset version's full export.

Continuing a fine-tuned model on only the new examples risks forgetting the old ones; a
replay sample keeps them in view at a fraction of the cost of training on everything again.
The sample is seeded by the dataset version, so a resumed cycle writes byte-identical lines
(and the job it finds by the file's sha256 is the one it created).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from curation.export import MIN_TRAINING_EXAMPLES

INCREMENTAL_FILE = "train-incremental.jsonl"


@dataclass(frozen=True)
class TrainingFile:
    path: Path
    sha256: str
    examples: int
    tokens: int
    new_examples: int
    replayed: int


def incremental_file(
    export_dir: Path,
    *,
    already_trained: Collection[int],
    replay_ratio: float,
    seed: int,
) -> TrainingFile:
    """Write `train-incremental.jsonl` beside the export's `train.jsonl` and describe it.

    `already_trained` holds the example ids the model being continued was trained on. At
    least `MIN_TRAINING_EXAMPLES` lines are written (OpenAI's minimum), topped up from the
    replay pool when there are few new examples.
    """
    manifest = json.loads((export_dir / "manifest.json").read_text(encoding="utf-8"))
    entries = [e for e in manifest["examples"] if e["split"] == "train"]
    lines = (export_dir / "train.jsonl").read_bytes().split(b"\n")[: len(entries)]
    positions_new = [i for i, e in enumerate(entries) if e["id"] not in already_trained]
    positions_old = [i for i, e in enumerate(entries) if e["id"] in already_trained]
    wanted = max(
        math.ceil(len(positions_new) * replay_ratio), MIN_TRAINING_EXAMPLES - len(positions_new)
    )
    replay = random.Random(seed).sample(positions_old, k=min(wanted, len(positions_old)))
    chosen = sorted([*positions_new, *replay])
    data = b"".join(lines[i] + b"\n" for i in chosen)
    path = export_dir / INCREMENTAL_FILE
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return TrainingFile(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        examples=len(chosen),
        tokens=sum(entries[i]["tokens"] for i in chosen),
        new_examples=len(positions_new),
        replayed=len(replay),
    )
