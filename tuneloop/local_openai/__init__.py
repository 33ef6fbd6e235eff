"""An offline, OpenAI-compatible stand-in: the embedded default model provider.

Files, fine-tuning jobs (with OpenAI's statuses, events, checkpoints and asynchronous
validation), models and chat completions, spoken through the real `openai` SDK, in process
(`LocalOpenAI.client()`) or over HTTP (`tuneloop local-openai`). Its fine-tuned models answer
by nearest-neighbour retrieval over their training examples: a stand-in for development, demos
and tests, not a language model.
"""

from tuneloop.local_openai.api import ApiRequest, ApiResponse
from tuneloop.local_openai.clock import Clock, ManualClock, RealClock, instant_clock
from tuneloop.local_openai.faults import Faults
from tuneloop.local_openai.instance import LOCAL_API_KEY, LocalOpenAI
from tuneloop.local_openai.retrieval import DEFAULT_THRESHOLD, FALLBACK_ANSWER
from tuneloop.local_openai.transport import IN_PROCESS_BASE_URL

__all__ = [
    "DEFAULT_THRESHOLD",
    "FALLBACK_ANSWER",
    "IN_PROCESS_BASE_URL",
    "LOCAL_API_KEY",
    "ApiRequest",
    "ApiResponse",
    "Clock",
    "Faults",
    "LocalOpenAI",
    "ManualClock",
    "RealClock",
    "instant_clock",
]
