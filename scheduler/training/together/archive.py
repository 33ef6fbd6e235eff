"""Together's adapter download, unpacked: a tar archive (zstd- or gzip-compressed) that holds
PEFT's `adapter_config.json` and adapter weights, possibly inside a folder.

The compression is told by the file's first bytes, not its name: Together's SDK names the
file from the response's content type (`.tar.gz` for `x-tar`, else `.tar.zst`). zstd needs the
`zstandard` package (`pip install 'tuneloop[together]'`); gzip and plain tar need nothing.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path
from typing import Any

from scheduler.training.lora.adapters import ADAPTER_CONFIG

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


class ArchiveError(Exception):
    """The download is not an archive holding a PEFT adapter."""


def unpack_adapter(archive: Path, into: Path) -> Path:
    """Extract `archive` under `into` and return the folder that holds `adapter_config.json`.

    Members that would land outside `into` (absolute paths, `..`, links) are refused by
    tarfile's `data` filter. Raises `ArchiveError` for anything that is not such an archive.
    """
    head = archive.read_bytes()[:4]
    into.mkdir(parents=True, exist_ok=True)
    try:
        if head.startswith(_ZSTD):
            with (
                archive.open("rb") as handle,
                _zstandard().ZstdDecompressor().stream_reader(handle) as reader,
                tarfile.open(fileobj=reader, mode="r|") as tar,
            ):
                tar.extractall(into, filter="data")
        else:
            mode = "r:gz" if head.startswith(_GZIP) else "r:"
            with tarfile.open(archive, mode) as tar:
                tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        shutil.rmtree(into, ignore_errors=True)
        raise ArchiveError(f"{archive.name} is not a readable tar archive: {exc}") from exc
    configs = sorted(into.rglob(ADAPTER_CONFIG), key=lambda p: len(p.parts))
    if not configs:
        raise ArchiveError(
            f"the archive holds no {ADAPTER_CONFIG}: it is not a LoRA adapter (a full "
            "fine-tune cannot be served as an adapter; use TUNELOOP_TOGETHER_SERVING=together)"
        )
    return configs[0].parent


def _zstandard() -> Any:  # the optional `zstandard` module
    try:
        import zstandard
    except ImportError:
        raise ArchiveError(
            "the adapter is zstd-compressed and the zstandard package is not installed: "
            "pip install 'tuneloop[together]'"
        ) from None
    return zstandard
