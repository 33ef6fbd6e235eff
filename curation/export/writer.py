"""Export a dataset version: train.jsonl, eval.jsonl and manifest.json, recorded in the store.

The export streams: rows come from the database in batches and go straight to the files, and
everything it keeps (hashes, statistics, the first problems found) has a fixed size, so memory
does not grow with the number of examples. Every line is checked by the rules of every other
door (`curation.chat_format`) and against the model's token limit; an example that fails (say,
one that a later change of model made too long) is left out with its rule, counted in the
manifest (`left_out`), and never blocks the export of the others. Files are written in a hidden
folder and moved into place when complete; the manifest goes last, so a folder with a manifest
is a complete export. The same data gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session, aliased

from curation.chat_format import identical_outputs
from curation.db import Database
from curation.errors import ValidationError
from curation.export.lines import BUILDERS, CHECKERS, Method, line_messages, line_tools
from curation.export.token_stats import TokenStats
from curation.message_texts import TEXT_KEYS, rewrite_texts
from curation.model_specs import ModelSpec, ModelTable
from curation.models import DatasetItem, DatasetVersion, Example, Split
from curation.personal_data import PersonalDataPolicy
from curation.scrub import find_secrets
from curation.tokens import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    counter,
    get_encoding,
    tools_tokens,
    value_tokens,
)
from curation.training_line import TrainingLine

#: OpenAI refuses a fine-tuning job with fewer training examples than this.
MIN_TRAINING_EXAMPLES = 10
MANIFEST_FORMAT = "tuneloop-dataset/1"
_BATCH = 1000
#: Examples recorded per statement: bound parameters stay under 999, the limit of SQLite
#: before 3.32.
_RECORD_BATCH = 500
_LINE_BREAKERS = re.compile("[\x85\u2028\u2029]")
#: One encoder for every line, with json.dumps's options (json.dumps would build one per line).
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_MAX_REPORTED_PROBLEMS = 50
_PLAIN_KEYS = frozenset({"role", "content", "weight"})
#: Write buffer of a data file: a line is about 2 KB, and the default 8 KB buffer made
#: nearly every fourth line a system call.
_WRITE_BUFFER = 1 << 18


@dataclass(frozen=True, slots=True)
class ExportOptions:
    out_dir: Path
    model: str
    method: Method = Method.SFT
    epochs: int = 3
    #: Redact personal data in the messages a line does not train (prompts, context turns).
    redact_pii: bool = True
    #: What counts as personal data, and the team's own contacts that are kept.
    personal_data: PersonalDataPolicy = field(default_factory=PersonalDataPolicy)
    #: Replace the files of an earlier export found in `out_dir`. Off, such a folder is
    #: refused: the earlier dataset version's record keeps pointing at its files, and a
    #: training run of it would read the new ones.
    replace: bool = False


@dataclass
class ExportResult:
    dataset_version_id: int
    path: Path
    method: Method
    model: str
    train_count: int
    eval_count: int
    train_tokens: int
    estimated_training_tokens: int
    estimated_cost_usd: float
    files: dict[str, str]
    fingerprint: str
    summary: dict[str, Any] = field(default_factory=dict)
    #: Examples left out of this version, by rule (`too_many_tokens`: 2, ...).
    left_out: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset_version_id": self.dataset_version_id,
            "path": str(self.path),
            "method": self.method.value,
            "model": self.model,
            "train_count": self.train_count,
            "eval_count": self.eval_count,
            "train_tokens": self.train_tokens,
            "estimated_training_tokens": self.estimated_training_tokens,
            "estimated_cost_usd": self.estimated_cost_usd,
            "sha256": self.files,
            "fingerprint": self.fingerprint,
            "left_out": self.left_out,
        }


def exportable_conditions(split: Split, method: Method) -> list[ColumnElement[bool]]:
    """Which examples an export takes for `split`: approved, not retired, not golden, and only
    the newest example for each prompt (a later correction supersedes an earlier answer)."""
    newer = aliased(Example)
    conditions: list[ColumnElement[bool]] = [
        Example.split == split,
        Example.golden.is_(False),
        Example.retired_at.is_(None),
        ~exists().where(
            and_(
                newer.prompt_hash == Example.prompt_hash,
                newer.split == Example.split,
                newer.golden.is_(False),
                newer.retired_at.is_(None),
                newer.id > Example.id,
            )
        ),
    ]
    if method is Method.DPO:
        conditions.append(Example.rejected.is_not(None))
    return conditions


def exportable(split: Split, method: Method) -> Select[Any]:
    """The ids of the examples an export takes for `split`."""
    return select(Example.id).where(*exportable_conditions(split, method))


@lru_cache(maxsize=4096)
def _checked_content(
    encoding_name: str, text: str, redact: PersonalDataPolicy | None
) -> tuple[str, int, str | None]:
    """(text as written, its token count, the kind of secret it holds or None), with personal
    data redacted by `redact` when given.

    Cached, with a bound: the system prompt repeats in nearly every example, and is checked and
    counted once instead of once per line. Secrets are looked for before PII redaction, which
    could break a token's shape (its digits read as a phone number) and hide the rest of it.
    """
    findings = find_secrets(text)
    if findings:
        return text, 0, findings[0].kind
    written = redact.redact(text) if redact is not None else text
    tokens = len(get_encoding(encoding_name).encode(written, disallowed_special=()))
    return written, tokens, None


def left_out_summary(by_rule: dict[str, int]) -> str:
    """ "2 examples left out of the export (too_many_tokens: 2)", or '' when none were."""
    total = sum(by_rule.values())
    if not total:
        return ""
    reasons = ", ".join(f"{rule}: {n}" for rule, n in sorted(by_rule.items()))
    return f"{total} example{'s' if total != 1 else ''} left out of the export ({reasons})"


class _LeftOut(Exception):
    """An example that this export leaves out, with the rule it breaks."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule


