"""Tokens as OpenAI's cookbook counts them: export, the cost estimate, the door's limit and
the stand-in's job validation give one number, the cookbook's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tiktoken

from curation.export import ExportOptions, export_dataset
from curation.importing import import_seeds
from curation.model_specs import DEFAULT_MODEL_SPECS, ModelTable
from curation.token_limit import TokenLimit
from curation.tokens import counter, line_tokens
from curation.training_line import TrainingLine
from tests.conftest import SEEDS_DIR
from tuneloop.local_openai.training_validation import validate_training_file

MODELS = ModelTable(DEFAULT_MODEL_SPECS)


def cookbook_messages(messages: list[dict[str, Any]], encoding: tiktoken.Encoding) -> int:
    """`num_tokens_from_messages` of OpenAI's cookbook, as published (3 per message, every
    value encoded, 1 more for a name, 3 to prime the reply); `weight`, a training switch that
    came after it and is no text, is skipped."""
    num_tokens = 0
    for message in messages:
        num_tokens += 3
        for key, value in message.items():
            if key == "weight":
                continue
            num_tokens += len(encoding.encode(value))
            if key == "name":
                num_tokens += 1
    return num_tokens + 3


def cookbook_tools(functions: list[dict[str, Any]], encoding: tiktoken.Encoding) -> int:
    """`num_tokens_for_tools` of the cookbook (gpt-4o constants), tools part only."""
    func_init, prop_init, prop_key, enum_init, enum_item, func_end = 7, 3, 3, -3, 3, 12
    count = 0
    for f in functions:
        count += func_init
        function = f["function"]
        description = function["description"].removesuffix(".")
        count += len(encoding.encode(function["name"] + ":" + description))
        properties = function["parameters"]["properties"]
        if properties:
            count += prop_init
            for key, spec in properties.items():
                count += prop_key
                if "enum" in spec:
                    count += enum_init
                    for item in spec["enum"]:
                        count += enum_item + len(encoding.encode(item))
                line = f"{key}:{spec['type']}:{spec['description'].removesuffix('.')}"
                count += len(encoding.encode(line))
    return count + func_end if functions else count


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().split("\n") if x]


def test_export_the_estimate_and_the_stand_in_count_the_seeds_as_the_cookbook(
    db, tmp_path: Path
) -> None:
    import_seeds(db, SEEDS_DIR, eval_fraction=0.2)
    model = "gpt-4.1-mini-2025-04-14"
    result = export_dataset(db, MODELS, ExportOptions(out_dir=tmp_path, model=model, epochs=3))
    encoding = tiktoken.get_encoding("o200k_base")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for split in ("train", "eval"):
        lines = _lines(tmp_path / f"{split}.jsonl")
        expected = [cookbook_messages(line["messages"], encoding) for line in lines]
        listed = [e["tokens"] for e in manifest["examples"] if e["split"] == split]
        assert listed == expected
        assert manifest["tokens"][split]["total"] == sum(expected)
    assert result.train_tokens == manifest["tokens"]["train"]["total"]
    # The field report's figure for the shipped seeds (tuneloop counted 25,436 without roles).
    assert result.train_tokens == 25_668
    assert result.estimated_training_tokens == result.train_tokens * 3
    assert result.estimated_cost_usd == round(result.train_tokens * 3 / 1e6 * 5.0, 4)
    verdict = validate_training_file(
        (tmp_path / "train.jsonl").read_bytes(),
        file_id="file-x",
        method="supervised",
        encoding="o200k_base",
    )
    assert verdict.tokens == result.train_tokens


def test_an_example_over_the_limit_by_its_role_tokens_is_refused() -> None:
    """The cookbook counts each role: an example that fits without them can be over with."""
    encoding = tiktoken.get_encoding("cl100k_base")
    messages = [
        {"role": "system", "content": "You are the Fernhill help desk."},
        {"role": "user", "content": "Log: " + "a " * 300},
        {"role": "assistant", "content": "Your disk quota is full; clear ~/builds."},
    ]
    exact = cookbook_messages(messages, encoding)
    without_roles = exact - sum(len(encoding.encode(m["role"])) for m in messages)
    line = TrainingLine.from_sft_line({"messages": messages})
    limit = TokenLimit("gpt-3.5-turbo-0125", without_roles, "cl100k_base")
    assert limit.tokens(line) == exact == without_roles + 3
    assert limit.problem(line) is not None
    assert TokenLimit("gpt-3.5-turbo-0125", exact, "cl100k_base").problem(line) is None


def test_tool_definitions_count_as_the_cookbook_counts_them() -> None:
    encoding = tiktoken.get_encoding("o200k_base")
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup_ticket",
                "description": "Look up an IT ticket.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "The ticket number."},
                        "queue": {"type": "string", "description": "", "enum": ["it", "hr"]},
                    },
                },
            },
        }
    ]
    messages = [{"role": "user", "content": "Ticket 4512?"}]
    count = counter("o200k_base")
    assert line_tokens(messages, count, tools=tools) == cookbook_messages(
        messages, encoding
    ) + cookbook_tools(tools, encoding)
