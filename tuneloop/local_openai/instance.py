"""`LocalOpenAI`: one stand-in, its state on disk, reachable in process or over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import openai

from tuneloop.local_openai.api import ApiRequest, ApiResponse, Router
from tuneloop.local_openai.chat import ChatService
from tuneloop.local_openai.clock import Clock, RealClock
from tuneloop.local_openai.faults import Faults
from tuneloop.local_openai.files import FileService
from tuneloop.local_openai.jobs import JobService
from tuneloop.local_openai.model_registry import ModelRegistry
from tuneloop.local_openai.retrieval import DEFAULT_THRESHOLD
from tuneloop.local_openai.storage import Storage
from tuneloop.local_openai.transport import IN_PROCESS_BASE_URL, in_process_transport

#: The key in-process clients send; the stand-in accepts any non-empty key.
LOCAL_API_KEY = "local-stand-in"


class LocalOpenAI:
    """An OpenAI-compatible stand-in: files, fine-tuning jobs, models and chat completions.

    Its fine-tuned "models" answer by nearest-neighbour retrieval over their training examples:
    a stand-in for development, demos and tests, not a language model. State lives under
    `data_dir`, so a new instance on the same folder sees the same files, jobs and models. Use
    one instance per folder and process (it is safe for threads, not for two processes).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Clock | None = None,
        faults: Faults | None = None,
        load_delay_s: float = 0.0,
        similarity_threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        if load_delay_s < 0:
            raise ValueError("load_delay_s must be >= 0")
        if not 0 <= similarity_threshold <= 100:
            raise ValueError("similarity_threshold must be between 0 and 100")
        self.data_dir = Path(data_dir)
        self.clock: Clock = clock if clock is not None else RealClock()
        self.faults: Faults = faults if faults is not None else Faults()
        storage = Storage(self.data_dir)
        files = FileService(storage, self.clock)
        models = ModelRegistry(
            storage,
            self.clock,
            load_delay_s=load_delay_s,
            similarity_threshold=similarity_threshold,
        )
        jobs = JobService(storage, self.clock, files, models, self.faults)
        self._router = Router(
            files=files,
            models=models,
            jobs=jobs,
            chat=ChatService(models, jobs, self.clock),
            faults=self.faults,
            lock=storage.lock,
        )

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request (both transports call this)."""
        return self._router.handle(request)

    def transport(self) -> httpx2.MockTransport:
        """An httpx2 transport into this stand-in, for clients built by hand."""
        return in_process_transport(self.handle)

    def client(self, max_retries: int = 2, **options: Any) -> openai.OpenAI:
        """The real `openai.OpenAI` SDK client, talking to this stand-in in process."""
        return openai.OpenAI(
            api_key=LOCAL_API_KEY,
            base_url=IN_PROCESS_BASE_URL,
            http_client=httpx2.Client(transport=self.transport()),
            max_retries=max_retries,
            **options,
        )
