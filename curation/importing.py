"""Importing chat JSONL: the seeds of a new installation and bulk imports of approved examples.

A file is checked whole before anything from it is stored: one bad line (reported with file,
line number and reason) and nothing from that file is imported. Re-importing is a no-op, since
examples are de-duplicated by content.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.chat_format import check_sft_line, split_chat_line
from curation.db import Database
from curation.errors import ValidationError
from curation.examples import NewExample, insert_example, validate_new_example
from curation.fingerprints import prompt_hash
from curation.models import ExampleSource, Split

SEED_ACTOR = "tuneloop:seeds"
IMPORT_ACTOR = "tuneloop:import"


@dataclass
class ImportReport:
    """What one file contributed: new examples, and lines that were already stored."""

    path: str
    added: int = 0
    already_present: int = 0
    example_ids: list[int] = field(default_factory=list)
    #: Why nothing was imported from this file (empty when it was imported).
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "added": self.added,
            "already_present": self.already_present,
            "ok": self.ok,
            "problems": self.problems,
        }


def _with_system_prompt(
    prompt: list[dict[str, Any]], system_prompt: str | None
) -> list[dict[str, Any]]:
    """Lines without a system message get the installation's system prompt, as the bot sends it."""
    if system_prompt and (not prompt or prompt[0]["role"] not in ("system", "developer")):
        return [{"role": "system", "content": system_prompt}, *prompt]
    return prompt


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("r", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def parse_chat_file(
    path: Path,
    *,
    source: ExampleSource,
    system_prompt: str | None,
    golden: bool = False,
    split: Split | None = None,
) -> list[NewExample]:
    """Every line of `path` as a would-be example, or ValidationError naming each bad line."""
    problems: list[str] = []
    examples: list[NewExample] = []
    try:
        lines = list(_read_lines(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path}", [f"{path}: {exc}"]) from exc
    for number, raw in lines:
        where = f"{path}:{number}"
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        line_problems = check_sft_line(line)
        if line_problems:
            problems.extend(f"{where}: {p}" for p in line_problems)
            continue
        try:
            prompt, target = split_chat_line(line)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        prompt = _with_system_prompt(prompt, system_prompt)
        thread = line.get("thread_id")
        thread_key = (
            f"{source.value}:{thread}"
            if isinstance(thread, str) and thread
            else f"{source.value}:{prompt_hash(prompt[-1:])[:24]}"
        )
        new = NewExample(
            messages=prompt,
            target=target,
            source=source,
            thread_key=thread_key,
            golden=golden,
            split=split,
        )
        problems.extend(validate_new_example(new, where))
        examples.append(new)
    if not lines:
        problems.append(f"{path}: the file holds no examples")
    if problems:
        raise ValidationError(f"{path}: nothing imported from this file", problems)
    return examples


def store_examples(
    db: Database,
    path: Path,
    examples: list[NewExample],
    *,
    approved_by: str,
    eval_fraction: float,
) -> ImportReport:
    """Store parsed examples in one transaction (all or nothing)."""
    report = ImportReport(path=str(path))
    with db.session() as session:
        for index, new in enumerate(examples, start=1):
            example, created = insert_example(
                session, new, approved_by=approved_by, eval_fraction=eval_fraction
            )
            if not created and example.golden != new.golden:
                raise ValidationError(
                    f"{path}: nothing imported from this file",
                    [
                        f"{path}: example {index} is identical to stored example {example.id}, "
                        "which is on the other side of the golden/training divide"
                    ],
                )
            report.added += created
            report.already_present += not created
            report.example_ids.append(example.id)
    return report


def import_seeds(db: Database, seeds_dir: Path, *, eval_fraction: float) -> list[ImportReport]:
    """Import `train.jsonl` (training, always) and `golden.jsonl` (evaluation only, forever).

    Each file stands alone: a bad file is reported in its report's `problems` and contributes
    nothing, while a good one beside it is imported.
    """
    plan: list[tuple[str, bool, Split]] = [
        ("train.jsonl", False, Split.TRAIN),
        ("golden.jsonl", True, Split.EVAL),
    ]
    missing = [name for name, _, _ in plan if not (seeds_dir / name).is_file()]
    if missing:
        raise ValidationError(
            f"{seeds_dir} is not a seeds folder", [f"{seeds_dir / m}: missing" for m in missing]
        )
    system_prompt = read_system_prompt(seeds_dir / "system_prompt.md")
    reports = []
    for name, golden, split in plan:
        path = seeds_dir / name
        try:
            examples = parse_chat_file(
                path,
                source=ExampleSource.SEED,
                system_prompt=system_prompt,
                golden=golden,
                split=split,
            )
            report = store_examples(
                db, path, examples, approved_by=SEED_ACTOR, eval_fraction=eval_fraction
            )
        except ValidationError as exc:
            report = ImportReport(path=str(path), problems=exc.problems or [str(exc)])
        reports.append(report)
    return reports


def import_chat_file(
    db: Database,
    path: Path,
    *,
    system_prompt: str | None,
    eval_fraction: float,
    approved_by: str = IMPORT_ACTOR,
) -> ImportReport:
    """Bulk import of already-approved examples; each is split by its thread's hash."""
    examples = parse_chat_file(path, source=ExampleSource.IMPORT, system_prompt=system_prompt)
    return store_examples(db, path, examples, approved_by=approved_by, eval_fraction=eval_fraction)


def read_system_prompt(path: Path) -> str | None:
    """The system prompt file's text, or None when there is none."""
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8").strip()
    return text or None
