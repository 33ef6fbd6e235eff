"""`python -m tuneloop.base_models NAME MODELS_DIR`: make an embedded base model's folder and
print its path. Run as a child process so that the process asking (the scheduler, say) never
imports torch itself."""

from __future__ import annotations

import sys
from pathlib import Path

from tuneloop.base_models import BaseModelUnavailable, embedded_base_model


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tuneloop.base_models NAME MODELS_DIR", file=sys.stderr)
        return 2
    try:
        print(embedded_base_model(argv[0], Path(argv[1])))
    except BaseModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
