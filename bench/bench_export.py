"""Export benchmark: is export close to the cost of tokenising, and does memory stay flat?

Run:  TIKTOKEN_CACHE_DIR=../shared/tiktoken python bench/bench_export.py [--sizes 10000 100000]

For each size it builds a SQLite store of generated help-desk examples (not timed), then prints:
- export time / the time tiktoken alone needs to encode the same texts (target <= 1.5). A
  stricter second ratio encodes each distinct text once, since export caches the token count of
  repeated texts such as the system prompt;
- peak traced memory of the export at the largest size / at the smallest (target <= 1.3),
  measured in separate runs under tracemalloc so that tracing does not distort the timings.
Ratios come from one run on one machine, so they hold up on a shared, noisy one. Export and
tiktoken take turns `--repeat` times (3 by default) and the best time of each counts, as
`timeit` does: a burst of load on a shared machine slows one attempt, not the figure.
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import tiktoken
from sqlalchemy import insert

from curation.db import Database
from curation.export import ExportOptions, export_dataset
from curation.export.writer import _checked_content
from curation.fingerprints import content_hash, prompt_hash
from curation.model_specs import DEFAULT_MODEL_SPECS, ModelTable
from curation.models import Example
from curation.tokens import get_encoding

MODEL = "gpt-4.1-mini-2025-04-14"
SYSTEM = (Path(__file__).resolve().parent.parent / "seeds" / "system_prompt.md").read_text()
WORDS = [
    "laptop",
    "vpn",
    "password",
    "okta",
    "leave",
    "payroll",
    "expenses",
    "badge",
    "printer",
    "wifi",
    "calendar",
    "drive",
    "access",
    "manager",
    "holiday",
    "pension",
    "insurance",
    "travel",
    "booking",
    "policy",
    "request",
    "portal",
    "ticket",
    "approve",
    "reset",
    "device",
    "phone",
    "office",
    "leeds",
    "lisbon",
    "remote",
    "stipend",
    "learning",
    "budget",
    "review",
    "referral",
    "the",
    "a",
    "to",
    "for",
    "and",
    "of",
    "in",
    "on",
    "with",
    "your",
    "you",
    "can",
    "please",
    "how",
    "when",
    "where",
    "what",
    "which",
    "is",
    "are",
    "will",
    "need",
    "help",
    "team",
    "people",
    "it",
    "help",
    "desk",
    "submit",
    "form",
    "within",
    "days",
    "weeks",
    "month",
    "year",
    "before",
    "after",
]


def texts(n: int, seed: int = 7) -> Iterator[tuple[str, str]]:
    """Deterministic (question, answer) pairs of realistic length."""
    rng = random.Random(seed)
    for i in range(n):
        question = " ".join(rng.choices(WORDS, k=rng.randint(12, 40))) + f" (ticket {i})?"
        answer = " ".join(rng.choices(WORDS, k=rng.randint(40, 120))) + "."
        yield question, answer


def build_store(path: Path, n: int) -> Database:
    db = Database.open(f"sqlite:///{path}")
    batch: list[dict] = []
    with db.session() as session:
        for i, (question, answer) in enumerate(texts(n)):
            messages = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": question},
            ]
            batch.append(
                {
                    "messages": messages,
                    "target": answer,
                    "source": "import",
                    "split": "eval" if i % 10 == 0 else "train",
                    "golden": False,
                    "thread_key": f"bench:{i}",
                    "content_hash": content_hash(messages, answer),
                    "prompt_hash": prompt_hash(messages),
                    "approved_by": "bench",
                }
            )
            if len(batch) == 5000:
                session.execute(insert(Example), batch)
                batch.clear()
        if batch:
            session.execute(insert(Example), batch)
    return db


def time_export(db: Database, out: Path) -> float:
    _checked_content.cache_clear()
    get_encoding("o200k_base")  # loaded once per process, as the baseline warms up too
    options = ExportOptions(out_dir=out, model=MODEL, redact_pii=True)
    gc.collect()
    start = time.perf_counter()
    export_dataset(db, ModelTable(DEFAULT_MODEL_SPECS), options)
    return time.perf_counter() - start


def peak_export_memory(db: Database, out: Path) -> int:
    _checked_content.cache_clear()
    options = ExportOptions(out_dir=out, model=MODEL, redact_pii=True)
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    export_dataset(db, ModelTable(DEFAULT_MODEL_SPECS), options)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def time_tiktoken(n: int, distinct_only: bool) -> float:
    encoding = tiktoken.get_encoding("o200k_base")
    encoding.encode("warm up")
    start = time.perf_counter()
    system_done = False
    for question, answer in texts(n):
        if not (distinct_only and system_done):
            encoding.encode(SYSTEM, disallowed_special=())
            system_done = True
        encoding.encode(question, disallowed_special=())
        encoding.encode(answer, disallowed_special=())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="timed attempts; the best counts")
    args = parser.parse_args()
    peaks: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="tuneloop-bench-") as tmp:
        root = Path(tmp)
        for n in args.sizes:
            db = build_store(root / f"bench-{n}.db", n)
            # The text generator's own cost is subtracted from the baseline.
            start = time.perf_counter()
            for _ in texts(n):
                pass
            generation_s = time.perf_counter() - start
            export_s = tiktoken_s = distinct_s = float("inf")
            for attempt in range(args.repeat):
                export_s = min(export_s, time_export(db, root / f"out-{n}-t{attempt}"))
                tiktoken_s = min(tiktoken_s, time_tiktoken(n, distinct_only=False) - generation_s)
                distinct_s = min(distinct_s, time_tiktoken(n, distinct_only=True) - generation_s)
            peaks[n] = peak_export_memory(db, root / f"out-{n}-m")
            db.dispose()
            print(
                f"n={n:>7}: export {export_s:7.2f} s | tiktoken alone {tiktoken_s:6.2f} s "
                f"-> ratio {export_s / tiktoken_s:.2f} (target <= 1.5) | "
                f"distinct texts only {distinct_s:6.2f} s -> ratio {export_s / distinct_s:.2f} | "
                f"peak traced memory {peaks[n] / 2**20:.1f} MiB"
            )
    if len(peaks) >= 2:
        small, large = min(peaks), max(peaks)
        print(
            f"peak memory n={large} / n={small}: {peaks[large] / peaks[small]:.2f} (target <= 1.3)"
        )


if __name__ == "__main__":
    main()
