"""Training data and steps shared by the stand-in's tests (plain functions, not fixtures)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import openai
from openai.types.fine_tuning import FineTuningJob

from tuneloop.local_openai import ManualClock

SYSTEM = {"role": "system", "content": "You are the Fernhill help desk."}

FAQ: list[tuple[str, str]] = [
    ("How do I reset my password?", "Use the self-service portal at id.fernhill.example."),
    ("How do I connect to the VPN from home?", "Install GlobalConnect and sign in with SSO."),
    ("Where do I request a new laptop?", "Raise a hardware request in the IT portal."),
    ("How many days of annual leave do I get?", "You get 27 days plus bank holidays."),
    ("Who approves my expense claims?", "Your line manager approves expenses in Concur."),
    ("How do I book a meeting room?", "Book rooms from the Outlook room finder."),
    ("What is the wifi password for guests?", "Guests use the FH-Guest network; ask reception."),
    ("How do I set up my out of office reply?", "In Outlook: File, Automatic Replies."),
    ("When is payday?", "Payday is the last working day of the month."),
    ("How do I report a phishing email?", "Use the Report Phish button in Outlook."),
    ("How do I order a new headset?", "Order headsets from the IT catalogue."),
    ("Where can I find the holiday calendar?", "It is on the HR intranet page."),
]


def sft_line(question: str, answer: str, *, system: bool = True) -> dict[str, Any]:
    messages = [SYSTEM] if system else []
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"messages": messages}


def dpo_line(question: str, preferred: str, rejected: str) -> dict[str, Any]:
    return {
        "input": {"messages": [SYSTEM, {"role": "user", "content": question}]},
        "preferred_output": [{"role": "assistant", "content": preferred}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }


def jsonl(lines: Iterable[dict[str, Any] | str]) -> bytes:
    return "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode() + b"\n"


def sft_file(pairs: Sequence[tuple[str, str]] = FAQ) -> bytes:
    return jsonl(sft_line(q, a) for q, a in pairs)


def upload(
    client: openai.OpenAI, clock: ManualClock, data: bytes, name: str = "train.jsonl"
) -> str:
    """Upload a fine-tuning file and let it be processed; returns its id."""
    created = client.files.create(file=(name, data), purpose="fine-tune")
    clock.advance_stages(1)
    return created.id


def run_to_end(client: openai.OpenAI, clock: ManualClock, job_id: str) -> FineTuningJob:
    """Advance the clock through validation, queue and training, then read the job."""
    clock.advance_stages(3)
    return client.fine_tuning.jobs.retrieve(job_id)


def train(
    client: openai.OpenAI,
    clock: ManualClock,
    data: bytes | None = None,
    *,
    model: str = "gpt-4.1-mini-2025-04-14",
    **job_options: Any,
) -> FineTuningJob:
    """Upload, fine-tune and return the finished job (asserting it succeeded)."""
    file_id = upload(client, clock, data if data is not None else sft_file())
    job = client.fine_tuning.jobs.create(model=model, training_file=file_id, **job_options)
    finished = run_to_end(client, clock, job.id)
    assert finished.status == "succeeded", finished.error
    return finished


def ask(client: openai.OpenAI, model: str, question: str) -> str:
    reply = client.chat.completions.create(
        model=model, messages=[SYSTEM, {"role": "user", "content": question}]
    )
    content = reply.choices[0].message.content
    assert content is not None
    return content
