"""Together's adapter download unpacked: zstd, gzip or plain tar, and nothing else."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from scheduler.training.together.archive import ArchiveError, unpack_adapter
from tuneloop.local_together.adapter import adapter_archive, safetensors_bytes

JOB = {
    "id": "ft-0123",
    "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    "training_type": {
        "type": "Lora",
        "lora_r": 4,
        "lora_alpha": 8,
        "lora_trainable_modules": "q_proj,v_proj",
    },
}


def tar_of(files: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_the_stand_ins_gzip_adapter_unpacks_to_peft_files(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    archive.write_bytes(adapter_archive(JOB, hidden_size=16))
    folder = unpack_adapter(archive, tmp_path / "out")
    config = json.loads((folder / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["target_modules"]) == (
        4,
        8,
        ["q_proj", "v_proj"],
    )
    assert config["base_model_name_or_path"] == JOB["model"]
    assert (folder / "adapter_model.safetensors").is_file()
    assert adapter_archive(JOB, 16) == adapter_archive(JOB, 16)  # the same job, the same bytes


def test_the_safetensors_file_is_readable_by_safetensors(tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "w.safetensors"
    path.write_bytes(safetensors_bytes({"a": ([2, 3], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])}))
    loaded = safetensors.load_file(str(path))
    assert loaded["a"].shape == (2, 3) and loaded["a"][1, 2] == 6.0


def test_zstd_and_plain_tar_unpack_too(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    files = {"model/adapter_config.json": b"{}", "model/adapter_model.safetensors": b"x"}
    zst = tmp_path / "a.tar.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(tar_of(files)))
    assert unpack_adapter(zst, tmp_path / "z").name == "model"
    plain = tmp_path / "a.tar"
    plain.write_bytes(tar_of(files))
    assert (unpack_adapter(plain, tmp_path / "p") / "adapter_config.json").read_bytes() == b"{}"


def test_anything_else_is_refused_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        unpack_adapter(junk, tmp_path / "j")
    merged = tmp_path / "merged.tar"
    merged.write_bytes(tar_of({"model.safetensors": b"x"}, "w:gz"))
    with pytest.raises(ArchiveError, match="not a LoRA adapter"):
        unpack_adapter(merged, tmp_path / "m")
    escape = tmp_path / "escape.tar"
    escape.write_bytes(tar_of({"../outside/adapter_config.json": b"{}"}))
    with pytest.raises(ArchiveError):
        unpack_adapter(escape, tmp_path / "e")
    assert not (tmp_path / "outside").exists()
