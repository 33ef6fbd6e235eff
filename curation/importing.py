"""Importing training JSONL: the seeds of a new installation and bulk imports of approved examples.

A line is a line of OpenAI's training format, supervised (`{"messages": [...]}`) or DPO
(`{"input": ..., "preferred_output": ..., "non_preferred_output": ...}`), checked by the same
rules as every other door (`curation.chat_format`); tuneloop's own `thread_id` (text or an
integer) groups a conversation's lines on one side of the train/eval split. A file is checked
whole before anything from it is stored: one bad line (reported with file, line number and rule)
and nothing from that file is imported. Re-importing is a no-op, since examples are
de-duplicated by content; a line identical to an example across the golden/training divide, or
asking what one there asks (`question_key`), is refused, each such line named. Files are
UTF-8, with or without a byte order mark; OpenAI's old prompt/completion lines are refused with
one problem that shows how to convert them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from curation.chat_format import (
    Problem,
    check_dpo_line,
    check_sft_line,
    check_text,
)
from curation.db import Database
from curation.errors import ValidationError
from curation.examples import (
    NewExample,
    insert_example,
    stored_content_hash,
    validate_new_example,
)
from curation.fingerprints import prompt_hash, question_key
from curation.message_texts import message_texts
from curation.models import Example, ExampleSource, Split
from curation.personal_data import PersonalDataPolicy
from curation.scrub import has_secret
from curation.token_limit import TokenLimit
from curation.training_line import TrainingLine

SEED_ACTOR = "tuneloop:seeds"
IMPORT_ACTOR = "tuneloop:import"
#: Keys of an import line that the importer reads itself and does not store in the line.
IMPORT_KEYS = frozenset({"thread_id"})


@dataclass
class ImportReport:
    """What one file contributed: new examples, and lines that were already stored."""

    path: str
    added: int = 0
    already_present: int = 0
    example_ids: list[int] = field(default_factory=list)
    #: Earlier assistant turns without a `weight`: kept as context (weight 0), not trained.
    context_turns: int = 0
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
            "context_turns": self.context_turns,
            "ok": self.ok,
            "problems": self.problems,
        }


@dataclass(frozen=True, slots=True)
class ImportChecks:
    """What an import checks beyond the format: the model's per-example token `limit`, and
    `personal_data` in the replies it would train (kept only with `keep_personal_data`)."""

    limit: TokenLimit | None = None
    personal_data: PersonalDataPolicy | None = None
    keep_personal_data: bool = False


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """A file that passed every check: its examples, the line number of each (1-based, in
    step with `examples`), and what the report should say of it."""

    examples: list[NewExample]
    context_turns: int = 0
    lines: list[int] = field(default_factory=list)

    def where(self, path: Path, index: int) -> str:
        """`FILE:LINE` of example `index` (0-based), or `FILE` when the line is not known."""
        return f"{path}:{self.lines[index]}" if index < len(self.lines) else str(path)

    def locations(self, path: Path) -> dict[str, str]:
        """`FILE:LINE` of each example, by the content hash it would be stored under."""
        return {
            stored_content_hash(new): self.where(path, index)
            for index, new in enumerate(self.examples)
        }


def _with_system_prompt(
    prompt: list[dict[str, Any]], system_prompt: str | None
) -> list[dict[str, Any]]:
    """Lines without a system message get the installation's system prompt, as the bot sends it."""
    if system_prompt and (not prompt or prompt[0].get("role") != "system"):
        return [{"role": "system", "content": system_prompt}, *prompt]
    return prompt


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    # utf-8-sig: a byte order mark that an editor (Notepad, Excel's "UTF-8 CSV") put at the
    # start of the file is no part of the first line.
    with path.open("r", encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


#: Byte order marks of UTF-16 (Notepad's "Unicode" and "Unicode big endian").
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    """The problem of a file that is not UTF-8: UTF-16 (by its byte order mark) is named, with
    what to do; anything else gives the first byte that does not decode."""
    try:
        with path.open("rb") as handle:
            start = handle.read(2)
    except OSError:
        start = b""
    if start in _UTF16_BOMS:
        return (
            f'{path}: not_utf8: saved as UTF-16 (Notepad\'s "Unicode"); save it as UTF-8 '
            "(Notepad: Save As, Encoding UTF-8), or convert it: "
            f"`iconv -f UTF-16 -t UTF-8 {path.name} > fixed.jsonl`"
        )
    return f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})"


