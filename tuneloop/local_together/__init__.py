"""An offline stand-in for Together AI's fine-tuning API and its OpenAI-compatible chat API.

Files (Together's three-call upload), fine-tuning jobs with Together's statuses and events
(moving with an injected clock, failing asynchronously on bad data or an injected fault),
price estimates, checkpoints, downloadable LoRA adapters, models and chat completions, in
process (`LocalTogether.client()`, `.chat_client()`) or over HTTP (`tuneloop local-together`).
Its output models answer by nearest-neighbour retrieval over their training examples: a
stand-in for development, demos and tests, not a language model.
"""

from tuneloop.local_together.instance import (
    DEFAULT_CREDIT_LIMIT_USD,
    IN_PROCESS_BASE_URL,
    LOCAL_API_KEY,
    LocalTogether,
)

__all__ = ["DEFAULT_CREDIT_LIMIT_USD", "IN_PROCESS_BASE_URL", "LOCAL_API_KEY", "LocalTogether"]
