"""The `tuneloop` command line. Each module below adds its commands to the shared app."""

from __future__ import annotations

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
    """Console-script entry point."""
    app()
