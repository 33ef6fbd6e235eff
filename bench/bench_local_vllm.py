"""Benchmark: throughput of the local vLLM stand-in with concurrent requests, batched vs serial.

16 concurrent greedy chat requests of 48 tokens each (`ignore_eos`, so every reply is 48
tokens) on SmolLM2-135M-Instruct, sent through the `openai` SDK over HTTP to the stand-in
started as `python -m tuneloop.local_vllm` in a child process (as `tuneloop local-vllm` starts
it). The same requests run twice: against a server started with `--max-num-seqs 1` (one
request decoded at a time: serial decoding) and against one with the default (continuous
batching). Printed: wall time and completion tokens/s of each, the ratio (target: batched at
least 4x serial), and how many greedy replies the two runs agree on (batched matrix products
may round differently, so a reply may drift from the serial one after a near tie).

    python bench/bench_local_vllm.py [--requests 16] [--tokens 48] [--threads 1]
        [--rounds 1] [--adapter] [--modes serial batched] [--models-dir /tmp/models]

Both servers run side by side for the whole benchmark, and with `--rounds N` the two modes
take turns going first, so that the load of a shared machine weighs on both alike (the ratio
is of total times).

`--threads N` sets OMP_NUM_THREADS for the server (the CLI's default is one thread);
`--adapter` sends every other request to a LoRA adapter (random weights, rank 8), so batches
mix the base model and an adapter as an evaluation does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx2
import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.serving.adapters import write_adapter
from tests.serving.servers import _free_port, _healthy
from tuneloop.base_models.smollm2 import SMOLLM2_NAME, smollm2_folder

TARGET = 4.0
API_KEY = "bench-key"
ADAPTER = "bench-lora"
STARTUP_S = 300.0
#: Help-desk questions of different lengths, so batched prompts need padding.
QUESTIONS = [
    "How do I reset my password?",
    "My laptop will not connect to the VPN from the hotel wifi, what should I try first?",
    "Where do I request a new monitor?",
    "How many vacation days do I have left this year, and where can I see them?",
    "The printer on the third floor is jammed again.",
    "Who approves expense reports over 500 euros?",
    "Can I install Python on my work laptop myself or do I need a ticket?",
    "What is the wifi password for guests?",
    "How do I book a meeting room in the Berlin office for next Tuesday afternoon?",
    "My badge stopped working this morning.",
    "Is there a template for the quarterly project report?",
    "How do I add a shared mailbox to Outlook on a Mac?",
    "When is payday this month?",
    "Who do I ask about a parking permit for the new garage?",
    "How do I get access to the finance SharePoint site?",
    "My second screen flickers when I dock my laptop; is there a driver update?",
]


def ask(client: openai.OpenAI, model: str, question: str, tokens: int) -> str:
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": question}],
        max_completion_tokens=tokens,
        temperature=0,
        extra_body={"ignore_eos": True},
    )
    assert reply.usage is not None and reply.usage.completion_tokens == tokens, reply.usage
    return reply.choices[0].message.content or ""


@contextmanager
def stand_in(
    model: Path, max_num_seqs: int | None, threads: int | None, log: Path
) -> Iterator[openai.OpenAI]:
    """The stand-in's CLI in a child process, and a client for it; stopped on exit."""
    port = _free_port()
    command = [sys.executable, "-m", "tuneloop.local_vllm", "--model", str(model)]
    command += ["--served-model-name", SMOLLM2_NAME, "--enable-lora", "--max-lora-rank", "8"]
    command += ["--api-key", API_KEY, "--port", str(port)]
    if max_num_seqs is not None:
        command += ["--max-num-seqs", str(max_num_seqs)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + STARTUP_S
        while not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stand-in did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield openai.OpenAI(
            api_key=API_KEY,
            base_url=f"http://127.0.0.1:{port}/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.HTTPTransport(), timeout=1800),
        )
    finally:
        process.terminate()
        process.wait(timeout=60)


def run(client: openai.OpenAI, jobs: list[tuple[str, str]], tokens: int) -> tuple[float, list[str]]:
    """Send every (model, question) at once; the wall time until the last reply, and replies."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        started = time.perf_counter()
        replies = list(pool.map(lambda job: ask(client, job[0], job[1], tokens), jobs))
        return time.perf_counter() - started, replies


def measure(
    model: Path, adapter: Path | None, args: argparse.Namespace, log_dir: Path
) -> dict[str, tuple[float, list[str]]]:
    """Both servers run throughout; rounds alternate which goes first (serial, batched, then
    batched, serial...), so a change in the machine's load weighs on both alike. Returns per
    mode the total seconds over the rounds and the replies of its last round."""
    jobs = [
        (ADAPTER if adapter is not None and i % 2 else SMOLLM2_NAME, QUESTIONS[i % len(QUESTIONS)])
        for i in range(args.requests)
    ]
    modes = [
        (mode, seqs) for mode, seqs in (("serial", 1), ("batched", None)) if mode in args.modes
    ]
    results: dict[str, tuple[float, list[str]]] = {}
    with ExitStack() as stack:
        clients = {}
        for mode, max_num_seqs in modes:
            log = log_dir / f"{mode}.log"
            client = stack.enter_context(stand_in(model, max_num_seqs, args.threads, log))
            if adapter is not None:
                body = {"lora_name": ADAPTER, "lora_path": str(adapter)}
                client.post("/load_lora_adapter", cast_to=str, body=body)
            ask(client, SMOLLM2_NAME, QUESTIONS[0], 2)  # warm up
            clients[mode] = client
        for round_ in range(args.rounds):
            order = list(clients) if round_ % 2 == 0 else list(reversed(clients))
            for mode in order:
                seconds, replies = run(clients[mode], jobs, args.tokens)
                total = results.get(mode, (0.0, []))[0] + seconds
                results[mode] = (total, replies)
                tokens_per_s = args.requests * args.tokens / seconds
                print(
                    f"round {round_ + 1} {mode:8s} {seconds:7.1f} s  "
                    f"{tokens_per_s:6.2f} completion tokens/s",
                    flush=True,
                )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS (default 1)")
    parser.add_argument("--adapter", action="store_true", help="half the requests on a LoRA")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per mode")
    parser.add_argument(
        "--modes", nargs="+", choices=("serial", "batched"), default=["serial", "batched"]
    )
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()) / "models")
    args = parser.parse_args()
    model = smollm2_folder(args.models_dir)
    with tempfile.TemporaryDirectory() as tmp:
        adapter = None
        if args.adapter:
            adapter = write_adapter(
                model, Path(tmp) / ADAPTER, seed=1, base_model=SMOLLM2_NAME, rank=8
            )
        print(
            f"{args.requests} concurrent greedy requests x {args.tokens} tokens, SmolLM2-135M, "
            f"threads={args.threads or 1}{', half on a LoRA adapter' if adapter else ''}",
            flush=True,
        )
        results = measure(model, adapter, args, Path(tmp))
    if len(results) < 2:
        return 0
    serial, batched = results["serial"], results["batched"]
    ratio = serial[0] / batched[0]
    same = sum(a == b for a, b in zip(serial[1], batched[1], strict=True))
    tokens = args.rounds * args.requests * args.tokens
    for mode, (seconds, _) in results.items():
        print(f"{mode:8s} total {seconds:7.1f} s  {tokens / seconds:6.2f} completion tokens/s")
    print(f"batched/serial throughput: {ratio:.2f}x (target >= {TARGET:.0f}x)")
    print(f"greedy replies identical in both runs: {same}/{len(serial[1])}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
