"""A 64 MB POST to /slack/events does not grow the serving process: measured on a real uvicorn
process (its resident set size, from /proc) before and after, unsigned and with a plausible
signature, with and without a Content-Length. Before the cap, one such body took a server
from 193 to 1,695 MB before its 401."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx2
import pytest

from tests.bot.test_http_guard import _chunks, _raw_post
from tuneloop.local_slack.signing import signed_headers

SECRET = "memory-signing-secret"
BODY_BYTES = 64 * 2**20
#: Growth allowed for all the bodies together: the 1 MiB cap, uvicorn's buffers, allocator slack.
ALLOWED_GROWTH_BYTES = 24 * 2**20

SERVER = textwrap.dedent(
    """
    import sys
    import uvicorn
    from slack_bolt import App
    from bot.asgi import create_asgi_app

    app = App(token="xoxb-memory", signing_secret=sys.argv[2], token_verification_enabled=False)
    uvicorn.run(
        create_asgi_app(app, signing_secret=sys.argv[2]),
        host="127.0.0.1", port=int(sys.argv[1]), lifespan="off", log_level="warning",
    )
    """
)


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[bytes], int, int]]:
    """The server process, its port, and the time by its clock (unix seconds)."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read a process's resident set size")
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), SECRET],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[0].decode()
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.05)
        yield process, port, _server_time(port)
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _server_time(port: int) -> int:
    """The server's clock, from its `Date` header: a test process whose clock is moved
    (--shift-clock) still sends timestamps inside the server's replay window."""
    answer = httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    return int(parsedate_to_datetime(answer.headers["date"]).timestamp())


@pytest.mark.slow
def test_64_mb_bodies_do_not_grow_the_server(
    server: tuple[subprocess.Popen[bytes], int, int],
) -> None:
    process, port, now = server
    # Plausible signature headers (the HMAC is of another body): the body must be looked at.
    signed = signed_headers(SECRET, b"not this body", timestamp=now)
    json_type = {"Content-Type": "application/json"}
    attempts = [
        ({**json_type, "Content-Length": str(BODY_BYTES)}, False, 401),
        ({**json_type, **signed, "Content-Length": str(BODY_BYTES)}, False, 413),
        ({**json_type, **signed, "Transfer-Encoding": "chunked"}, True, 413),
    ]
    before = _rss_bytes(process.pid)
    statuses = []
    for head, chunked, _ in attempts:
        statuses.append(_raw_post(port, head, _chunks(BODY_BYTES, chunked=chunked)))
    after = _rss_bytes(process.pid)
    print(f"server RSS {before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB after 3 x 64 MiB POSTs")
    assert statuses == [expected for *_, expected in attempts]
    assert after - before < ALLOWED_GROWTH_BYTES
