"""Benchmark: promotion latency on the self-hosted backend, against the local vLLM stand-in.

Promotion latency is the time from "promote" (the serving side told to keep the new adapter
and the previous one: `VLLMAdapterServing.keep([new, previous])`, what a registry change
triggers) to the end of the first reply served by the new adapter, divided by the time of one
chat request on an adapter already loaded. Target: at most 3.

The stand-in serves the tiny model over HTTP (uvicorn on 127.0.0.1) and is called through the
`openai` SDK, as the bot and the scheduler call vLLM. Each round promotes an adapter under a
new name (the adapter files are reused: only the name must be new to the server), so every
round really loads one adapter and unloads the one before the previous.

    python bench/bench_promotion.py [--rounds 5] [--tokens 32] [--threads 1]
    python bench/bench_promotion.py --vllm-python /path/to/venv/bin/python   # real vLLM
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import openai

# The adapters are written with the serving tests' helper (PEFT, random weights).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scheduler.serving import VLLMAdapterServing
from tests.serving.adapters import AdapterFolders, StoredAdapter, write_adapter
from tests.serving.servers import API_KEY, BaseModel, VLLMServer
from tuneloop.base_models.tiny import TINY_MODEL_NAME, build_tiny_model
from tuneloop.local_vllm import LocalVLLM, ServerConfig

TARGET = 3.0
QUESTION = [{"role": "user", "content": "How do I reset my password?"}]


def reply_seconds(client: openai.OpenAI, model: str, tokens: int) -> float:
    """Wall time of one streamed chat request, from sending it to its last chunk."""
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=model,
        messages=QUESTION,
        max_completion_tokens=tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},  # every reply is exactly `tokens` long
    )
    chunks = list(stream)
    elapsed = time.perf_counter() - started
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == tokens
    assert chunks[-1].model == model
    return elapsed


@contextmanager
def served(model: Path, vllm_python: str | None, logs: Path) -> Iterator[str]:
    """The server's base URL: the stand-in in a thread, or real vLLM in a child process."""
    if vllm_python:
        vllm = VLLMServer(BaseModel(model, TINY_MODEL_NAME), logs, python=vllm_python)
        try:
            yield vllm.base_url
        finally:
            vllm.stop()
        return
    config = ServerConfig(
        model=model,
        served_model_names=(TINY_MODEL_NAME,),
        enable_lora=True,
        max_lora_rank=16,
        max_loras=2,
        api_keys=(API_KEY,),
        allow_runtime_lora_updating=True,
    )
    with LocalVLLM(config).serving() as server:
        yield server.base_url


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--rounds", type=int, default=5)
    cli.add_argument("--tokens", type=int, default=32, help="completion tokens per reply")
    cli.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    cli.add_argument("--vllm-python", help="measure real vLLM run by this Python instead")
    args = cli.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="bench-promotion-") as tmp:
        root = Path(tmp)
        model = build_tiny_model(root / TINY_MODEL_NAME)
        folders = [
            write_adapter(model, root / f"adapter-{seed}", seed=seed, base_model=TINY_MODEL_NAME)
            for seed in (1, 2)
        ]
        store = AdapterFolders()
        names = [f"tuneloop-lora-dv{i}" for i in range(args.rounds + 1)]
        for i, name in enumerate(names):
            store.add(StoredAdapter(name, folders[i % 2], TINY_MODEL_NAME))
        with served(model, args.vllm_python, root) as base_url:
            client = openai.OpenAI(
                api_key=API_KEY,
                base_url=base_url,
                max_retries=0,
                http_client=httpx2.Client(transport=httpx2.HTTPTransport()),
            )
            serving = VLLMAdapterServing(client, store)
            serving.keep([names[0]])
            for _ in range(3):  # warm up both paths (first forward passes, HTTP connection)
                reply_seconds(client, names[0], args.tokens)
                reply_seconds(client, TINY_MODEL_NAME, args.tokens)

            chats, promotions, keeps = [], [], []
            for previous, new in itertools.pairwise(names):
                chats.append(reply_seconds(client, previous, args.tokens))
                started = time.perf_counter()
                serving.keep([new, previous])
                keeps.append(time.perf_counter() - started)
                reply_seconds(client, new, args.tokens)
                promotions.append(time.perf_counter() - started)
                assert serving.loaded() == {new, previous}

    chat = statistics.median(chats)
    promotion = statistics.median(promotions)
    keep = statistics.median(keeps)
    ratio = promotion / chat
    server = "vLLM" if args.vllm_python else "the stand-in"
    print(f"tiny model, {server} over HTTP, {args.tokens}-token replies, {args.rounds} rounds")
    print(f"one chat request (adapter loaded):        {chat * 1000:8.1f} ms (median)")
    print(f"promote: keep([new, previous]):           {keep * 1000:8.1f} ms (median)")
    print(f"promote -> first reply by the new adapter: {promotion * 1000:8.1f} ms (median)")
    verdict = "ok" if ratio <= TARGET else "OVER TARGET"
    print(f"promotion latency / chat request = {ratio:.2f} (target <= {TARGET:g}): {verdict}")


if __name__ == "__main__":
    main()