class _SplitWriter:
    """Writes one JSONL file, hashing as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] = path.open("wb", buffering=_WRITE_BUFFER)
        self._sha = hashlib.sha256()
        self.count = 0

    def write(self, line: dict[str, Any]) -> None:
        text = _LINE_ENCODER.encode(line)
        # isascii() is O(1); three substring searches are far quicker than the regex's scan.
        if not text.isascii() and ("\x85" in text or "\u2028" in text or "\u2029" in text):
            # Characters that some JSONL readers (Python's splitlines, JavaScript) take for
            # line ends are escaped; they can only occur inside strings here.
            text = _LINE_BREAKERS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        data = text.encode() + b"\n"
        self._handle.write(data)
        self._sha.update(data)
        self.count += 1

    def close(self) -> str:
        self._handle.close()
        return self._sha.hexdigest()


class _Export:
    """One export run; state that lives exactly as long as the run."""

    def __init__(self, session: Session, options: ExportOptions, spec: ModelSpec) -> None:
        self.session = session
        self.options = options
        self.spec = spec
        self.build = BUILDERS[options.method]
        self.check = CHECKERS[options.method]
        self.count = counter(spec.encoding)
        #: The first examples left out, with why; `left_out` counts them all by rule.
        self.left_out_examples: list[dict[str, Any]] = []
        self.left_out: dict[str, int] = {}
        self.stats = {Split.TRAIN: TokenStats(), Split.EVAL: TokenStats()}
        self.fingerprint = hashlib.sha256()
        self.manifest_entries = 0

    def leave_out(self, example_id: int, error: _LeftOut) -> None:
        self.left_out[error.rule] = self.left_out.get(error.rule, 0) + 1
        if len(self.left_out_examples) < _MAX_REPORTED_PROBLEMS:
            self.left_out_examples.append({"id": example_id, "reason": str(error)})

    def rows(self, split: Split) -> Iterator[Any]:
        # The conditions go straight into this query: joining a subquery of ids made SQLite
        # materialise it and scan it once per row (quadratic).
        query = (
            select(
                Example.id,
                Example.messages,
                Example.target,
                Example.rejected,
                Example.line_fields,
                Example.content_hash,
            )
            .where(*exportable_conditions(split, self.options.method))
            .order_by(Example.id)
        )
        # Core execution (not the ORM's): plain rows, fetched a batch at a time.
        # (yield_per on the statement: on the connection it would stay set for the inserts too.)
        yield from self.session.connection().execute(query.execution_options(yield_per=_BATCH))

    def line_for(self, row: Any) -> tuple[dict[str, Any], int]:
        """The validated line for one example and its token count, or _LeftOut."""
        try:
            parts = TrainingLine.from_stored(
                row.messages, row.target, row.rejected, row.line_fields
            )
            line = self.build(parts)
        except (AttributeError, TypeError, ValueError):  # a row written past every door
            raise _LeftOut(
                "data_type", "the stored example is not prompt messages and a reply"
            ) from None
        problems = self.check(line)
        if problems:
            raise _LeftOut(problems[0].rule, f"{problems[0].where}: {problems[0].detail}")
        tokens = REPLY_PRIMING_TOKENS
        policy = self.options.personal_data if self.options.redact_pii else None
        for message, trained in line_messages(line):
            # A trained reply is never rewritten (a model would learn to say "[EMAIL]"): one
            # with personal data was kept by a person's decision at the door.
            tokens += self._written(message, redact=None if trained else policy)
        tools = line_tools(line)
        if tools:
            self._refuse_secrets(json.dumps(tools, ensure_ascii=False), "tool definitions")
            tokens += tools_tokens(tools, self.count, self.spec.encoding)
        if "preferred_output" in line and identical_outputs(
            line["preferred_output"][0], line["non_preferred_output"][0]
        ):
            raise _LeftOut(
                "identical_outputs",
                "preferred and non-preferred replies are equal as written (nothing to prefer)",
            )
        if tokens > self.spec.max_example_tokens:
            raise _LeftOut(
                "too_many_tokens",
                f"{tokens} tokens, over the limit of {self.spec.max_example_tokens} for "
                f"{self.options.model}",
            )
        return line, tokens

    def _written(self, message: dict[str, Any], *, redact: PersonalDataPolicy | None) -> int:
        """Check one message of a line for secrets and write its texts as exported (personal
        data redacted by `redact`, when given, in each text `message_texts` lists); returns its
        tokens, framing included."""
        tokens = TOKENS_PER_MESSAGE
        content = message.get("content")
        if type(content) is str and (len(message) == 2 or message.keys() <= _PLAIN_KEYS):
            # The usual message ({role, content} and maybe weight): no loop over its keys.
            written, count, secret = _checked_content(self.spec.encoding, content, redact)
            if secret is not None:
                raise _LeftOut("contains_secret", f"{secret} in a {message['role']} message")
            message["content"] = written
            return tokens + count + self.count(message["role"])
        for key, value in message.items():
            if key == "content" and isinstance(value, str):
                written, count, secret = _checked_content(self.spec.encoding, value, redact)
                if secret is not None:
                    raise _LeftOut("contains_secret", f"{secret} in a {message['role']} message")
                message["content"] = written
                tokens += count
            elif key == "content" and isinstance(value, list):
                parts = []
                for part in value:
                    written, count, secret = _checked_content(
                        self.spec.encoding, part["text"], redact
                    )
                    if secret is not None:
                        raise _LeftOut(
                            "contains_secret", f"{secret} in a {message['role']} message"
                        )
                    parts.append({**part, "text": written})
                    tokens += count
                message["content"] = parts
            elif key == "role":
                tokens += self.count(value)
            else:
                if key != "weight" and value is not None:
                    text = (
                        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    )
                    self._refuse_secrets(text, f"{key} of a {message['role']} message")
                    if redact is not None and key in TEXT_KEYS:
                        # refusal, and the arguments of calls: read by the model like content
                        value = message[key] = rewrite_texts({key: value}, redact.redact)[key]
                tokens += value_tokens(key, value, self.count)
        return tokens

    @staticmethod
    def _refuse_secrets(text: str, where: str) -> None:
        findings = find_secrets(text)
        if findings:
            raise _LeftOut("contains_secret", f"{findings[0].kind} in the {where}")

    def write_split(
        self, split: Split, writer: _SplitWriter, manifest_items: IO[str], version_id: int
    ) -> None:
        name = split.value  # read once: an enum member's value goes through a descriptor
        stats = self.stats[split]
        written: list[int] = []  # ids of written lines not yet recorded
        for row in self.rows(split):
            try:
                line, tokens = self.line_for(row)
            except _LeftOut as error:
                self.leave_out(row.id, error)
                continue
            writer.write(line)
            stats.add(tokens)
            self.fingerprint.update(f"{name}:{row.content_hash}\n".encode())
            # Formatted directly: every field is an integer or a hex digest (no escaping).
            separator = ",\n    " if self.manifest_entries else "\n    "
            manifest_items.write(
                f'{separator}{{"id":{row.id},"content_hash":"{row.content_hash}",'
                f'"split":"{name}","tokens":{tokens}}}'
            )
            self.manifest_entries += 1
            written.append(row.id)
            if len(written) == _RECORD_BATCH:
                self._record_items(version_id, split, written)
                written.clear()
        if written:
            self._record_items(version_id, split, written)

    def _record_items(self, version_id: int, split: Split, example_ids: list[int]) -> None:
        """Record written examples as items of the version."""
        recorded = self.session.connection().execute(
            _RECORD_ITEMS,
            {"version_id": version_id, "split": split.value, "ids": example_ids},
            # Without it, SQLAlchemy closes an INSERT's cursor before reading its row count.
            execution_options={"preserve_rowcount": True},
        )
        if recorded.rowcount != len(example_ids):  # an example deleted meanwhile
            raise RuntimeError(
                f"export wrote {len(example_ids)} examples but found {recorded.rowcount} to record"
            )


#: One statement per batch of written lines, its rows selected by id from the examples they
#: name: far cheaper than a bound row per item (executemany), and it inserts exactly the ids
#: given, whatever else has changed since they were read.
_RECORD_ITEMS = insert(DatasetItem).from_select(
    ["dataset_version_id", "example_id", "split"],
    select(
        bindparam("version_id", type_=Integer), Example.id, bindparam("split", type_=String)
    ).where(Example.id.in_(bindparam("ids", expanding=True))),
)


def _count_up_to(session: Session, split: Split, method: Method, limit: int) -> int:
    """How many examples an export would take for `split`, counting no further than `limit`
    (a full count would cost a pass over the whole table)."""
    chosen = exportable(split, method).limit(limit).subquery()
    return session.scalar(select(func.count()).select_from(chosen)) or 0


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet, deepest first."""
    missing: list[Path] = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    """Remove `folders` (deepest first) that are still empty: what a failed export created."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # no longer empty (someone wrote there meanwhile), or already gone
            return


#: The files an export writes into its folder.
EXPORT_FILES = ("train.jsonl", "eval.jsonl", "manifest.json")


def _unusable_folder(folder: Path) -> str | None:
    """Why `folder` cannot become an export's folder (it, or one of its parents, is a file),
    or None. Checked before anything is created, so the refusal names the path at fault."""
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            return None
        if candidate.exists() or candidate.is_symlink():
            what = "it is" if candidate == folder else f"{candidate} is"
            return f"{what} a file, not a folder"
    return None


def _make_folder(folder: Path) -> list[Path]:
    """Create `folder` (and its parents) for an export; returns those created, deepest first.
    Raises ValidationError naming the folder and what is wrong (a file in the way, no
    permission, a read-only or virtual file system) instead of the OSError."""
    problem = _unusable_folder(folder)
    if problem is None:
        created = _missing_folders(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return created
        except OSError as exc:
            _remove_if_empty(created)
            problem = f"cannot create the folder ({exc.strerror or exc})"
    raise ValidationError(f"cannot export to {folder}: {problem}")


def _earlier_export(folder: Path) -> list[str]:
    """The files of an earlier export that `folder` holds (by name, in EXPORT_FILES order)."""
    return [name for name in EXPORT_FILES if (folder / name).exists()]


def export_dataset(db: Database, models: ModelTable, options: ExportOptions) -> ExportResult:
    """Write and record one dataset version.

    Raises ValidationError, before any folder is made, when fewer than OpenAI's minimum of
    training examples are approved, when `out_dir` cannot be a folder (a file in the way, no
    permission) and when it holds an earlier export's files and `options.replace` is off. A
    failed export leaves nothing behind: no record, no file, and none of the folders it
    created for `out_dir`."""
    spec = models.spec(options.model)  # an unknown model fails before any work
    with db.read_session() as session:
        available = _count_up_to(session, Split.TRAIN, options.method, MIN_TRAINING_EXAMPLES)
    if available < MIN_TRAINING_EXAMPLES:
        kind = "corrected (preference) " if options.method is Method.DPO else ""
        raise ValidationError(
            f"not enough training examples: {available} approved {kind}examples on the "
            f"training side, a fine-tuning run needs at least {MIN_TRAINING_EXAMPLES} "
            "(OpenAI's minimum, kept for every backend)"
        )
    folder = options.out_dir.absolute()
    earlier = _earlier_export(folder) if folder.is_dir() else []
    if earlier and not options.replace:
        raise ValidationError(
            f"cannot export to {options.out_dir}: it holds an earlier export "
            f"({', '.join(earlier)}), the files of another dataset version; choose a new "
            "folder, or replace them (tuneloop export --force)"
        )
    created = _make_folder(folder)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=folder))
    except OSError as exc:
        _remove_if_empty(created)
        raise ValidationError(
            f"cannot export to {options.out_dir}: cannot write in it ({exc.strerror or exc})"
        ) from None
    published = False
    try:
        with db.session() as session:
            version = DatasetVersion(
                method=options.method.value,
                model=options.model,
                epochs=options.epochs,
                path=str(options.out_dir.resolve()),
                train_count=0,
                eval_count=0,
                train_tokens=0,
                estimated_training_tokens=0,
                estimated_cost_usd=0.0,
                train_sha256="",
                eval_sha256="",
                manifest_sha256="",
                fingerprint="",
                summary={},
            )
            session.add(version)
            session.flush()
            run = _Export(session, options, spec)
            files: dict[str, str] = {}
            with (staging / "items.part").open("w+", encoding="utf-8") as items:
                for split, name in ((Split.TRAIN, "train.jsonl"), (Split.EVAL, "eval.jsonl")):
                    writer = _SplitWriter(staging / name)
                    try:
                        run.write_split(split, writer, items, version.id)
                    finally:
                        files[name] = writer.close()
                train, evaluation = run.stats[Split.TRAIN], run.stats[Split.EVAL]
                if train.count < MIN_TRAINING_EXAMPLES:
                    left = sum(run.left_out.values())
                    raise ValidationError(
                        f"not enough training examples: {train.count}, OpenAI needs "
                        f"at least {MIN_TRAINING_EXAMPLES}"
                        + (f" ({left} left out, the first listed)" if left else ""),
                        [f"example {e['id']}: {e['reason']}" for e in run.left_out_examples],
                    )
                trained_tokens = train.total * options.epochs
                cost = round(trained_tokens / 1_000_000 * spec.training_price_per_million, 4)
                fingerprint = run.fingerprint.hexdigest()
                summary = {
                    "format": MANIFEST_FORMAT,
                    "method": options.method.value,
                    "model": options.model,
                    "encoding": spec.encoding,
                    "max_example_tokens": spec.max_example_tokens,
                    "epochs": options.epochs,
                    "pii_redacted": options.redact_pii,
                    "counts": {"train": train.count, "eval": evaluation.count},
                    "tokens": {"train": train.as_dict(), "eval": evaluation.as_dict()},
                    "estimate": {
                        "training_tokens": trained_tokens,
                        "price_per_million_usd": spec.training_price_per_million,
                        "cost_usd": cost,
                    },
                    "sha256": files,
                    "fingerprint": fingerprint,
                    "left_out": {
                        "count": sum(run.left_out.values()),
                        "by_rule": dict(sorted(run.left_out.items())),
                        "first": run.left_out_examples,
                    },
                }
                manifest_sha = _write_manifest(staging / "manifest.json", summary, items)
            version.train_count, version.eval_count = train.count, evaluation.count
            version.train_tokens = train.total
            version.estimated_training_tokens = trained_tokens
            version.estimated_cost_usd = cost
            version.train_sha256 = files["train.jsonl"]
            version.eval_sha256 = files["eval.jsonl"]
            version.manifest_sha256 = manifest_sha
            version.fingerprint = fingerprint
            version.summary = summary
            session.flush()
            # Publish: data files first, the manifest last (its presence means complete).
            for name in EXPORT_FILES:
                os.replace(staging / name, folder / name)
            result = ExportResult(
                dataset_version_id=version.id,
                path=options.out_dir,
                method=options.method,
                model=options.model,
                train_count=train.count,
                eval_count=evaluation.count,
                train_tokens=train.total,
                estimated_training_tokens=trained_tokens,
                estimated_cost_usd=cost,
                files={**files, "manifest.json": manifest_sha},
                fingerprint=fingerprint,
                summary=summary,
                left_out=dict(sorted(run.left_out.items())),
            )
        published = True
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not published:
            _remove_if_empty(created)


def _write_manifest(path: Path, summary: dict[str, Any], items: IO[str]) -> str:
    """The summary as JSON, with the streamed example list copied in at the end."""
    head = json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True)
    sha = hashlib.sha256()
    with path.open("wb") as out:

        def emit(text: str) -> None:
            data = text.encode()
            out.write(data)
            sha.update(data)

        emit(head[:-2] + ',\n  "examples": [')
        items.seek(0)
        while chunk := items.read(1 << 16):
            emit(chunk)
        emit("\n  ]\n}\n")
    return sha.hexdigest()
