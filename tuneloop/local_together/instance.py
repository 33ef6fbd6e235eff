"""`LocalTogether`: one Together stand-in, its state on disk, reachable in process or over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import openai

from scheduler.training.together import TogetherClient
from tuneloop.local_openai.api import ApiRequest, ApiResponse
from tuneloop.local_openai.chat import ChatService
from tuneloop.local_openai.clock import Clock, RealClock
from tuneloop.local_openai.faults import Faults
from tuneloop.local_openai.retrieval import DEFAULT_THRESHOLD
from tuneloop.local_openai.storage import Storage
from tuneloop.local_openai.transport import in_process_transport
from tuneloop.local_together.api import Router
from tuneloop.local_together.files import FileService
from tuneloop.local_together.jobs import JobService
from tuneloop.local_together.models import ModelRegistry

#: Where in-process clients point (`.invalid` never resolves: without the transport a client
#: fails loudly instead of reaching a real host).
IN_PROCESS_BASE_URL = "http://local-together.invalid/v1"
#: The key in-process clients send; the stand-in accepts any non-empty key.
LOCAL_API_KEY = "local-together-stand-in"
#: The account's credit limit the price estimate compares with (`allowed_to_proceed`).
DEFAULT_CREDIT_LIMIT_USD = 1000.0


class LocalTogether:
    """A Together AI stand-in: files (three-call upload), fine-tuning jobs with Together's
    statuses, events, checkpoints, price estimates and downloadable adapters, models and
    OpenAI-compatible chat completions.

    Its output models answer by nearest-neighbour retrieval over their training examples: a
    stand-in for development, demos and tests, not a language model. State lives under
    `data_dir`; use one instance per folder and process (safe for threads).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Clock | None = None,
        faults: Faults | None = None,
        load_delay_s: float = 0.0,
        similarity_threshold: float = DEFAULT_THRESHOLD,
        credit_limit_usd: float = DEFAULT_CREDIT_LIMIT_USD,
    ) -> None:
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
        jobs = JobService(
            storage, self.clock, files, models, self.faults, credit_limit_usd=credit_limit_usd
        )
        self._router = Router(
            files=files,
            jobs=jobs,
            models=models,
            chat=ChatService(models, jobs, self.clock),
            faults=self.faults,
            lock=storage.lock,
        )

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request (both transports call this)."""
        return self._router.handle(request)

    def transport(self) -> httpx2.MockTransport:
        return in_process_transport(self.handle)

    def client(self) -> TogetherClient:
        """The trainer's client, talking to this stand-in in process."""
        http = httpx2.Client(transport=self.transport())
        return TogetherClient(LOCAL_API_KEY, IN_PROCESS_BASE_URL, http_client=http)

    def chat_client(self, max_retries: int = 2, **options: Any) -> openai.OpenAI:
        """The real `openai` SDK on the stand-in's OpenAI-compatible chat API, in process."""
        return openai.OpenAI(
            api_key=LOCAL_API_KEY,
            base_url=IN_PROCESS_BASE_URL,
            http_client=httpx2.Client(transport=self.transport()),
            max_retries=max_retries,
            **options,
        )
