"""Training metrics the stand-in reports: deterministic curves that look like a real run.

Nothing is trained, but clients plot losses, read checkpoints and parse the results CSV, so the
numbers follow a plausible falling loss, seeded by the job so the same job always reports the
same figures.
"""

from __future__ import annotations

import csv
import io
import math
import random
from typing import Any

#: The columns of OpenAI's `fine-tune-results` CSV.
RESULTS_COLUMNS = (
    "step",
    "train_loss",
    "train_accuracy",
    "valid_loss",
    "valid_mean_token_accuracy",
)

#: A results file gets at most this many rows, sampled evenly over the steps.
MAX_RESULT_ROWS = 500


def step_metrics(seed: int, step: int, total_steps: int, with_validation: bool) -> dict[str, Any]:
    """Metrics at `step`: loss falls and accuracy rises with progress, with seeded jitter."""
    progress = step / max(total_steps, 1)
    jitter = random.Random(f"{seed}:{step}").uniform(-0.04, 0.04)
    train_loss = round(max(0.01, 0.15 + 1.85 * math.exp(-4 * progress) + jitter), 4)
    accuracy = round(min(0.99, max(0.0, 0.55 + 0.42 * (1 - math.exp(-4 * progress)) - jitter)), 4)
    metrics: dict[str, Any] = {
        "step": step,
        "train_loss": train_loss,
        "train_mean_token_accuracy": accuracy,
    }
    if with_validation:
        metrics["valid_loss"] = round(train_loss + 0.06, 4)
        metrics["valid_mean_token_accuracy"] = round(max(0.0, accuracy - 0.03), 4)
    return metrics


def sampled_steps(total_steps: int, count: int) -> list[int]:
    """`count` steps spread evenly over 1..total_steps, always ending on the last step."""
    count = max(1, min(count, total_steps))
    return sorted({math.ceil(k * total_steps / count) for k in range(1, count + 1)})


def results_csv(seed: int, total_steps: int, with_validation: bool) -> bytes:
    """The `fine-tune-results` file: one row per (sampled) step."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RESULTS_COLUMNS)
    for step in sampled_steps(total_steps, MAX_RESULT_ROWS):
        m = step_metrics(seed, step, total_steps, with_validation)
        writer.writerow(
            [
                step,
                m["train_loss"],
                m["train_mean_token_accuracy"],
                m.get("valid_loss", ""),
                m.get("valid_mean_token_accuracy", ""),
            ]
        )
    return buffer.getvalue().encode("utf-8")
