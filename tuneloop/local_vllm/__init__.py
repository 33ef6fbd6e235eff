"""A local stand-in for vLLM's OpenAI-compatible server, generating with transformers + PEFT.

Chat completions (streamed and not, with vLLM's usage, sampling and stop rules), `/v1/models`
with the base model and its adapters, runtime LoRA loading and unloading
(`VLLM_ALLOW_RUNTIME_LORA_UPDATING`), `--api-key` on every `/v1` route, `/health`, and vLLM's
error answers: the same HTTP surface as `vllm serve --enable-lora`, answered by a real model
on CPU, for development and tests where vLLM is not installed. Reachable in process
(`LocalVLLM.client()`) or over HTTP (`LocalVLLM.serving()`, `python -m tuneloop.local_vllm`).
Like vLLM, it decodes concurrent requests together (continuous batching, up to
`--max-num-seqs`, base model and adapters in one batch), so N concurrent requests take far
less than N times one.

Where it differs from vLLM 0.32 (CPU), as measured here: it computes in float32 where vLLM
casts to bfloat16, so greedy replies agree for the first tokens and may drift after; it refuses
an adapter whose weights do not fit the model (vLLM loaded one and served it); unloading an
adapter while a reply streams from it ends that stream with an error event; its batch cache is
padded rather than paged, and new prompts are prefilled in a forward of their own before
their sequences join the batch (no chunked prefill); log probabilities, tools, structured
output and penalties are refused with a 400 that says so.

Importing this package does not import torch; constructing `LocalVLLM` does.
"""

from tuneloop.local_vllm.config import (
    RUNTIME_LORA_UPDATING_ENV,
    ServerConfig,
    runtime_lora_updating,
)
from tuneloop.local_vllm.instance import IN_PROCESS_BASE_URL, LocalVLLM

__all__ = [
    "IN_PROCESS_BASE_URL",
    "RUNTIME_LORA_UPDATING_ENV",
    "LocalVLLM",
    "ServerConfig",
    "runtime_lora_updating",
]