def _not_jsonl(path: Path, lines: list[tuple[int, str]]) -> str | None:
    """The one problem of a file that is JSON but not JSONL (an array of examples, or objects
    spread over several lines, as a pretty-printer writes them), or None. Said once, instead
    of an `invalid JSON` for each of its lines."""
    if not lines:
        return None
    number, first = lines[0]
    start = first.strip()
    if start.startswith("["):
        shape = "this looks like a JSON array"
    elif start == "{":  # (how pretty-printers open an object; a JSONL line never does)
        shape = "this looks like pretty-printed JSON (an object over several lines)"
    else:
        return None
    return (
        f"{path}:{number}: not_jsonl: {shape}, not JSONL: one JSON object per line. Convert "
        f"it, for instance with `jq -c '.[]' {path.name} > fixed.jsonl` (an array) or "
        f"`jq -c . {path.name} > fixed.jsonl` (pretty-printed objects)"
    )


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _decode(raw: str) -> Any:
    """One line as JSON: ValueError for anything that is not JSON (NaN and Infinity, which
    Python's json reads but no database JSON type stores, included)."""
    try:
        # Without its line ending: a line cut short is then named at its own last column,
        # not at "column 1" of the line the newline would start.
        return json.loads(raw.rstrip("\r\n"), parse_constant=_not_json_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError("invalid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise ValueError(f"invalid JSON ({exc})") from None


#: Lines shown by number in the one problem a file of OpenAI's legacy prompt/completion lines
#: gets (the count says how many there are).
_LEGACY_LINES_SHOWN = 5
#: How to turn a legacy line into a chat one, in the problem and the README.
LEGACY_CONVERSION = (
    'jq -c \'{messages: [{role: "user", content: .prompt}, '
    '{role: "assistant", content: .completion}]}\' OLD.jsonl > NEW.jsonl'
)


def is_legacy_line(line: Any) -> bool:
    """A line of OpenAI's prompt/completion format (`{"prompt": ..., "completion": ...}`), which
    fine-tuned its completion models (babbage-002, davinci-002) rather than chat models: tuneloop
    does not import it."""
    return (
        isinstance(line, dict) and "messages" not in line and {"prompt", "completion"} <= set(line)
    )


def legacy_problem(path: Path, numbers: list[int]) -> str:
    """The one problem of a file with legacy prompt/completion lines at `numbers`: where they
    are, the format expected, and how to convert them. Not converted here: what separator
    ends a prompt, what stop sequence ends a completion and whether a prompt holds a system
    instruction or a whole conversation were the file author's conventions, which a
    conversion would have to guess."""
    shown = ", ".join(str(n) for n in numbers[:_LEGACY_LINES_SHOWN])
    more = ", ..." if len(numbers) > _LEGACY_LINES_SHOWN else ""
    count = f"{len(numbers)} lines (lines {shown}{more})" if len(numbers) > 1 else "this line"
    return (
        f"{path}:{numbers[0]}: legacy_prompt_completion: {count} in OpenAI's old "
        "prompt/completion format; tuneloop imports the chat format, "
        '{"messages": [{"role": "user", "content": ...}, {"role": "assistant", "content": '
        "...}]} on each line. Convert them, for instance with "
        f"`{LEGACY_CONVERSION}`, then remove any separator that ended each prompt and any "
        "stop sequence that ended each completion (README: Importing examples)"
    )


#: Longest `thread_id` kept: the thread key (`import:<thread_id>`) is a 200-character column.
MAX_THREAD_ID_LENGTH = 150


def thread_id_problem(thread: Any) -> Problem | None:
    """`thread_id` groups a conversation: text or an integer (7 and "7" are one thread), or
    absent (null). Anything else is refused, never ignored: ignoring it would let one
    conversation straddle train and eval."""
    if thread is None:
        return None
    if type(thread) is int or (isinstance(thread, str) and thread.strip()):
        text = str(thread)
        if len(text) > MAX_THREAD_ID_LENGTH:
            return Problem(
                "invalid_thread_id",
                "thread_id",
                f"{len(text)} characters, at most {MAX_THREAD_ID_LENGTH} are kept",
            )
        surrogate = check_text(text, "thread_id")
        return surrogate[0] if surrogate else None
    shown = json.dumps(thread, ensure_ascii=True)
    return Problem(
        "invalid_thread_id",
        "thread_id",
        f"thread_id must be non-empty text or an integer, not {shown[:40]}",
    )


def parse_line(line: Any) -> tuple[TrainingLine | None, list[Problem]]:
    """A decoded import line taken apart, or the rules it breaks. Never raises for bad input."""
    if isinstance(line, dict) and "messages" not in line and "input" in line:
        problems = check_dpo_line(line, extra_keys=IMPORT_KEYS)
        make = TrainingLine.from_dpo_line
    else:
        problems = check_sft_line(line, extra_keys=IMPORT_KEYS)
        make = TrainingLine.from_sft_line
    thread = thread_id_problem(line.get("thread_id")) if isinstance(line, dict) else None
    if thread is not None:
        problems.append(thread)
    if problems:
        return None, problems
    return make({k: v for k, v in line.items() if k not in IMPORT_KEYS}), []


def personal_data_problems(
    parts: TrainingLine, policy: PersonalDataPolicy, *, golden: bool = False
) -> list[Problem]:
    """Personal data in what a line trains, which the allow list does not keep: a person must
    decide (`keep_personal_data`). Trained are the reply, earlier turns of weight 1 and a DPO
    line's non-preferred output (trained against); each of their texts is read
    (`message_texts`: content and its parts, refusal, the arguments of tool and function calls).
    A golden line is never trained: its reply is the answer the evaluation expects, and is
    named so."""
    reply = (
        "a golden reply (the expected answer, stored and shown in evaluations)"
        if golden
        else "a trained reply"
    )
    trained: list[tuple[str, dict[str, Any]]]
    if parts.rejected is not None:  # a DPO line: `input` is never trained
        trained = [
            ("preferred_output[0]", parts.target),
            ("non_preferred_output[0]", parts.rejected),
        ]
    else:
        trained = [
            (f"messages[{index}]", m)
            for index, m in enumerate([*parts.prompt, parts.target])
            if m is parts.target or (m.get("role") == "assistant" and m.get("weight") == 1)
        ]
    return [
        Problem(
            "personal_data",
            f"{at}.{where}",
            f"{finding} in {reply}: put a team's public contacts on "
            "TUNELOOP_PII_ALLOW_LIST, remove it, or import with --keep-personal-data",
        )
        for at, message in trained
        for where, text in message_texts(message)
        for finding in policy.find(text)
    ]


def _thread_key(source: ExampleSource, thread: Any, parts: TrainingLine) -> str:
    """The line's conversation: its `thread_id`, else its last prompt turn. A `thread_id`
    holding a secret is kept as a digest of itself: lines that share it still share a thread
    (and a side of the split), and the secret is not stored."""
    if thread is not None:
        text = str(thread)
        if has_secret(text):
            text = (
                "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
            )
        return f"{source.value}:{text}"
    return f"{source.value}:{prompt_hash(parts.prompt[-1:])[:24]}"


def parse_chat_file(
    path: Path,
    *,
    source: ExampleSource,
    system_prompt: str | None,
    golden: bool = False,
    split: Split | None = None,
    checks: ImportChecks = ImportChecks(),
) -> ParsedFile:
    """Every line of `path` as a would-be example, or ValidationError naming each bad line
    (`FILE:LINE: rule at where: detail`), including those that fail `checks`."""
    # (line number, problem): reported in line order, whichever check found them.
    problems: list[tuple[int, str]] = []
    examples: list[NewExample] = []
    numbers: list[int] = []
    legacy: list[int] = []
    context_turns = 0
    try:
        lines = list(_read_lines(path))
    except UnicodeDecodeError as exc:
        raise ValidationError(f"cannot read {path}", [_not_utf8(path, exc)]) from None
    except OSError as exc:
        raise ValidationError(f"cannot read {path}", [f"{path}: {exc.strerror or exc}"]) from None
    not_jsonl = _not_jsonl(path, lines)
    if not_jsonl is not None:
        raise ValidationError(f"{path}: nothing imported from this file", [not_jsonl])
    for number, raw in lines:
        where = f"{path}:{number}"
        try:
            line = _decode(raw)
        except ValueError as exc:
            problems.append((number, f"{where}: {exc}"))
            continue
        if is_legacy_line(line):  # one problem for all of them, after the loop
            legacy.append(number)
            continue
        parts, line_problems = parse_line(line)
        if parts is None:
            problems.extend((number, f"{where}: {p}") for p in line_problems)
            continue
        if checks.personal_data is not None and not checks.keep_personal_data:
            found = personal_data_problems(parts, checks.personal_data, golden=golden)
            if found:
                problems.extend((number, f"{where}: {p}") for p in found)
                continue
        context_turns += sum(
            1 for m in parts.prompt if m.get("role") == "assistant" and "weight" not in m
        )
        thread = line.get("thread_id")
        parts = TrainingLine(
            prompt=_with_system_prompt(parts.prompt, system_prompt),
            target=parts.target,
            rejected=parts.rejected,
            after=parts.after,
            fields=parts.fields,
        )
        new = NewExample.from_line(
            parts,
            source=source,
            thread_key=_thread_key(source, thread, parts),
            golden=golden,
            split=split,
        )
        problems.extend((number, p) for p in validate_new_example(new, where, limit=checks.limit))
        examples.append(new)
        numbers.append(number)
    if legacy:
        problems.append((legacy[0], legacy_problem(path, legacy)))
    if not lines:
        problems.append((0, f"{path}: the file holds no examples"))
    if problems:
        problems.sort(key=lambda found: found[0])  # stable: a line's own problems keep order
        raise ValidationError(
            f"{path}: nothing imported from this file", [text for _, text in problems]
        )
    return ParsedFile(examples, context_turns, numbers)


def store_examples(
    db: Database,
    path: Path,
    parsed: ParsedFile,
    *,
    approved_by: str,
    eval_fraction: float,
    elsewhere: Mapping[str, str] | None = None,
) -> ImportReport:
    """Store parsed examples in one transaction (all or nothing).

    An example identical to a stored one on the other side of the golden/training divide
    (the golden set is never trained on), or one that asks what a stored one there
    asks with another answer, refuses the whole file with ValidationError, which names every
    such line (`FILE:LINE: golden_overlap: ...`, `golden_prompt_overlap`) and, from
    `elsewhere` (content hash to `FILE:LINE`, say the other seeds file's
    `ParsedFile.locations`), where the stored one came from."""
    report = ImportReport(path=str(path), context_turns=parsed.context_turns)
    with db.session() as session:
        overlaps: list[str] = []
        golden_questions: dict[str, Example] | None = None
        new_golden: dict[str, str] = {}
        for index, new in enumerate(parsed.examples):
            example, created = insert_example(
                session, new, approved_by=approved_by, eval_fraction=eval_fraction
            )
            where = parsed.where(path, index)
            if not created and example.golden != new.golden:
                overlaps.append(_overlap(where, example, elsewhere or {}, same=True))
            elif created and example.golden:
                new_golden.setdefault(question_key(example.messages), where)
            elif created and example.split == Split.TRAIN:
                if golden_questions is None:
                    golden_questions = _golden_questions(session)
                clash = golden_questions.get(question_key(example.messages))
                if clash is not None:
                    overlaps.append(_overlap(where, clash, elsewhere or {}, same=False))
            report.added += created
            report.already_present += not created
            report.example_ids.append(example.id)
        for where, clash in _trained_on(session, new_golden) if new_golden else ():
            overlaps.append(_overlap(where, clash, elsewhere or {}, same=False))
        if overlaps:  # raised inside the transaction: nothing from this file is stored
            raise ValidationError(f"{path}: nothing imported from this file", overlaps)
    return report


def _golden_questions(session: Session) -> dict[str, Example]:
    """Every golden item in use, by what it asks (`question_key`): a small set."""
    golden = session.scalars(
        select(Example)
        .where(Example.golden.is_(True), Example.retired_at.is_(None))
        .order_by(Example.id)
    )
    questions: dict[str, Example] = {}
    for example in golden:
        questions.setdefault(question_key(example.messages), example)
    return questions


def _trained_on(session: Session, asked: Mapping[str, str]) -> Iterator[tuple[str, Example]]:
    """(where, stored training example) for each of `asked` (question key to the new golden
    line's `FILE:LINE`) that a training example in use asks too: one pass over the training
    examples, read in batches."""
    wanted = dict(asked)
    training = (
        select(Example)
        .where(
            Example.split == Split.TRAIN,
            Example.golden.is_(False),
            Example.retired_at.is_(None),
        )
        .order_by(Example.id)
        .execution_options(yield_per=1000)
    )
    for example in session.scalars(training):
        where = wanted.pop(question_key(example.messages), None)
        if where is not None:
            yield where, example
            if not wanted:
                return


def _overlap(where: str, stored: Example, elsewhere: Mapping[str, str], *, same: bool) -> str:
    """The problem of a line across the golden/training divide from `stored`: identical to it
    (`same`), or asking exactly what it asks with another answer."""
    side = "golden" if stored.golden else "training"
    origin = f" ({elsewhere[stored.content_hash]})" if stored.content_hash in elsewhere else ""
    if same:
        return (
            f"{where}: golden_overlap: the same example as stored {side} example {stored.id}"
            f"{origin}: the golden set is never trained on, so an example belongs to one of "
            "the two; remove it from the other file"
        )
    return (
        f"{where}: golden_prompt_overlap: asks what stored {side} example {stored.id}"
        f"{origin} asks (case, spacing and closing punctuation aside), with another answer: a "
        "golden question that is trained on measures memory, not the model; keep the "
        "question in one file (and if this answer is the right one, put it in golden.jsonl)"
    )


def import_seeds(
    db: Database,
    seeds_dir: Path,
    *,
    eval_fraction: float,
    checks: ImportChecks = ImportChecks(),
) -> list[ImportReport]:
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
    # Both files are read first, so a line that repeats one of the other file is named with
    # the other's line too, whichever file was stored first (in this run or an earlier one).
    parsed: dict[str, ParsedFile | ValidationError] = {}
    for name, golden, split in plan:
        try:
            parsed[name] = parse_chat_file(
                seeds_dir / name,
                source=ExampleSource.SEED,
                system_prompt=system_prompt,
                golden=golden,
                split=split,
                checks=checks,
            )
        except ValidationError as exc:
            parsed[name] = exc
    locations = {
        name: result.locations(seeds_dir / name)
        for name, result in parsed.items()
        if isinstance(result, ParsedFile)
    }
    reports = []
    for name, _, _ in plan:
        path, result = seeds_dir / name, parsed[name]
        try:
            if isinstance(result, ValidationError):
                raise result
            elsewhere = {
                digest: where
                for other, found in locations.items()
                if other != name
                for digest, where in found.items()
            }
            report = store_examples(
                db,
                path,
                result,
                approved_by=SEED_ACTOR,
                eval_fraction=eval_fraction,
                elsewhere=elsewhere,
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
    checks: ImportChecks = ImportChecks(),
) -> ImportReport:
    """Bulk import of already-approved examples; each is split by its thread's hash."""
    parsed = parse_chat_file(
        path, source=ExampleSource.IMPORT, system_prompt=system_prompt, checks=checks
    )
    return store_examples(db, path, parsed, approved_by=approved_by, eval_fraction=eval_fraction)


def read_system_prompt(path: Path) -> str | None:
    """The system prompt file's text, or None when there is none."""
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8-sig").strip()  # (a BOM is no part of it)
    except (OSError, UnicodeError) as exc:
        raise ValidationError(f"cannot read {path}", [f"{path}: {exc}"]) from None
    return text or None
