"""The adapter store: trained LoRA adapters by the model id the registry records.

    <root>/<name>/adapter_config.json          PEFT's files, as PEFT saved them, except that
    <root>/<name>/adapter_model.safetensors    base_model_name_or_path is the base's serving name
    <root>/<name>/tuneloop-adapter.json        name, base_model, dataset_version_id, sha256, ...

`<name>` is `{suffix}-lora-dv{dataset_version_id}`: exactly one adapter per dataset version. An
adapter is written in a hidden temporary folder and renamed into place, so a reader (vLLM, the
serving code) sees a whole adapter or none. Files are world-readable (0644, folders 0755)
because vLLM may run as another user. vLLM matches an adapter to the model it serves by
`base_model_name_or_path`, which must equal its `--model`/served name (vLLM's LoRA resolver).

Plain Python: the scheduler, the bot and the serving code import this without torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

METADATA = "tuneloop-adapter.json"
ADAPTER_CONFIG = "adapter_config.json"
#: PEFT's weight files (safetensors since PEFT 0.6; .bin from older saves).
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class AdapterError(Exception):
    """An adapter that cannot be stored: bad name, missing PEFT files, or a conflict."""


class AdapterConflict(AdapterError):
    """`name` already holds different adapter files: one adapter per dataset version."""


@dataclass(frozen=True)
class AdapterInfo:
    """One stored adapter. `sha256` is `adapter_sha256` of its PEFT files; `path` its folder
    (what `/v1/load_lora_adapter` takes as `lora_path`)."""

    name: str
    path: Path
    base_model: str
    dataset_version_id: int
    sha256: str
    created_at: str | None = None
    job_id: str | None = None


def adapter_name(suffix: str, dataset_version_id: int) -> str:
    """The model id of the adapter trained on a dataset version: `{suffix}-lora-dv{id}`."""
    return f"{suffix}-lora-dv{dataset_version_id}"


def check_name(name: str) -> None:
    """Raises AdapterError unless `name` is one safe path component (it becomes a folder)."""
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise AdapterError(
            f"adapter name {name!r} must be 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def adapter_sha256(folder: Path) -> str:
    """sha256 over the PEFT files of `folder` (adapter_config.json and the weights), in name
    order, each as `<name>\\0<sha256 of its bytes>\\n`: the adapter's identity."""
    digest = hashlib.sha256()
    for name in _peft_files(folder):
        file_digest = hashlib.sha256()
        with (folder / name).open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                file_digest.update(chunk)
        digest.update(f"{name}\0{file_digest.hexdigest()}\n".encode())
    return digest.hexdigest()


def _peft_files(folder: Path) -> list[str]:
    names = [ADAPTER_CONFIG, *(w for w in WEIGHT_FILES if (folder / w).exists())]
    missing = [n for n in names if not (folder / n).exists()]
    if missing or len(names) == 1:
        raise AdapterError(
            f"{folder} is not a PEFT adapter: it needs {ADAPTER_CONFIG} and one of {WEIGHT_FILES}"
        )
    return sorted(names)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()


class AdapterStore:
    """Adapters under `root` (created on first publish). `clock` stamps `created_at`."""

    def __init__(self, root: Path, *, clock: Callable[[], str] = _utc_now) -> None:
        self.root = root
        self._clock = clock

    def get(self, name: str) -> AdapterInfo | None:
        """The adapter called `name`, or None (also for a folder without valid metadata)."""
        try:
            check_name(name)
        except AdapterError:
            return None
        folder = self.root / name
        try:
            data: dict[str, Any] = json.loads((folder / METADATA).read_text(encoding="utf-8"))
            return AdapterInfo(
                name=name,
                path=folder,
                base_model=str(data["base_model"]),
                dataset_version_id=int(data["dataset_version_id"]),
                sha256=str(data["sha256"]),
                created_at=data.get("created_at"),
                job_id=data.get("job_id"),
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring adapter %s: unreadable %s: %s", folder, METADATA, exc)
            return None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def list(self) -> list[AdapterInfo]:
        """Every stored adapter, by name."""
        if not self.root.is_dir():
            return []
        found = (self.get(p.name) for p in sorted(self.root.iterdir()) if p.is_dir())
        return [info for info in found if info is not None]

    def publish(
        self,
        name: str,
        source_dir: Path,
        *,
        base_model: str,
        dataset_version_id: int,
        job_id: str | None = None,
    ) -> AdapterInfo:
        """Copy PEFT's files from `source_dir` into the store as `name`, with
        `base_model_name_or_path` set to `base_model` (the serving name).

        Idempotent: publishing the same files under an existing name returns the stored
        adapter. Raises AdapterConflict when `name` holds different files, AdapterError when
        `source_dir` is not a PEFT adapter or `name` is not a safe folder name.
        """
        check_name(name)
        files = _peft_files(source_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.root))
        try:
            for file_name in files:
                shutil.copyfile(source_dir / file_name, tmp / file_name)
            config_path = tmp / ADAPTER_CONFIG
            config = json.loads(config_path.read_text(encoding="utf-8"))
            config["base_model_name_or_path"] = base_model
            config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
            sha = adapter_sha256(tmp)
            existing = self.get(name)
            if existing is not None:
                return self._same_or_conflict(existing, sha)
            metadata = {
                "name": name,
                "base_model": base_model,
                "dataset_version_id": dataset_version_id,
                "sha256": sha,
                "created_at": self._clock(),
                "job_id": job_id,
            }
            (tmp / METADATA).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
            for path in tmp.iterdir():
                os.chmod(path, 0o644)
            os.chmod(tmp, 0o755)
            try:
                os.rename(tmp, self.root / name)
            except OSError:  # another publisher renamed first (the target is not empty)
                existing = self.get(name)
                if existing is None:
                    raise
                return self._same_or_conflict(existing, sha)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        stored = self.get(name)
        assert stored is not None
        return stored

    @staticmethod
    def _same_or_conflict(existing: AdapterInfo, sha: str) -> AdapterInfo:
        if existing.sha256 == sha:
            return existing
        raise AdapterConflict(
            f"adapter {existing.name} already exists with other weights (sha256 "
            f"{existing.sha256[:12]}, new {sha[:12]}): one adapter per dataset version"
        )
