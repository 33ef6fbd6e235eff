"""Detached worker processes: start one, tell whether it still runs, end its process group.

The worker leads a new session (`start_new_session=True`), so it outlives the scheduler that
started it, a terminal's Ctrl-C does not reach it, and `killpg` ends it together with the
processes it started (`accelerate launch` starts one per GPU).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Exit:
    """How a process ended, when known (a process we did not start leaves no exit status)."""

    returncode: int | None

    def describe(self) -> str:
        code = self.returncode
        if code is None:
            return "the worker process is gone (its exit status is unknown)"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            hint = (
                " (killed: by hand, or by the kernel's out-of-memory killer)" if code == -9 else ""
            )
            return f"the worker was ended by signal {name}{hint}"
        return f"the worker exited with status {code}"


def spawn(
    command: Sequence[str], *, cwd: Path, log_path: Path, env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Start `command` detached, stdout and stderr appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )


def proc_start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` in clock ticks (/proc/<pid>/stat field 22), or None
    where /proc is not available or the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def is_running(pid: int, proc_start: int | None) -> bool:
    """Whether `pid` is still the process started at `proc_start` and not a zombie.

    Without /proc (macOS), only whether some process has that pid.
    """
    if Path("/proc/self/stat").exists():
        state = _proc_state(pid)
        if state is None or state in ("Z", "X"):
            return False
        return proc_start is None or proc_start_time(pid) == proc_start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int) -> None:
    """SIGKILL every process of the group (already gone is fine)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
