"""The `tuneloop` command line. Each module below adds its commands to the shared app."""

from __future__ import annotations

import gc

from tuneloop.cli import (  # noqa: F401  (imported for their commands)
    db_commands,
    demo_commands,
    example_commands,
    export_commands,
    import_commands,
    init_commands,
    local_openai_commands,
    local_together_commands,
    local_vllm_commands,
    review_commands,
    scheduler_commands,
    serve_commands,
    stats_commands,
)
from tuneloop.cli.app import app


def main() -> None:
    """Console-script entry point: runs one command, then ends the process (typer's standalone
    mode exits with the command's status). To run a command in a process that goes on, call
    `app` (or typer's CliRunner) instead."""
    try:
        app()
    finally:
        _ready_to_exit()


def _ready_to_exit() -> None:
    """Hands the interpreter's exit less to do, changing nothing it would do.

    Once a command is done, what is left is its garbage and the modules it loaded. One
    collection now frees the garbage as the exit would (a store's connections close, and
    SQLite folds its write-ahead log back into the file); freezing what is still alive then
    spares the exit's own collections from walking every object of every module again. That
    walk is about a fifth of a store command's CPU time (`bench/bench_scale.py --cli-only`).
    Objects alive now are freed as ever when the exit clears the modules; a cycle among them
    is left to the operating system, which Python's exit never promised to collect either.
    """
    gc.collect()
    gc.freeze()
