"""The self-hosted LoRA backend as a `Trainer`: a job folder per dataset version, trained by a
detached worker process (TRL + PEFT), the adapter published to an `AdapterStore`.

The scheduler never imports torch: `start` writes the folder and starts
`python -m scheduler.training.lora.worker <folder>` (or the same under `accelerate launch`);
`poll` only reads the folder and checks that the worker still runs, restarting it from its last
checkpoint when it died (up to `max_resume_attempts` times) and failing the job with the
reason after that; `cancel` ends the worker's process group.

A job is identified like OpenAI jobs are found by their metadata: job_id =
`lora-dv{dataset_version_id}-{train_sha256[:12]}`. `start` for a job whose folder exists reports
that job, so a scheduler restarted after a crash never trains a dataset version twice.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from subprocess import Popen

from scheduler.training.lora import job_folder as layout
from scheduler.training.lora.adapters import (
    AdapterError,
    AdapterInfo,
    AdapterStore,
    adapter_name,
    check_name,
)
from scheduler.training.lora.checkpoints import last_checkpoint
from scheduler.training.lora.config import LoraTrainerConfig
from scheduler.training.lora.errors import JobFailure
from scheduler.training.lora.job_folder import JobFolder, JobState, WorkerRecord
from scheduler.training.lora.process import (
    Exit,
    is_running,
    kill_group,
    proc_start_time,
    spawn,
)
from scheduler.training.lora.spec import JobSpec, SpecError
from scheduler.training.lora.validation import format_problems
from scheduler.training.protocol import (
    JobReport,
    JobStatus,
    OnUploaded,
    TrainingRequest,
)

log = logging.getLogger(__name__)

WORKER_MODULE = "scheduler.training.lora.worker"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def job_id_for(request: TrainingRequest) -> str:
    return f"lora-dv{request.dataset_version_id}-{request.train_sha256[:12]}"


@dataclass(frozen=True)
class _Plan:
    base_model: str
    base_path: Path
    init_adapter: AdapterInfo | None


class LoraTrainer:
    """Trains LoRA adapters in detached worker processes, one job folder per dataset version.

    jobs_dir: where job folders live (shared storage when the worker runs elsewhere).
    adapters: where finished adapters are published (what the serving side loads).
    clock: the time stamped on statuses and events (injected in tests).
    """

    name = "lora"

    def __init__(
        self,
        jobs_dir: Path,
        adapters: AdapterStore,
        config: LoraTrainerConfig,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        # Absolute: the worker runs inside its job folder and is handed the folder's path (a
        # relative TUNELOOP_DATA_DIR such as `tuneloop init`'s "data" would point nowhere).
        self._jobs_dir = jobs_dir.resolve()
        self._adapters = adapters
        self._config = config
        self._clock = clock
        #: Workers this process started, so their exit status is read (and they are reaped).
        self._children: dict[str, Popen[bytes]] = {}

    # --- the protocol -------------------------------------------------------------------------
    def start(self, request: TrainingRequest, on_uploaded: OnUploaded) -> JobReport:
        """Create the job for a dataset version and start its worker, or report the job that
        already exists. An unknown model, an adapter of a base this trainer cannot load, or a
        training file that is not in the method's OpenAI format gives a FAILED report."""
        job_id = job_id_for(request)
        folder = self._folder(job_id)
        if folder.exists():
            log.info("dataset version %s already has job %s", request.dataset_version_id, job_id)
            return self.poll(job_id)
        try:
            plan = self._plan(request, job_id)
        except JobFailure as refused:  # no job: a later start may succeed (say, once installed)
            return _failed(refused)
        except _AlreadyPublished as done:
            return _adapter_report(job_id, done.adapter)
        created = self._create(request, plan, job_id)
        if created is None:  # another process created it first
            return self.poll(job_id)
        on_uploaded("train", f"{job_id}/{created.train_file}")
        if created.eval_file is not None:
            on_uploaded("eval", f"{job_id}/{created.eval_file}")
        if created.launcher == "external":
            folder.event("waiting for an external worker (launcher: external)")
        else:
            with folder.lock():
                state = folder.read_status()
                if state is not None and state.status is JobStatus.QUEUED:
                    self._spawn(folder, created, attempt=1)
        return self.poll(job_id)

    def can_continue(self, model: str) -> bool:
        """Whether `model` is an adapter in the store (of the configured base model, when one
        is configured): the incremental strategy continues it."""
        adapter = self._adapters.get(model)
        wanted = self._config.base_model
        return adapter is not None and (wanted is None or adapter.base_model == wanted)

    def poll(self, job_id: str) -> JobReport:
        """Read the job's folder. A worker that died before finishing is restarted from its
        last checkpoint (an event says so) until `max_resume_attempts`, then the job fails
        with `worker_died` and the end of worker.log. Never waits on the worker."""
        opened = self._open(job_id)
        if isinstance(opened, JobReport):
            return opened
        folder, spec = opened
        with folder.lock():
            state = folder.read_status() or folder.write_status(JobStatus.QUEUED)
            if state.status.is_finished or spec.launcher == "external":
                self._reap(job_id)
                return _report(folder, spec, state)
            worker = folder.read_worker()
            if worker is None:
                folder.event("the job has no worker yet (start was interrupted); starting it")
                self._spawn(folder, spec, attempt=1)
            else:
                gone = self._exit_of(job_id, worker)
                if gone is not None:
                    state = self._after_death(folder, spec, state, worker, gone) or state
            state = folder.read_status() or state
        return _report(folder, spec, state)

    def cancel(self, job_id: str) -> JobReport:
        """Mark the job cancelled and SIGKILL its worker's process group (a finished job is
        reported as it finished)."""
        opened = self._open(job_id)
        if isinstance(opened, JobReport):
            return opened
        folder, spec = opened
        with folder.lock():
            state = folder.read_status()
            if state is None or not state.status.is_finished:
                state = folder.write_status(JobStatus.CANCELLED)
                folder.event("the job was cancelled")
                worker = folder.read_worker()
                if worker is not None and self._exit_of(job_id, worker) is None:
                    kill_group(worker.pgid)
                self._reap(job_id)
        return _report(folder, spec, state)

    # --- start --------------------------------------------------------------------------------
    def _folder(self, job_id: str) -> JobFolder:
        return JobFolder(self._jobs_dir / job_id, self._now)

    def _open(self, job_id: str) -> tuple[JobFolder, JobSpec] | JobReport:
        """The job's folder and spec, or the FAILED report of a job that is missing or was
        written by a newer version (whose folder is left alone)."""
        folder = self._folder(job_id)
        if not folder.exists():
            return JobReport(
                JobStatus.FAILED,
                job_id=job_id,
                error_code="job_not_found",
                error_message=f"no job folder {folder.path}",
            )
        try:
            return folder, folder.read_spec()
        except SpecError as exc:
            return _failed(exc, job_id)

    def _now(self) -> str:
        return self._clock().isoformat()

    def _plan(self, request: TrainingRequest, job_id: str) -> _Plan:
        name = adapter_name(request.suffix, request.dataset_version_id)
        try:
            check_name(name)
        except AdapterError as exc:
            raise JobFailure("invalid_suffix", str(exc)) from exc
        published = self._adapters.get(name)
        if published is not None:
            if published.job_id == job_id:
                raise _AlreadyPublished(published)
            raise JobFailure(
                "adapter_exists",
                f"adapter {name} already exists (from job {published.job_id}); a dataset "
                "version gets exactly one adapter",
            )
        init = self._adapters.get(request.model)
        base = init.base_model if init is not None else request.model
        served = self._config.base_model
        if served is not None and base != served:
            if init is not None:
                raise JobFailure(
                    "adapter_base_mismatch",
                    f"adapter {init.name} was trained on base model {base!r}, but this "
                    f"trainer trains adapters of {served!r} (the model the server runs)",
                )
            raise JobFailure(
                "model_not_found",
                f"{request.model!r} is neither the base model {served!r} nor an adapter in "
                f"{self._adapters.root}",
            )
        try:
            path = self._config.resolve(base)
        except Exception as exc:  # the resolver's own words: say, a package to install
            of_adapter = f" (the base of adapter {init.name})" if init is not None else ""
            raise JobFailure(
                "base_model_unavailable",
                f"base model {base!r}{of_adapter} cannot be provided: {exc}",
            ) from exc
        if path is None and init is not None:
            raise JobFailure(
                "adapter_base_mismatch",
                f"adapter {init.name} was trained on base model {base!r}, which this trainer "
                f"does not have (base models: {self._config.known_bases()})",
            )
        if path is None:
            raise JobFailure(
                "model_not_found",
                f"{request.model!r} is neither a base model of this trainer (base models: "
                f"{self._config.known_bases()}) nor an adapter in {self._adapters.root}",
            )
        if not (path / "config.json").is_file():
            raise JobFailure(
                "base_model_unavailable",
                f"base model {base!r}: {path} is not a Hugging Face model folder (no config.json)",
            )
        return _Plan(base_model=base, base_path=path, init_adapter=init)

    def _create(self, request: TrainingRequest, plan: _Plan, job_id: str) -> JobSpec | None:
        """Build the folder under a temporary name and rename it into place; None if a folder
        of that name appeared meanwhile."""
        self._jobs_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{job_id}.", dir=self._jobs_dir))
        try:
            draft = JobFolder(tmp, self._now)
            draft.write_status(JobStatus.VALIDATING_FILES)
            shutil.copyfile(request.train_path, tmp / "train.jsonl")
            eval_file = None
            if request.eval_path is not None and _non_empty(request.eval_path):
                shutil.copyfile(request.eval_path, tmp / "eval.jsonl")
                eval_file = "eval.jsonl"
            spec = self._spec(request, plan, job_id, eval_file)
            draft.write_spec(spec)
            draft.event(f"created job {job_id} for dataset version {request.dataset_version_id}")
            problem = format_problems(tmp / "train.jsonl", request.method) or (
                format_problems(tmp / eval_file, request.method) if eval_file else None
            )
            if problem is not None:
                draft.write_status(
                    JobStatus.FAILED, error_code="invalid_training_file", error_message=problem
                )
                draft.event(problem, level="error")
            else:
                draft.write_status(JobStatus.QUEUED)
            try:
                os.rename(tmp, self._jobs_dir / job_id)
            except OSError:
                if (self._jobs_dir / job_id).exists():
                    return None
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return spec

    def _spec(
        self, request: TrainingRequest, plan: _Plan, job_id: str, eval_file: str | None
    ) -> JobSpec:
        config = self._config
        init = plan.init_adapter
        return JobSpec(
            job_id=job_id,
            dataset_version_id=request.dataset_version_id,
            method=request.method,
            base_model=plan.base_model,
            base_model_path=str(plan.base_path.resolve()),
            adapter_name=adapter_name(request.suffix, request.dataset_version_id),
            adapter_store=str(self._adapters.root.resolve()),
            n_epochs=request.n_epochs or config.n_epochs,
            learning_rate=_learning_rate(config, request),
            lora_r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=(
                config.target_modules
                if isinstance(config.target_modules, str)
                else list(config.target_modules)
            ),
            max_seq_length=config.max_seq_length,
            seed=request.seed if request.seed is not None else config.seed,
            batch_size=config.batch_size,
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            save_steps=config.save_steps,
            eval_steps=config.eval_steps,
            max_steps=config.max_steps,
            dpo_beta=config.dpo_beta,
            gradient_checkpointing=config.gradient_checkpointing,
            init_adapter=init.name if init is not None else None,
            init_adapter_path=str(init.path.resolve()) if init is not None else None,
            launcher=config.launcher,
            accelerate_args=list(config.accelerate_args),
            eval_file=eval_file,
            created_at=self._now(),
        )

    # --- the worker process -------------------------------------------------------------------
    def _command(self, folder: JobFolder, spec: JobSpec) -> list[str]:
        python = self._config.python_executable
        if spec.launcher == "accelerate":
            return [
                python,
                "-m",
                "accelerate.commands.launch",
                *spec.accelerate_args,
                "-m",
                WORKER_MODULE,
                str(folder.path),
            ]
        return [python, "-m", WORKER_MODULE, str(folder.path)]

    def _env(self) -> dict[str, str]:
        # The worker imports this package: put its root first on the path, wherever it lives.
        root = str(Path(__file__).resolve().parents[3])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        return {
            **os.environ,
            **self._config.worker_env,
            "PYTHONPATH": path,
            "PYTHONUNBUFFERED": "1",
            # Nothing is downloaded: base models are local folders.
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }

    def _spawn(self, folder: JobFolder, spec: JobSpec, *, attempt: int) -> None:
        """Start the worker (the caller holds the folder's lock) and record it."""
        command = self._command(folder, spec)
        proc = spawn(command, cwd=folder.path, log_path=folder.file(layout.LOG), env=self._env())
        self._children[folder.job_id] = proc
        folder.write_worker(
            WorkerRecord(
                pid=proc.pid,
                pgid=proc.pid,  # it leads its own session, hence its own group
                attempt=attempt,
                started_at=self._now(),
                command=command,
                proc_start=proc_start_time(proc.pid),
            )
        )
        folder.event(f"worker started (pid {proc.pid}, attempt {attempt})", attempt=attempt)

    def _exit_of(self, job_id: str, worker: WorkerRecord) -> Exit | None:
        """None while the worker runs; how it ended otherwise."""
        child = self._children.get(job_id)
        if child is not None and child.pid == worker.pid:
            code = child.poll()
            return None if code is None else Exit(code)
        return None if is_running(worker.pid, worker.proc_start) else Exit(None)

    def _reap(self, job_id: str) -> None:
        child = self._children.pop(job_id, None)
        if child is not None:
            child.poll()

    def _after_death(
        self, folder: JobFolder, spec: JobSpec, state: JobState, worker: WorkerRecord, gone: Exit
    ) -> JobState | None:
        """The worker is gone and the job unfinished (the caller holds the lock): succeed if
        it published, restart it, or fail the job. A worker that exited with an error before
        it even marked the job running (a bad launcher argument, a broken environment) would
        fail the same way again: the job fails at once."""
        self._reap(folder.job_id)
        published = self._adapters.get(spec.adapter_name)
        if published is not None and published.job_id == spec.job_id:
            # It died between publishing the adapter and saying so.
            folder.event(f"adapter {published.name} was published; the job succeeded")
            return folder.write_status(
                JobStatus.SUCCEEDED,
                fine_tuned_model=published.name,
                artifact_sha256=published.sha256,
                trained_tokens=folder.last_tokens(),
            )
        reason = gone.describe()
        never_ran = state.status is JobStatus.QUEUED and (gone.returncode or 0) > 0
        if never_ran:
            reason += " before it started training"
        elif worker.attempt <= self._config.max_resume_attempts:
            checkpoint = _last_checkpoint_name(folder)
            where = f"from {checkpoint}" if checkpoint else "from the start (no checkpoint yet)"
            folder.event(
                f"{reason} before the job finished; restarting it {where} "
                f"(attempt {worker.attempt + 1} of {self._config.max_resume_attempts + 1})",
                level="warn",
            )
            self._spawn(folder, spec, attempt=worker.attempt + 1)
            return None
        tail = folder.log_tail(self._config.log_tail_lines)
        attempts = "" if never_ran else f" after {worker.attempt} attempts"
        message = reason + attempts + (f"; the end of {layout.LOG}:\n{tail}" if tail else "")
        folder.event(message, level="error")
        return folder.fail_locked("worker_died", message)


