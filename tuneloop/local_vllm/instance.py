"""`LocalVLLM`: one stand-in server's state, reachable in process or over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import openai

from tuneloop.local_openai.api import ApiRequest, ApiResponse
from tuneloop.local_openai.http_server import RunningServer, serve_in_thread
from tuneloop.local_openai.transport import in_process_transport
from tuneloop.local_vllm.config import ServerConfig

#: Where in-process clients point; `.invalid` never resolves, so a client built with it but
#: without the transport fails loudly instead of reaching a real host.
IN_PROCESS_BASE_URL = "http://local-vllm.invalid/v1"


class LocalVLLM:
    """A stand-in for vLLM's OpenAI-compatible server, generating with transformers + PEFT.

    Loads the model named by `config.model` when constructed (seconds for small models; raises
    what transformers raises for a folder that is not a model). Adapters loaded at runtime
    live in memory only: a new instance starts without them, like a restarted vLLM. Concurrent
    requests are decoded together, up to `config.max_num_seqs` at a time (continuous batching,
    `scheduler.Scheduler`).
    """

    def __init__(self, config: ServerConfig, *, clock: Callable[[], float] = time.time) -> None:
        # The ML stack is imported here, not at module level: importing the package stays light.
        from tuneloop.local_vllm.api import Router
        from tuneloop.local_vllm.chat import ChatService
        from tuneloop.local_vllm.engine import Engine
        from tuneloop.local_vllm.lora import LoRAService
        from tuneloop.local_vllm.models import ServedModels
        from tuneloop.local_vllm.scheduler import Scheduler

        self.config = config
        engine = Engine(
            config.model, enable_lora=config.enable_lora, max_lora_rank=config.max_lora_rank
        )
        max_model_len = config.max_model_len or engine.max_position_embeddings
        if max_model_len > engine.max_position_embeddings:
            raise ValueError(
                f"max_model_len {max_model_len} is more than the model's "
                f"max_position_embeddings {engine.max_position_embeddings}"
            )
        models = ServedModels(config.names, str(config.model), max_model_len, clock)
        scheduler = Scheduler(
            engine,
            max_model_len=max_model_len,
            max_num_seqs=config.max_num_seqs,
            max_loras=config.max_loras,
        )
        self._router = Router(
            chat=ChatService(engine, scheduler, models, seed=config.seed, clock=clock),
            models=models,
            lora=LoRAService(engine, models),
            api_keys=config.api_keys,
            allow_runtime_lora_updating=config.allow_runtime_lora_updating,
        )

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one HTTP request (both ways in call this)."""
        return self._router.handle(request)

    def transport(self) -> httpx2.MockTransport:
        """An httpx2 transport into this stand-in, for clients built by hand."""
        return in_process_transport(self.handle)

    def client(
        self, api_key: str | None = None, *, max_retries: int = 0, **options: Any
    ) -> openai.OpenAI:
        """The real `openai.OpenAI` client, talking to this stand-in in process.

        `api_key` defaults to the first configured `--api-key` (or a placeholder when none).
        """
        key = api_key if api_key is not None else next(iter(self.config.api_keys), "no-key")
        return openai.OpenAI(
            api_key=key,
            base_url=IN_PROCESS_BASE_URL,
            http_client=httpx2.Client(transport=self.transport()),
            max_retries=max_retries,
            **options,
        )

    @contextmanager
    def serving(self, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningServer]:
        """Serve over HTTP from a background thread (port 0: a free port) until the block ends."""
        with serve_in_thread(self.handle, host=host, port=port) as server:
            yield server
