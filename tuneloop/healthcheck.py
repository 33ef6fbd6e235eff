"""`python -m tuneloop.healthcheck [URL]`: exit 0 when URL answers 200, else 1 with one line
saying why. For container health checks (the slim image has no curl). The default URL is
`tuneloop serve`'s own, http://127.0.0.1:$PORT/healthz (PORT: 3000)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import httpx2


def default_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PORT') or 3000}/healthz"


def check(url: str, *, timeout_s: float = 4.0) -> tuple[bool, str]:
    """(healthy, what was seen): healthy only on HTTP 200."""
    try:
        response = httpx2.get(url, timeout=timeout_s)
    except httpx2.HTTPError as error:
        return False, f"{url}: no answer ({type(error).__name__}: {error})"
    if response.status_code != 200:
        return False, f"{url}: HTTP {response.status_code} {response.text.strip()[:300]}"
    return True, f"{url}: HTTP 200"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    healthy, said = check(args[0] if args else default_url())
    print(said, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
