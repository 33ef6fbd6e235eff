"""A job folder on disk: its layout, and the files the scheduler and the worker exchange.

    <jobs_dir>/<job_id>/
        spec.json        the job spec (see spec.py), written once
        train.jsonl      the exported training file, as is; eval.jsonl when there is one
        status.json      OpenAI's job statuses + error {code, message} + the outcome
        events.jsonl     one event per line, like OpenAI's fine-tuning job events
        metrics.jsonl    per logged step: step, epoch, loss, eval_loss, tokens
        worker.json      the running worker: pid, process group, attempt
        worker.log       the worker's stdout and stderr
        checkpoints/     TRL/transformers checkpoints (checkpoint-<step>/)
        .lock            flock'ed around every status change

Whole-file writes go to a temporary file that is renamed over the old one, so a reader never
sees half a file. Status changes happen under the folder's lock and never leave a finished
status: a worker finishing as the scheduler cancels it cannot undo the cancellation.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scheduler.training.lora.spec import JobSpec
from scheduler.training.protocol import JobStatus

SPEC = "spec.json"
STATUS = "status.json"
EVENTS = "events.jsonl"
METRICS = "metrics.jsonl"
WORKER = "worker.json"
LOG = "worker.log"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"


@dataclass(frozen=True)
class JobState:
    """status.json: the job's status and, once finished, its outcome or its error.

    `error_code`/`error_message` mirror OpenAI's `job.error.code`/`.message`.
    """

    status: JobStatus
    updated_at: str
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    artifact_sha256: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["status"] = self.status.value
        data["error"] = (
            {"code": self.error_code, "message": self.error_message}
            if self.error_code is not None
            else None
        )
        del data["error_code"], data["error_message"]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> JobState:
        data = json.loads(text)
        error = data.pop("error", None) or {}
        return cls(
            status=JobStatus(data.pop("status")),
            error_code=error.get("code"),
            error_message=error.get("message"),
            **data,
        )


@dataclass(frozen=True)
class WorkerRecord:
    """worker.json: the process started for the job's latest attempt (1-based).

    `pgid` is the process group to signal (the worker leads a new session). `proc_start` is
    the kernel's start time of `pid` (/proc/<pid>/stat field 22) when known, so a pid reused
    by another process is not taken for the worker.
    """

    pid: int
    pgid: int
    attempt: int
    started_at: str
    command: list[str]
    proc_start: int | None = None


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) through a temporary file in the same folder."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line with a single write (O_APPEND: whole lines even with two writers)."""
    data = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of a .jsonl file (a torn last line from a crash is skipped)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class JobFolder:
    """Typed access to one job folder. `clock` returns the ISO-8601 UTC time to stamp with."""

    def __init__(self, path: Path, clock: Callable[[], str]) -> None:
        self.path = path
        self.job_id = path.name
        self._clock = clock

    def now(self) -> str:
        return self._clock()

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def exists(self) -> bool:
        return (self.path / SPEC).exists()

    # --- spec ---------------------------------------------------------------------------------
    def read_spec(self) -> JobSpec:
        """Raises `SpecError` for a spec this version cannot read."""
        return JobSpec.from_json(
            (self.path / SPEC).read_text(encoding="utf-8"), where=str(self.path / SPEC)
        )

    def write_spec(self, spec: JobSpec) -> None:
        write_atomic(self.path / SPEC, spec.to_json())

    # --- status -------------------------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[None]:
        """An exclusive flock on the folder's .lock file (blocks until held)."""
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def read_status(self) -> JobState | None:
        path = self.path / STATUS
        if not path.exists():
            return None
        return JobState.from_json(path.read_text(encoding="utf-8"))

    def write_status(self, status: JobStatus, **outcome: Any) -> JobState:
        """Write a status unconditionally (the caller holds the lock or owns the folder)."""
        state = JobState(status=status, updated_at=self._clock(), **outcome)
        write_atomic(self.path / STATUS, state.to_json())
        return state

    def transition(self, status: JobStatus, **outcome: Any) -> JobState | None:
        """Move to `status` under the lock unless the job already finished; the new state, or
        None when it had finished (and is left as it was)."""
        with self.lock():
            return self.transition_locked(status, **outcome)

    def transition_locked(self, status: JobStatus, **outcome: Any) -> JobState | None:
        current = self.read_status()
        if current is not None and current.status.is_finished:
            return None
        return self.write_status(status, **outcome)

    def fail_locked(self, code: str, message: str) -> JobState | None:
        return self.transition_locked(JobStatus.FAILED, error_code=code, error_message=message)

    # --- events and metrics -------------------------------------------------------------------
    def event(self, message: str, *, level: str = "info", **data: Any) -> None:
        """Append an event shaped like OpenAI's `fine_tuning.job.event` (level info|warn|error)."""
        record: dict[str, Any] = {"created_at": self._clock(), "level": level, "message": message}
        if data:
            record["data"] = data
        append_line(self.path / EVENTS, record)

    def events(self) -> list[dict[str, Any]]:
        return read_lines(self.path / EVENTS)

    def metric(self, record: dict[str, Any]) -> None:
        append_line(self.path / METRICS, record)

    def metrics(self) -> list[dict[str, Any]]:
        return read_lines(self.path / METRICS)

    def drop_metrics_after(self, step: int) -> None:
        """Forget metrics logged after `step`: a resumed run logs those steps again."""
        kept = [m for m in self.metrics() if int(m.get("step", 0)) <= step]
        text = "".join(json.dumps(m, ensure_ascii=False, sort_keys=True) + "\n" for m in kept)
        write_atomic(self.path / METRICS, text)

    def last_tokens(self) -> int | None:
        """The token count of the last metrics line (tokens seen so far), if any."""
        tokens = [m["tokens"] for m in self.metrics() if isinstance(m.get("tokens"), int)]
        return tokens[-1] if tokens else None

    # --- worker -------------------------------------------------------------------------------
    def read_worker(self) -> WorkerRecord | None:
        path = self.path / WORKER
        if not path.exists():
            return None
        return WorkerRecord(**json.loads(path.read_text(encoding="utf-8")))

    def write_worker(self, record: WorkerRecord) -> None:
        write_atomic(self.path / WORKER, json.dumps(asdict(record), indent=2) + "\n")

    def log_tail(self, lines: int) -> str:
        """The last `lines` lines of worker.log (empty when there is none)."""
        path = self.path / LOG
        if not path.exists():
            return ""
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])
