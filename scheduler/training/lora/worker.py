"""The LoRA training worker: `python -m scheduler.training.lora.worker JOB_DIR`.

Also runs as `accelerate launch [args] -m scheduler.training.lora.worker JOB_DIR` (one process
per GPU; only the main process, RANK 0, writes status and publishes), or as a Kubernetes Job
with the job folder and the adapter store on shared storage: everything it needs is in the
folder's spec.json.

It moves the job to `running`, trains (resuming from the last checkpoint when restarted),
publishes the adapter to the store and moves the job to `succeeded`. A failure with a known
cause becomes `failed` with its code (base_model_unavailable, adapter_base_mismatch,
adapter_unavailable, adapter_exists, invalid_training_file, out_of_memory; anything else
worker_error) and a message; the traceback goes to worker.log. A job already finished
(cancelled, say) is left alone.

Exit status: 0 succeeded (or nothing to do), 1 failed, 2 the folder is unusable.
"""

from __future__ import annotations

import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scheduler.training.lora.adapters import AdapterConflict, AdapterInfo, AdapterStore
from scheduler.training.lora.errors import JobFailure
from scheduler.training.lora.job_folder import JobFolder
from scheduler.training.lora.spec import JobSpec, SpecError
from scheduler.training.protocol import JobStatus

if TYPE_CHECKING:
    from scheduler.training.lora.training import TrainingResult


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _is_main_process() -> bool:
    # accelerate / torchrun set RANK for each process; a plain run has none.
    return os.environ.get("RANK", "0") == "0"


def run(job_dir: Path) -> int:
    """Run the job in `job_dir` to its end; the exit status (see the module docstring)."""
    folder = JobFolder(job_dir, _now)
    try:
        spec = folder.read_spec()
    except (OSError, SpecError) as exc:
        print(f"tuneloop lora worker: {exc}", file=sys.stderr)
        return 2
    is_main = _is_main_process()
    store = AdapterStore(Path(spec.adapter_store))
    if is_main:
        if folder.transition(JobStatus.RUNNING) is None:
            print(f"job {spec.job_id} already finished; nothing to do", file=sys.stderr)
            return 0
        published = store.get(spec.adapter_name)
        if published is not None and published.job_id == spec.job_id:
            _succeed(folder, published, folder.last_tokens(), None)  # died after publishing
            return 0
    try:
        # Here, not at the top: the scheduler imports this module's package without torch.
        from scheduler.training.lora.training import remove_checkpoints, train

        result = train(spec, folder, is_main=is_main)
        if is_main and _publish(folder, spec, store, result):
            remove_checkpoints(folder)
        return 0
    except Exception as exc:
        code, message = failure_of(exc)
        traceback.print_exc()
        if is_main:
            with folder.lock():
                if folder.fail_locked(code, message) is not None:
                    folder.event(f"{code}: {message}", level="error")
        return 1


def _publish(folder: JobFolder, spec: JobSpec, store: AdapterStore, result: TrainingResult) -> bool:
    """Publish the adapter and mark the job succeeded, unless it was cancelled meanwhile (then
    False): under the folder's lock, so a cancellation and a success cannot both happen."""
    with folder.lock():
        current = folder.read_status()
        if current is not None and current.status.is_finished:
            return False
        info = store.publish(
            spec.adapter_name,
            result.adapter_dir,
            base_model=spec.base_model,
            dataset_version_id=spec.dataset_version_id,
            job_id=spec.job_id,
        )
        _succeed(folder, info, result.tokens, result.tokens_per_second)
    return True


def _succeed(
    folder: JobFolder, info: AdapterInfo, tokens: int | None, tokens_per_second: float | None
) -> None:
    folder.event(
        f"adapter {info.name} published (sha256 {info.sha256[:12]})",
        sha256=info.sha256,
        trained_tokens=tokens,
        tokens_per_second=tokens_per_second,
    )
    folder.write_status(
        JobStatus.SUCCEEDED,
        fine_tuned_model=info.name,
        trained_tokens=tokens,
        artifact_sha256=info.sha256,
    )


def failure_of(exc: Exception) -> tuple[str, str]:
    """(error code, message) for an exception that ended training."""
    if isinstance(exc, JobFailure):
        return exc.code, str(exc)
    if isinstance(exc, AdapterConflict):
        return "adapter_exists", str(exc)
    if _is_out_of_memory(exc):
        return "out_of_memory", f"out of memory: {exc}"
    return "worker_error", f"{type(exc).__name__}: {exc}"


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    # Only a loaded torch raises its own OutOfMemoryError; importing it here would fail the
    # report of a worker that died because torch is not installed.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(exc, torch.OutOfMemoryError)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m scheduler.training.lora.worker JOB_DIR", file=sys.stderr)
        return 2
    return run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
