"""Which adapters the serving side holds: load, unload, keep and re-load LoRA adapters.

A self-hosted backend serves the base model and its LoRA adapters from one vLLM server; the
scheduler decides which adapters it must hold (the candidate under evaluation, the promoted
adapter and the previous one for rollback) and this package makes the server hold exactly
those, through vLLM's runtime LoRA routes. Backends whose provider serves the model itself
(OpenAI) use `NoAdapterServing`. Plain Python: nothing here imports torch.
"""

from scheduler.errors import ServingError
from scheduler.serving.no_serving import NoAdapterServing
from scheduler.serving.protocol import AdapterLookup, AdapterRecord
from scheduler.serving.vllm_serving import VLLMAdapterServing

__all__ = [
    "AdapterLookup",
    "AdapterRecord",
    "NoAdapterServing",
    "ServingError",
    "VLLMAdapterServing",
]
