"""Benchmark: the store's work at a million exchanges against ten thousand, on SQLite and on
PostgreSQL, and the start-up of command-line commands.

Each store holds, per 100 exchanges, 5 thumbs-down (2 of them then corrected) and 1 thumbs-up:
6 review items, of which the corrected and the upvoted 3 are approved (half) and the other 3
wait. Then a training is recorded (a dataset version of every exportable example, and a closed
retraining cycle that used it) and 200 more exchanges arrive through the store's API.

Stores of up to --api-limit exchanges (10,000) are built through the store's own API (capture,
review); larger ones with bulk SQL (multi-row INSERTs of the rows the API would write). Both
ways are first run on a small store on each backend and the two stores compared, every column
of every row of the six tables, with the wall clock frozen for the API (time-machine).

Then it times each operation's store work (no Slack, no model): warm, the median of --repeat
runs; cold, the median of 3 runs each on a fresh engine after the store's files were dropped
from the operating system's page cache (posix_fadvise DONTNEED; on PostgreSQL also after its
shared buffers were filled with another table, read by index). The sizes take turns run by
run, so a change in the machine's load meets every size alike. Clicks land on replies among
the newest 10,000 exchanges (people click on what they just read); a click on a reply from
anywhere in the store is timed apart. It prints each operation's cost at every size, the
ratio of the largest size to the smallest, and the issue's targets:

- per message and per click: at most 1.5x the cost at the smallest size (warm);
- what a person waits for (the App Home after a decision, /tuneloop stats|status|queue,
  tuneloop review list|stats|status): under 200 ms at the largest size, cold included;
- --cli (--cli-only: nothing else): `tuneloop --help`, and commands that touch neither the
  model provider nor migrations, start in under 0.3 s (best of 7 wall times; the CPU time and
  its ratio to a bare interpreter's are printed beside it, and so is the import of the
  libraries a store command needs, the floor under those figures).

Stores stay in --workdir (SQLite files, and PostgreSQL schemas bench_scale_<size> noted in
stores.json) for a later run: run once with older code on PYTHONPATH and once with newer to
measure both on the same data; a store at an older revision is upgraded first, and the upgrade
is timed. --json writes the figures; --compare BEFORE.json AFTER.json prints them side by side.

    TIKTOKEN_CACHE_DIR=../shared/tiktoken python bench/bench_scale.py \\
        [--sizes 10000,1000000] [--backends sqlite,postgresql] [--pg-url URL] \\
        [--workdir DIR] [--repeat 15] [--json OUT] [--cli | --cli-only]

PostgreSQL: --pg-url, else BENCH_DATABASE_URL, else TEST_DATABASE_URL (skipped when none).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

for _folder in Path(__file__).resolve().parents:  # the checkout's ../shared/tiktoken
    if (_folder / "shared" / "tiktoken").is_dir():
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_folder / "shared" / "tiktoken"))
        break
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import openai  # noqa: E402
import time_machine  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.blocks.commands import stats_text, status_text  # noqa: E402
from bot.config import BotConfig  # noqa: E402
from bot.deps import Deps  # noqa: E402
from bot.home import publish_home, retraining_summary  # noqa: E402
from bot.listeners.commands.tuneloop import _read as slash_read  # noqa: E402
from curation.capture import Answer, ConversationRef  # noqa: E402
from curation.db import Database, current_revision, head_revision, make_engine, upgrade  # noqa: E402
from curation.export import ExportOptions, export_dataset  # noqa: E402
from curation.fingerprints import content_hash, prompt_hash, split_for  # noqa: E402
from curation.models import (  # noqa: E402
    Correction,
    Example,
    ExampleSource,
    Exchange,
    ExchangeStatus,
    Feedback,
    FeedbackKind,
    ReviewEvent,
    ReviewItem,
    ReviewKind,
    ReviewState,
)
from curation.stats import store_stats  # noqa: E402
from curation.store import Store  # noqa: E402
from scheduler.cycle.status import cycle_status  # noqa: E402
from scheduler.records import CycleOutcome, CycleStage, RetrainCycle  # noqa: E402
from tuneloop.settings import load_settings  # noqa: E402
from tuneloop.wiring import (  # noqa: E402
    build_cycle_runner,
    cycle_config,
    model_registry,
    retraining_control,
)

# --- the workload ------------------------------------------------------------------------------
FROZEN_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TEAM = "T0BENCH"
REVIEWER = "UREVIEW1"
MODEL = "gpt-4.1-mini-2025-04-14"
EVAL_FRACTION = 0.2
SYSTEM_PROMPT = (
    "You are the Fernhill help desk. Answer in two or three sentences, say which team owns "
    "the answer, and never guess a policy you do not know."
)
TAIL = 200  # exchanges that arrive through the API after the recorded training
CHECK_SIZE = 600
TABLES = (Exchange, Feedback, Correction, Example, ReviewItem, ReviewEvent)  # parents first
PER_CLICK_RATIO = 1.5
WAIT_MS = 200.0
CLI_S = 0.3


def channel(i: int) -> str:
    return f"C{i % 40:05d}"


def message_ts(i: int) -> str:
    return f"{1767600000 + i}.000100"


def reply_ts(i: int) -> str:
    return f"{1767600000 + i}.000200"


def thread_key(i: int) -> str:
    return f"{TEAM}:{channel(i)}:{message_ts(i)}"


def user(i: int) -> str:
    return f"U{i % 300:05d}"


def prompt(i: int) -> list[dict[str, Any]]:
    question = f"Question {i}: how do I request item {i % 997} for the team in room {i % 89}?"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]


def reply(i: int) -> str:
    return (
        f"Reply {i}: open the request portal, choose item {i % 997}, and your lead approves it "
        f"within {i % 5 + 1} working days. Facilities owns this."
    )


def correction(i: int) -> str:
    return f"Correction {i}: use the Workday form for item {i % 997}; the room {i % 89} lead signs."


def answer(i: int) -> Answer:
    return Answer(reply(i), MODEL, reply_ts(i), 40 + i % 30, 30 + i % 50, 300 + i % 700)


def ref(i: int) -> ConversationRef:
    return ConversationRef(channel(i), message_ts(i), message_ts(i), user(i), TEAM, f"Ev{i:09d}")


def build_with_api(store: Store, start: int, count: int) -> None:
    """Exchanges start..start+count-1 and their signals, one call at a time, as the bot and a
    reviewer would make them."""
    capture, review = store.capture, store.review
    for i in range(start, start + count):
        exchange_id, _ = capture.claim_exchange(ref(i), prompt(i))
        capture.complete_exchange(exchange_id, answer(i))
        r = i % 100
        if r < 5:
            _, item, _ = capture.add_feedback(exchange_id, user(i + 1), FeedbackKind.THUMBS_DOWN)
            if r < 2:
                _, item, _ = capture.add_correction(
                    exchange_id, user(i + 2), correction(i), idempotency_key=f"view-{i}"
                )
                review.approve(_item_id(item), REVIEWER)
        elif r == 5:
            _, item, _ = capture.add_feedback(exchange_id, user(i + 1), FeedbackKind.THUMBS_UP)
            review.approve(_item_id(item), REVIEWER)


def _item_id(item: Any) -> int:
    if item is None:
        raise RuntimeError("a signal opened no review item")
    return int(item.id)


@dataclass
class _Rows:
    """The rows the API writes for a run of exchanges, with the ids it would give them."""

    next_id: dict[str, int]
    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {t.__tablename__: [] for t in TABLES}
    )

    def add(self, table: type, **values: Any) -> int:
        name = table.__tablename__  # type: ignore[attr-defined]
        row_id = self.next_id[name]
        self.next_id[name] += 1
        self.rows[name].append({"id": row_id, **values})
        return row_id


def rows_for(i: int, out: _Rows) -> None:
    """Exactly what `build_with_api` writes for exchange i (the clock frozen at FROZEN_AT)."""
    t = FROZEN_AT
    messages = prompt(i)
    exchange_id = out.add(
        Exchange,
        event_id=f"Ev{i:09d}",
        team_id=TEAM,
        channel_id=channel(i),
        thread_ts=message_ts(i),
        message_ts=message_ts(i),
        reply_ts=reply_ts(i),
        user_id=user(i),
        thread_key=thread_key(i),
        prompt_messages=messages,
        reply=reply(i),
        model=MODEL,
        status=ExchangeStatus.ANSWERED,
        error=None,
        prompt_tokens=40 + i % 30,
        completion_tokens=30 + i % 50,
        latency_ms=300 + i % 700,
        created_at=t,
        answered_at=t,
    )
    r = i % 100
    if r > 5:
        return
    kind = FeedbackKind.THUMBS_DOWN if r < 5 else FeedbackKind.THUMBS_UP
    out.add(Feedback, exchange_id=exchange_id, user_id=user(i + 1), kind=kind, created_at=t)
    if r in (2, 3, 4):
        item_id = out.next_id["review_items"]
        _item(out, exchange_id, i, ReviewKind.FLAG, None, None)
        _event(out, item_id, user(i + 1), "opened_flag", None, "pending")
        return
    item_id = out.next_id["review_items"]
    example_id = out.next_id["examples"]
    if r < 2:
        correction_id = out.add(
            Correction,
            exchange_id=exchange_id,
            author_id=user(i + 2),
            text=correction(i),
            idempotency_key=f"view-{i}",
            created_at=t,
        )
        _item(out, exchange_id, i, ReviewKind.CORRECTION, correction_id, example_id)
        _event(out, item_id, user(i + 1), "opened_flag", None, "pending")
        _event(out, item_id, user(i + 2), "signal_correction", "pending", "pending")
        target, rejected, source = correction(i), reply(i), ExampleSource.CORRECTION
    else:
        _item(out, exchange_id, i, ReviewKind.UPVOTE, None, example_id)
        _event(out, item_id, user(i + 1), "opened_upvote", None, "pending")
        target, rejected, source = reply(i), None, ExampleSource.UPVOTE
    _event(out, item_id, REVIEWER, "approved", "pending", "approved")
    out.add(
        Example,
        messages=messages,
        target=target,
        rejected=rejected,
        source=source,
        split=split_for(thread_key(i), EVAL_FRACTION),
        golden=False,
        thread_key=thread_key(i),
        content_hash=content_hash(messages, target),
        prompt_hash=prompt_hash(messages),
        exchange_id=exchange_id,
        approved_by=REVIEWER,
        created_at=t,
        retired_at=None,
        retired_reason=None,
    )


def _item(
    out: _Rows,
    exchange_id: int,
    i: int,
    kind: ReviewKind,
    correction_id: int | None,
    example_id: int | None,
) -> None:
    decided = example_id is not None
    out.add(
        ReviewItem,
        exchange_id=exchange_id,
        kind=kind,
        state=ReviewState.APPROVED if decided else ReviewState.PENDING,
        correction_id=correction_id,
        opened_by=user(i + 1),
        opened_at=FROZEN_AT,
        decided_by=REVIEWER if decided else None,
        decided_at=FROZEN_AT if decided else None,
        decision_reason=None,
        example_id=example_id,
    )


def _event(
    out: _Rows, item_id: int, actor: str, action: str, before: str | None, after: str
) -> None:
    out.add(
        ReviewEvent,
        item_id=item_id,
        actor=actor,
        action=action,
        from_state=before,
        to_state=after,
        reason=None,
        at=FROZEN_AT,
    )


#: Rows per INSERT statement batch (the SQLAlchemy Core executemany of one table).
_CHUNK = 20_000


def build_with_sql(db: Database, start: int, count: int, say: Callable[[str], None]) -> None:
    """The rows of `build_with_api(store, start, count)`, written with bulk INSERTs."""
    with db.engine.connect() as conn:
        next_id = {
            t.__tablename__: (conn.scalar(select(func.max(t.id))) or 0) + 1  # type: ignore[attr-defined]
            for t in TABLES
        }
        conn.rollback()
    began = time.perf_counter()
    for chunk_start in range(start, start + count, _CHUNK):
        out = _Rows(next_id)
        for i in range(chunk_start, min(chunk_start + _CHUNK, start + count)):
            rows_for(i, out)
        with db.engine.begin() as conn:
            for table in TABLES:  # parents first: foreign keys hold at every statement
                rows = out.rows[table.__tablename__]
                if rows:
                    conn.execute(insert(table), rows)
        done = chunk_start + _CHUNK - start
        if done % 200_000 == 0:
            say(f"    {done:,} exchanges written ({time.perf_counter() - began:.0f} s)")
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:  # explicit ids leave the sequences behind: move them
            for table in TABLES:
                name = table.__tablename__  # type: ignore[attr-defined]
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
                    )
                )


def record_training(db: Database, settings: Any, folder: Path) -> None:
    """A training: an export (a dataset version of every exportable example, written to
    `folder`) and a closed retraining cycle that used it."""
    exported = export_dataset(db, settings.models, ExportOptions(out_dir=folder, model=MODEL))
    with db.session() as session:
        session.add(
            RetrainCycle(
                trigger="bench",
                requested_by="bench",
                strategy="full",
                method="sft",
                new_examples=0,
                is_open=False,
                stage=CycleStage.DONE,
                outcome=CycleOutcome.PROMOTED,
                dataset_version_id=exported.dataset_version_id,
                closed_at=FROZEN_AT,
            )
        )


def table_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as conn:
        return {
            t.__tablename__: [  # type: ignore[attr-defined]
                tuple(row)
                for row in conn.execute(select(t.__table__).order_by(t.id))  # type: ignore[attr-defined]
            ]
            for t in TABLES
        }


# --- backends ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Backend:
    name: str
    base_url: str | None  # PostgreSQL's server URL; None for SQLite
    workdir: Path

    def url(self, label: str) -> str:
        if self.base_url is None:
            return f"sqlite:///{self.workdir / f'{label}.db'}"
        url = make_url(self.base_url).update_query_dict(
            {"options": f"-csearch_path={self.schema(label)}"}
        )
        return url.render_as_string(hide_password=False)

    @staticmethod
    def schema(label: str) -> str:
        return f"bench_scale_{label}"

    def create(self, label: str) -> str:
        """An empty place for store `label` (dropping any previous one); its URL."""
        self.drop(label)
        if self.base_url is not None:
            with _admin(self.base_url) as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema(label)}"'))
        return self.url(label)

    def drop(self, label: str) -> None:
        if self.base_url is None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.workdir / label}.db{suffix}").unlink(missing_ok=True)
        else:
            with _admin(self.base_url) as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema(label)}" CASCADE'))

    def evict(self, label: str) -> str:
        """Drop store `label` from the page cache (and PostgreSQL's buffers); what was done."""
        if self.base_url is None:
            for suffix in ("", "-wal", "-shm"):
                _drop_from_page_cache(Path(f"{self.workdir / label}.db{suffix}"))
            return "page cache"
        with _admin(self.base_url) as conn:
            conn.execute(text("CHECKPOINT"))  # written out first: dirty pages cannot be dropped
            data_dir = Path(conn.scalar(text("SHOW data_directory")))
            files = conn.scalars(_RELATION_FILES, {"schema": self.schema(label)}).all()
        done = _fill_shared_buffers(self.base_url)
        readable = 0
        for relative in filter(None, files):
            base = data_dir / relative
            for path in [
                base,
                *base.parent.glob(base.name + ".*"),
                *base.parent.glob(base.name + "_*"),
            ]:
                readable += _drop_from_page_cache(path)
        return (
            f"{done}; page cache of {readable} files" if readable else f"{done} (files unreadable)"
        )


#: The files of a schema's tables, indexes and sequences, and of their TOAST tables and indexes.
_RELATION_FILES = text(
    """
    SELECT pg_relation_filepath(c.oid) FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema
    UNION ALL
    SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = :schema AND c.reltoastrelid <> 0
    UNION ALL
    SELECT pg_relation_filepath(i.indexrelid) FROM pg_index i
      JOIN pg_class c ON c.reltoastrelid = i.indrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema
    """
)


@contextmanager
def _admin(base_url: str) -> Iterator[Any]:
    engine = make_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _drop_from_page_cache(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return 0
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return 1


_FILLER = "bench_scale_filler"


def _fill_shared_buffers(base_url: str) -> str:
    """Read a filler table of twice PostgreSQL's shared buffers by index, so that its pages
    push the store's out (a sequential scan would go through a small ring of buffers and
    evict nothing)."""
    with _admin(base_url) as conn:
        buffers = int(
            conn.scalar(
                text("SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'")
            )
        )
        rows = 2 * buffers // 1000  # about 1000 bytes a row
        exists = conn.scalar(text(f"SELECT to_regclass('public.{_FILLER}') IS NOT NULL"))
        if not exists or conn.scalar(text(f"SELECT max(id) FROM public.{_FILLER}")) < rows:
            conn.execute(text(f"DROP TABLE IF EXISTS public.{_FILLER}"))
            conn.execute(
                text(
                    f"CREATE TABLE public.{_FILLER} AS SELECT g AS id, repeat('x', 980) AS pad "
                    f"FROM generate_series(1, {rows}) g"
                )
            )
            conn.execute(text(f"CREATE INDEX ON public.{_FILLER} (id)"))
            conn.execute(text(f"VACUUM ANALYZE public.{_FILLER}"))
        conn.execute(text("SET enable_seqscan = off"))
        conn.execute(text("SET enable_bitmapscan = off"))
        conn.execute(text(f"SELECT sum(length(pad)) FROM public.{_FILLER} WHERE id > 0"))
    return f"shared buffers refilled ({2 * buffers // 2**20} MiB read)"


# --- a store and what reads it -----------------------------------------------------------------
class _NoSlack:
    """Stands in for the Slack WebClient: the App Home's view is built, not sent."""

    def views_publish(self, **_: Any) -> None:
        return None


@dataclass
class World:
    store: Store
    control: Any
    runner: Any
    deps: Deps
    settings: Any

    def dispose(self) -> None:
        self.store.db.dispose()


def open_world(url: str, workdir: Path, *, check_revision: bool = False) -> World:
    """The store and the retraining control over `url`, as `tuneloop serve` composes them
    (with a model client that is never called)."""
    settings = load_settings(
        data_dir=workdir, database_url=url, reviewers=[REVIEWER], eval_fraction=EVAL_FRACTION
    )
    db = Database.open(url) if check_revision else Database(make_engine(url))
    store = Store.build(db, reviewers=[REVIEWER], eval_fraction=EVAL_FRACTION)
    client = openai.OpenAI(api_key="bench", base_url="http://127.0.0.1:9/v1", max_retries=0)
    runner = build_cycle_runner(settings, db, client=client)
    control = retraining_control(settings, db, runner=runner)
    deps = Deps(store, None, control, BotConfig())  # type: ignore[arg-type]
    return World(store, control, runner, deps, settings)


# --- operations --------------------------------------------------------------------------------
PER_MESSAGE, PER_CLICK, WAITS, OTHER = "per message", "per click", "a person waits", "other"


@dataclass
class Op:
    name: str
    kind: str
    run: Callable[[World], Any]
    cold: bool = True
    #: Run before each timed run, untimed (what the operation needs to find).
    prepare: Callable[[World], Any] | None = None


#: People click on replies they have just read: clicks land among the newest this many
#: exchanges (the whole of the smallest store), so every size clicks on a working set of the
#: same size and the figures compare the queries, not how much of the file the page cache
#: holds. A click on a reply from anywhere in the store is timed apart ("old reply").
RECENT = 10_000


class Picks:
    """Exchanges not touched before (no signal in the workload, none from an earlier run)."""

    def __init__(self, size: int, used: set[int], seed: int) -> None:
        self._size, self._used, self._rng = size, used, random.Random(seed)

    def next(self, *, anywhere: bool = False) -> int:
        """A recent exchange, or with `anywhere` one from the whole store."""
        low = 0 if anywhere else max(0, self._size + TAIL - RECENT)
        while True:
            i = self._rng.randrange(low, self._size + TAIL)
            if i % 100 > 5 and i not in self._used:
                self._used.add(i)
                return i


def operations(picks: Picks, fresh: Iterator[int]) -> list[Op]:
    corrected: list[int] = []  # review items opened by the correction clicks, to approve

    def new_reply(w: World) -> None:
        i = next(fresh)
        exchange_id, _ = w.store.capture.claim_exchange(ref(i), prompt(i))
        w.store.capture.complete_exchange(exchange_id, answer(i))

    def click(kind: FeedbackKind, *, anywhere: bool = False) -> Callable[[World], Any]:
        def on(w: World) -> None:
            w.store.capture.add_feedback(picks.next(anywhere=anywhere) + 1, "UCLICK", kind)

        return on

    def correct(w: World) -> None:
        i = picks.next()
        _, item, _ = w.store.capture.add_correction(i + 1, "UCLICK", f"Better reply {i}.")
        corrected.append(_item_id(item))

    def lookup(w: World) -> None:
        i = picks.next()
        if w.store.capture.exchange_by_reply(channel(i), reply_ts(i)) is None:
            raise RuntimeError(f"exchange {i} not found by its reply")

    def approve(w: World) -> None:
        w.store.review.approve(corrected.pop(), REVIEWER)

    def review_list(w: World) -> None:
        w.store.review.list(ReviewState.PENDING, 50)

    return [
        Op("reply: claim + complete", PER_MESSAGE, new_reply, cold=False),
        Op("thumbs-down", PER_CLICK, click(FeedbackKind.THUMBS_DOWN)),
        Op("thumbs-up", PER_CLICK, click(FeedbackKind.THUMBS_UP)),
        Op("correction", PER_CLICK, correct),
        Op("reaction: exchange by reply", PER_CLICK, lookup),
        Op("approve (Home button)", PER_CLICK, approve, prepare=correct),
        Op("thumbs-down on an old reply", OTHER, click(FeedbackKind.THUMBS_DOWN, anywhere=True)),
        Op("App Home (reviewer)", WAITS, lambda w: publish_home(_NoSlack(), w.deps, REVIEWER)),  # type: ignore[arg-type]
        Op("/tuneloop stats", WAITS, lambda w: stats_text(store_stats(w.store.db))),
        Op("/tuneloop status", WAITS, lambda w: status_text(retraining_summary(w.control))),
        Op("/tuneloop queue", WAITS, lambda w: slash_read(w.deps, "queue")),
        Op("tuneloop review list", WAITS, review_list),
        Op("tuneloop stats", WAITS, lambda w: store_stats(w.store.db)),
        Op(
            "tuneloop status",
            WAITS,
            lambda w: cycle_status(
                w.store.db, model_registry(w.store.db), cycle_config(w.settings)
            ),
        ),
        Op("trigger: new approved examples", OTHER, lambda w: w.runner.new_examples()),
        Op("db upgrade (nothing to do)", OTHER, lambda w: upgrade(w.store.db.engine), cold=False),
    ]


def _seconds(fn: Callable[[World], Any], world: World) -> float:
    began = time.perf_counter()
    fn(world)
    return time.perf_counter() - began


def measure(
    backend: Backend, stores: dict[str, list[Op]], repeat: int, cold: bool
) -> dict[str, dict[str, dict[str, float]]]:
    """{store label: {operation: {"warm": s, "cold": s}}}. The stores take turns run by run,
    so a change in the machine's load meets every size alike."""
    worlds = {label: open_world(backend.url(label), backend.workdir) for label in stores}
    results: dict[str, dict[str, dict[str, float]]] = {label: {} for label in stores}

    def once(op: Op, w: World) -> float:
        if op.prepare is not None:
            op.prepare(w)
        return _seconds(op.run, w)

    names = [op.name for op in next(iter(stores.values()))]
    for index, name in enumerate(names):
        runs: dict[str, list[float]] = {label: [] for label in stores}
        for label, ops in stores.items():
            once(ops[index], worlds[label])  # warm-up (and the first, lazily made, statements)
        for _ in range(repeat):
            for label, ops in stores.items():
                runs[label].append(once(ops[index], worlds[label]))
        for label in stores:
            results[label][name] = {"warm": statistics.median(runs[label])}
    for world in worlds.values():
        world.dispose()
    if not cold:
        return results
    for index, name in enumerate(names):
        runs = {label: [] for label in stores}
        for _ in range(3):
            for label, ops in stores.items():
                op = ops[index]
                if not op.cold:
                    continue
                world = open_world(backend.url(label), backend.workdir)
                if op.prepare is not None:
                    op.prepare(world)
                world.dispose()
                backend.evict(label)
                world = open_world(backend.url(label), backend.workdir)
                runs[label].append(_seconds(op.run, world))
                world.dispose()
        for label in stores:
            if runs[label]:
                results[label][name]["cold"] = statistics.median(runs[label])
    return results


def time_open(url: str) -> float:
    """Database.open on an up-to-date store (the revision check every command makes)."""
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        db = Database.open(url)
        runs.append(time.perf_counter() - began)
        db.dispose()
    return statistics.median(runs)


# --- building ----------------------------------------------------------------------------------
def check_bulk_equals_api(backend: Backend, say: Callable[[str], None]) -> None:
    """The bulk rows equal the API's, every column, on a store of CHECK_SIZE exchanges."""
    stores = {}
    for way in ("api", "sql"):
        url = backend.create(f"check_{way}")
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        db = Database.open(url)
        if way == "api":
            with time_machine.travel(FROZEN_AT, tick=False):
                build_with_api(
                    Store.build(db, reviewers=[REVIEWER], eval_fraction=EVAL_FRACTION),
                    0,
                    CHECK_SIZE,
                )
        else:
            build_with_sql(db, 0, CHECK_SIZE, say)
        stores[way] = table_rows(db)
        db.dispose()
        backend.drop(f"check_{way}")
    for name, rows in stores["api"].items():
        bulk = stores["sql"][name]
        if len(rows) != len(bulk):
            raise SystemExit(f"{backend.name}: {name}: {len(rows)} rows by API, {len(bulk)} bulk")
        for by_api, by_sql in zip(rows, bulk, strict=True):
            if by_api != by_sql:
                raise SystemExit(f"{backend.name}: {name} differs:\n  API {by_api}\n  SQL {by_sql}")
    counts = ", ".join(f"{len(r)} {n}" for n, r in stores["api"].items())
    say(f"  {backend.name}: bulk SQL writes the API's rows exactly ({counts})")


def build(
    backend: Backend, label: str, size: int, api_limit: int, say: Callable[[str], None]
) -> dict[str, Any]:
    url = backend.create(label)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    db = Database.open(url)
    began = time.perf_counter()
    if size <= api_limit:
        with time_machine.travel(FROZEN_AT, tick=False):
            build_with_api(
                Store.build(db, reviewers=[REVIEWER], eval_fraction=EVAL_FRACTION), 0, size
            )
        how = "store API"
    else:
        build_with_sql(db, 0, size, say)
        how = "bulk SQL"
    settings = load_settings(data_dir=backend.workdir, database_url=url)
    record_training(db, settings, backend.workdir / f"export-{backend.name}-{label}")
    with time_machine.travel(FROZEN_AT, tick=False):
        build_with_api(
            Store.build(db, reviewers=[REVIEWER], eval_fraction=EVAL_FRACTION), size, TAIL
        )
    seconds = time.perf_counter() - began
    if backend.base_url is not None:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does to a settled table
    db.dispose()
    say(f"  {backend.name} {label}: built in {seconds:.0f} s ({how}, then {TAIL} via the API)")
    return {
        "size": size,
        "how": how,
        "build_s": round(seconds, 1),
        "next_fresh": size + TAIL,
        "used": [],
    }


def bring_up_to_date(backend: Backend, label: str, say: Callable[[str], None]) -> float | None:
    """Upgrade a kept store made by older code; the seconds it took, or None if current."""
    url = backend.url(label)
    engine = make_engine(url)
    try:
        if current_revision(engine) == head_revision():
            return None
        began = time.perf_counter()
        upgrade(engine)
        seconds = time.perf_counter() - began
        if backend.base_url is not None:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        say(f"  {backend.name} {label}: upgraded to {head_revision()} in {seconds:.1f} s")
        return seconds
    finally:
        engine.dispose()


# --- the command line's start-up ---------------------------------------------------------------
#: (command, held to the 0.3 s target): `db current` reads the migrations (Alembic), which the
#: target leaves out. The store holds one pending review item (1) and one example (1).
CLI_COMMANDS: tuple[tuple[str, bool], ...] = (
    ("--help", True),
    ("review --help", True),
    ("review list", True),
    ("review show 1", True),
    ("examples show 1", True),
    ("stats", True),
    ("status", True),
    ("models list", True),
    ("db current", False),
)
#: The bare interpreter's start, which every ratio is taken against.
BARE_PYTHON = "python -c pass"
#: The libraries every store command needs, and nothing of tuneloop's: the floor under the
#: store commands' figures on this machine. The process ends as `tuneloop.cli.main` ends one
#: (garbage collected, the rest frozen), so the floor's exit costs what a command's does.
LIBRARIES = "python -c 'import <libraries>'"
LIBRARIES_CODE = (
    "import sqlalchemy.orm, sqlalchemy.dialects.sqlite, typer, typer._adapters, rich.table, "
    "pydantic_settings; import gc; gc.collect(); gc.freeze()"
)


def _seed_cli_store(url: str) -> None:
    """One pending review item (id 1: a thumbs-down) and one example (id 1: an approved
    thumbs-up), so `review list` prints a row and `review show 1`, `examples show 1` find one."""
    db = Database.open(url)
    try:
        store = Store.build(db, reviewers=[REVIEWER], eval_fraction=EVAL_FRACTION)
        for i, kind in ((0, FeedbackKind.THUMBS_DOWN), (1, FeedbackKind.THUMBS_UP)):
            exchange_id, _ = store.capture.claim_exchange(ref(i), prompt(i))
            store.capture.complete_exchange(exchange_id, answer(i))
            _, item, _ = store.capture.add_feedback(exchange_id, user(i + 1), kind)
            if kind is FeedbackKind.THUMBS_UP:
                store.review.approve(_item_id(item), REVIEWER)
    finally:
        db.dispose()


def cli_start(workdir: Path) -> dict[str, dict[str, Any]]:
    """Best of 7 wall and CPU times of `tuneloop ...` on a small, up-to-date SQLite store, of a
    bare `python -c pass` (BARE_PYTHON) to take ratios against (the machine's speed and load
    move both alike), and of importing the libraries a store command needs (LIBRARIES).

    Python loads modules from bytecode, as an installed tuneloop does (pip compiles it; an
    editable install writes it on first use): PYTHONDONTWRITEBYTECODE is dropped and the
    bytecode goes to a folder of the workdir (PYTHONPYCACHEPREFIX), not into the checkout.
    Raises RuntimeError when a command fails, rather than timing its error."""
    import resource

    folder = Path(tempfile.mkdtemp(dir=workdir, prefix="cli-"))
    url = f"sqlite:///{folder / 'tuneloop.db'}"
    env = {
        **os.environ,
        "TUNELOOP_DATA_DIR": str(folder),
        "TUNELOOP_REVIEWERS": REVIEWER,
        "DATABASE_URL": url,
        "PYTHONPYCACHEPREFIX": str(folder / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    _seed_cli_store(url)
    entry = [
        sys.executable,
        "-c",
        "import sys; sys.argv[0] = 'tuneloop'; from tuneloop.cli import main; main()",
    ]
    runs: dict[str, tuple[list[str], bool | None]] = {
        BARE_PYTHON: ([sys.executable, "-c", "pass"], None),
        LIBRARIES: ([sys.executable, "-c", LIBRARIES_CODE], None),
        **{c: ([*entry, *c.split()], target) for c, target in CLI_COMMANDS},
    }
    figures: dict[str, dict[str, Any]] = {}
    for command, (argv, target) in runs.items():
        # From the store's folder, as people run tuneloop from their team's folder (and so that
        # `python -c` does not put the current folder's copy of tuneloop before PYTHONPATH's).
        first = subprocess.run(
            argv, env=env, cwd=folder, capture_output=True, text=True, check=False
        )
        if first.returncode != 0:  # also the run that writes the bytecode
            raise RuntimeError(f"`{command}` failed ({first.returncode}): {first.stderr[-2000:]}")
        walls, cpus = [], []
        for _ in range(7):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            subprocess.run(argv, env=env, cwd=folder, capture_output=True, check=False)
            walls.append(time.perf_counter() - began)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        figures[command] = {"wall": min(walls), "cpu": min(cpus), "target": target}
    return figures


def _cli_verdict(figures: dict[str, Any]) -> str:
    """The 0.3 s target on the best wall time, for the commands it holds for."""
    if not figures.get("target"):
        return ""
    return f"< {CLI_S} s: {'ok' if figures['wall'] < CLI_S else 'MISSED'}"


def _cli_name(command: str) -> str:
    return command if command in (BARE_PYTHON, LIBRARIES) else f"tuneloop {command}"


# --- reporting ---------------------------------------------------------------------------------
def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:8.2f}"


def report(results: dict[str, Any], say: Callable[[str], None]) -> None:
    for backend, by_label in results.get("stores", {}).items():
        labels = sorted(by_label, key=lambda lb: by_label[lb]["size"])
        if not labels:
            continue
        large = labels[-1]
        say(
            f"\n{backend}: store work per operation, ms (warm = median of runs; cold = fresh "
            f"engine, caches dropped)"
        )
        head = "".join(f"{lb + ' warm':>14}" for lb in labels)
        say(f"{'operation':32}{'kind':16}{head}{large + ' cold':>14}{'ratio':>8}  target")
        names = list(by_label[large]["ops"])
        for name in names:
            figures = [by_label[lb]["ops"].get(name, {}) for lb in labels]
            kind = by_label[large]["kinds"][name]
            warm_small, warm_large = figures[0].get("warm"), figures[-1].get("warm")
            cold_large = figures[-1].get("cold")
            ratio = warm_large / warm_small if warm_small and warm_large else None
            if kind in (PER_MESSAGE, PER_CLICK):
                ok = ratio is not None and ratio <= PER_CLICK_RATIO
                target = f"<= {PER_CLICK_RATIO}x: {'ok' if ok else 'MISSED'}"
            elif kind == WAITS:
                worst = max(x for x in (warm_large, cold_large) if x is not None)
                ok = worst * 1000 < WAIT_MS
                target = f"< {WAIT_MS:.0f} ms: {'ok' if ok else 'MISSED'}"
            else:
                target = ""
            cells = "".join(f"{_ms(f.get('warm')):>14}" for f in figures)
            say(
                f"{name:32}{kind:16}{cells}{_ms(cold_large):>14}"
                f"{(f'{ratio:.2f}x' if ratio else '-'):>8}  {target}"
            )
        for lb in labels:
            extra = by_label[lb]
            say(
                f"  {lb}: {extra['size']:,} exchanges ({extra['how']}, built in "
                f"{extra['build_s']} s); Database.open {extra['open_ms']:.1f} ms"
                + (f"; upgraded in {extra['upgrade_s']:.1f} s" if extra.get("upgrade_s") else "")
            )
    if "cli" in results:
        say(
            f"\ncommand start-up (best of 7; target < {CLI_S} s wall for commands that touch "
            "neither the model provider nor migrations)"
        )
        bare = results["cli"].get(BARE_PYTHON)
        for command, f in results["cli"].items():
            ratio = (
                f"{f['cpu'] / bare['cpu']:5.1f}x"
                if bare and bare["cpu"] and command != BARE_PYTHON
                else ""
            )
            say(
                f"  {_cli_name(command):32} wall {f['wall'] * 1000:6.0f} ms   "
                f"cpu {f['cpu'] * 1000:6.0f} ms {ratio:>6} bare cpu   {_cli_verdict(f)}"
            )


def compare(before_path: Path, after_path: Path, say: Callable[[str], None]) -> None:
    before, after = json.loads(before_path.read_text()), json.loads(after_path.read_text())
    for backend, by_label in after.get("stores", {}).items():
        for label, figures in sorted(by_label.items(), key=lambda kv: kv[1]["size"]):
            old = before.get("stores", {}).get(backend, {}).get(label)
            if old is None:
                continue
            say(f"\n{backend} {label}: before -> after, ms")
            for name, now in figures["ops"].items():
                was = old["ops"].get(name, {})
                cells = []
                for mode in ("warm", "cold"):
                    if mode in now or mode in was:
                        cells.append(
                            f"{mode} {_ms(was.get(mode)).strip()} -> {_ms(now.get(mode)).strip()}"
                        )
                say(f"  {name:32} " + "   ".join(cells))
    if "cli" in before and "cli" in after:
        say("\ncommand start-up, wall ms (cpu ms): before -> after")
        for command, now in after["cli"].items():
            was = before["cli"].get(command)
            if was:
                was_ms = f"{was['wall'] * 1000:6.0f} ({was['cpu'] * 1000:4.0f})"
                now_ms = f"{now['wall'] * 1000:6.0f} ({now['cpu'] * 1000:4.0f})"
                say(f"  {_cli_name(command):32} {was_ms} -> {now_ms}   {_cli_verdict(now)}")


# --- main --------------------------------------------------------------------------------------
def _sizes(text_value: str) -> list[int]:
    sizes = []
    for part in text_value.split(","):
        part = part.strip().lower()
        scale = {"k": 1_000, "m": 1_000_000}.get(part[-1:], 1)
        sizes.append(int(float(part.rstrip("km")) * scale))
    return sorted(sizes)


def _label(size: int) -> str:
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,1m", help="store sizes, e.g. 10k,100k,1m")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"),
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the stores here for later runs (default: a temporary folder)",
    )
    parser.add_argument("--api-limit", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-cold", action="store_true")
    parser.add_argument("--no-check", action="store_true", help="skip the bulk = API check")
    parser.add_argument("--cli", action="store_true", help="also time command start-up")
    parser.add_argument("--cli-only", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()

    def say(line: str) -> None:
        print(line, flush=True)

    if args.compare:
        compare(*args.compare, say)
        return
    keep = args.workdir is not None
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="bench-scale-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"stores": {}}
    if args.cli or args.cli_only:
        results["cli"] = cli_start(workdir)
    if not args.cli_only:
        kept_path = workdir / "stores.json"
        kept = json.loads(kept_path.read_text()) if keep and kept_path.exists() else {}
        for name in args.backends.split(","):
            if name == "postgresql" and not args.pg_url:
                say("postgresql: skipped (no --pg-url, BENCH_DATABASE_URL or TEST_DATABASE_URL)")
                continue
            backend = Backend(name, args.pg_url if name == "postgresql" else None, workdir)
            if not args.no_check:
                check_bulk_equals_api(backend, say)
            results["stores"][name] = {}
            stores: dict[str, list[Op]] = {}
            picked: dict[str, tuple[Picks, Iterator[int]]] = {}
            notes: dict[str, dict[str, Any]] = {}
            for size in _sizes(args.sizes):
                label = _label(size)
                key = f"{name}/{label}"
                upgraded = None
                if key in kept:
                    upgraded = bring_up_to_date(backend, label, say)
                else:
                    kept[key] = build(backend, label, size, args.api_limit, say)
                info = kept[key]
                picks = Picks(size, set(info["used"]), seed=len(info["used"]) + size)
                fresh = iter(range(info["next_fresh"], info["next_fresh"] + 10**6))
                picked[label] = (picks, fresh)
                stores[label] = operations(picks, fresh)
                notes[label] = {
                    "size": size,
                    "how": info["how"],
                    "build_s": info["build_s"],
                    "upgrade_s": upgraded,
                    "open_ms": time_open(backend.url(label)) * 1000,
                    "kinds": {op.name: op.kind for op in stores[label]},
                }
            figures = measure(backend, stores, args.repeat, not args.no_cold)
            for label, (picks, fresh) in picked.items():
                info = kept[f"{name}/{label}"]
                info["next_fresh"] = next(fresh)
                info["used"] = sorted(picks._used)
                results["stores"][name][label] = {**notes[label], "ops": figures[label]}
                if not keep:
                    backend.drop(label)
            if keep:
                kept_path.write_text(json.dumps(kept))
    report(results, say)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