class _AlreadyPublished(Exception):
    def __init__(self, adapter: AdapterInfo) -> None:
        self.adapter = adapter
        super().__init__(adapter.name)


def _report(folder: JobFolder, spec: JobSpec, state: JobState) -> JobReport:
    files = {"train": f"{folder.job_id}/{spec.train_file}"}
    if spec.eval_file:
        files["eval"] = f"{folder.job_id}/{spec.eval_file}"
    return JobReport(
        status=state.status,
        job_id=folder.job_id,
        files=files,
        fine_tuned_model=state.fine_tuned_model,
        trained_tokens=state.trained_tokens,
        error_code=state.error_code,
        error_message=state.error_message,
        artifact_sha256=state.artifact_sha256,
        progress=job_progress(folder) if state.status is JobStatus.RUNNING else None,
    )


def job_progress(folder: JobFolder) -> str | None:
    """The worker's last logged step, as a person reads it."""
    metrics = folder.metrics()
    if not metrics:
        return None
    last = metrics[-1]
    of = f"/{last['max_steps']}" if last.get("max_steps") else ""
    epoch = f", epoch {last['epoch']:.2f}" if isinstance(last.get("epoch"), float) else ""
    loss = f", loss {last['loss']:.3f}" if isinstance(last.get("loss"), float) else ""
    return f"step {last.get('step')}{of}{epoch}{loss}"


def _adapter_report(job_id: str, adapter: AdapterInfo) -> JobReport:
    return JobReport(
        JobStatus.SUCCEEDED,
        job_id=job_id,
        fine_tuned_model=adapter.name,
        artifact_sha256=adapter.sha256,
    )


def _failed(failure: JobFailure, job_id: str | None = None) -> JobReport:
    return JobReport(
        JobStatus.FAILED, job_id=job_id, error_code=failure.code, error_message=str(failure)
    )


def _learning_rate(config: LoraTrainerConfig, request: TrainingRequest) -> float:
    """The configured rate for the method, scaled by the request's multiplier (OpenAI's
    `learning_rate_multiplier`; 0 is a valid multiplier)."""
    rate = config.dpo_learning_rate if request.method == "dpo" else config.learning_rate
    multiplier = request.learning_rate_multiplier
    return rate * (1.0 if multiplier is None else multiplier)


def _non_empty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _last_checkpoint_name(folder: JobFolder) -> str | None:
    found = last_checkpoint(folder.checkpoints)
    return found.name if found is not None else None
