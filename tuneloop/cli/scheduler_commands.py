"""`tuneloop retrain`, `status`, `models`, `eval` and `scheduler`: the retraining loop by hand
and as a service."""

from __future__ import annotations

import getpass
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from tuneloop.cli.app import app
from tuneloop.cli.output import (
    configure_logging,
    console,
    errors,
    fail,
    json_option,
    print_json,
    reported_errors,
    warn,
)
from tuneloop.terminal import labelled, literal, model_column

if TYPE_CHECKING:
    from tuneloop.settings import Settings

JSON_OPTION = json_option()
#: Outcomes that mean the run did not get to a decision: the command exits non-zero.
FAILED_OUTCOMES = {
    "training_failed",
    "unavailable",
    "over_budget",
    "nothing_to_train",
    "export_failed",
}

models_app = typer.Typer(help="The served model: list, promote, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@contextmanager
def scheduler_errors() -> Iterator[None]:
    """The store's and the scheduler's refusals as a message and exit status 1."""
    from scheduler.errors import SchedulerError
    from tuneloop.errors import ProviderConfigError

    with reported_errors():
        try:
            yield
        except (SchedulerError, ProviderConfigError) as exc:
            fail(str(exc))


def _show_report(report: Any, decision: dict[str, Any] | None, as_json: bool) -> None:
    """Where the run ended; with a decision, the gate's verdict and reason after it (and in
    the JSON under `decision`, null when the run ended without one)."""
    from tuneloop.cli.progress import decision_lines

    if as_json:
        print_json({**report.as_dict(), "decision": decision})
    else:
        where = f"cycle {report.cycle_id}" if report.cycle_id else "retrain"
        state = report.outcome or (f"waiting ({report.stage})" if report.cycle_id else "idle")
        lines = decision_lines(decision)
        # A decided run's note repeats the gate's reason: the decision says it once.
        note = "" if lines is not None else f" {report.note}"
        console.print(literal(f"{where}: {state}.{note}"), soft_wrap=True)
        if lines is not None:
            console.print(lines, soft_wrap=True)
    if report.outcome in FAILED_OUTCOMES:
        raise typer.Exit(1)


# --- retrain ----------------------------------------------------------------------------------
@app.command("retrain", short_help="Resume or start a retraining run.")
def retrain(
    now: bool = typer.Option(
        False, "--now", help="Start a run even below TUNELOOP_MIN_NEW_EXAMPLES (never a second)."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="With --now: start a run even when no approved example is new since the last "
        "one (it trains the same data again, and a hosted provider charges for it).",
    ),
    wait: bool = typer.Option(False, "--wait", help="Return only when the run has decided."),
    poll_seconds: float = typer.Option(
        5.0, "--poll-seconds", min=0.0, help="With --wait: seconds between looks at the job."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Resume the open retraining run, or start one when enough examples arrived (--now: at
    once; not when nothing approved is new since the last run, unless --force). If
    `tuneloop scheduler` is running, it does the work and this command follows it.
    With --wait it shows the stage, the job's progress and the evaluation's as they go (live
    on a terminal, a line each otherwise), then the gate's decision and its reason."""
    from scheduler.control import nothing_new, nothing_new_to_train
    from scheduler.cycle.status import cycle_decision, evaluation_progress
    from scheduler.service import retrain_by_hand
    from tuneloop.cli.progress import progress_display
    from tuneloop.settings import load_settings
    from tuneloop.wiring import build_cycle_runner, open_database, scheduler_lease

    settings = load_settings()
    if not settings.provider and (
        (settings.trainer == "openai" and not settings.openai_api_key)
        or (settings.trainer == "together" and not settings.together_api_key)
    ):
        # A team folder without its provider's key trains on the offline stand-in: say so
        # before its figures (and its stand-in "cost") are mistaken for the provider's.
        from tuneloop.provider import describe_provider

        warn(describe_provider(settings))
    watch = progress_display(as_json, console, errors) if wait else None

    def following(holder: str) -> None:
        if not as_json:
            console.print(literal(f"the scheduler ({holder}) runs the cycle; following it"))

    with scheduler_errors():
        db = open_database(settings)

        def progress(report: Any) -> None:
            if watch is None:
                return
            watch.report(report)
            # Following another process (or resuming): its stored results are the progress.
            if report.stage == "evaluate" and report.cycle_id is not None:
                evaluation = evaluation_progress(db, report.cycle_id)
                if evaluation is not None:
                    watch.evaluated(evaluation["answered"], evaluation["planned"])

        runner = build_cycle_runner(settings, db, on_evaluated=watch.on_stored if watch else None)
        if now and not force and nothing_new(runner):
            fail(nothing_new_to_train(settings.min_new_examples, "tuneloop retrain --now --force"))
        with watch or nullcontext():
            report = retrain_by_hand(
                runner,
                scheduler_lease(settings, db),
                force=now,
                wait=wait,
                trigger="manual" if now else "cli",
                requested_by=f"cli:{getpass.getuser()}",
                poll_seconds=poll_seconds,
                on_follow=following,
                on_progress=progress,
            )
        decision = cycle_decision(db, report.cycle_id) if report.decided else None
    _show_report(report, decision, as_json)


# --- status -----------------------------------------------------------------------------------
@app.command("status", short_help="The served model, the open run, recent decisions.")
def status(as_json: bool = JSON_OPTION) -> None:
    """The served model, the open run and its stage, and recent decisions."""
    from scheduler.cycle.status import cycle_status
    from tuneloop.settings import load_settings
    from tuneloop.wiring import cycle_config, model_registry, open_database

    settings = load_settings()
    with scheduler_errors():
        db = open_database(settings, existing=True)
        data = cycle_status(db, model_registry(db), cycle_config(settings))
    if as_json:
        print_json(data)
        return
    active = data["active_model"]
    console.print(
        labelled("active model", active["model"])
        + ("" if active["promoted"] else " (the base model: nothing promoted yet)")
    )
    console.print(
        f"new approved examples: {data['new_examples']} (a run starts at "
        f"{data['min_new_examples']})",
        highlight=False,
    )
    cycle = data["open_cycle"]
    if cycle is None:
        console.print("no run open", highlight=False)
    else:
        line = f"open run: cycle {cycle['id']}, stage {cycle['stage']}: {cycle['note']}"
        if cycle["training"]:
            t = cycle["training"]
            line += f"\n  training: {t['status']} (job {t['job_id'] or '-'})"
        if cycle["evaluation"]:
            e = cycle["evaluation"]
            line += f"\n  evaluation: {e['answered']}/{e['planned']} items answered"
        console.print(literal(line), soft_wrap=True)
    leader = data["scheduler"]
    console.print(literal(f"scheduler: {leader['leader'] if leader else 'not running'}"))
    if data["recent_decisions"]:
        table = Table("decided", title="recent decisions")
        model_column(table, "candidate")
        table.add_column("verdict")
        table.add_column("reason")
        for d in data["recent_decisions"]:
            table.add_row(
                d["decided_at"][:16], literal(d["candidate"]), d["verdict"], literal(d["reason"])
            )
        console.print(table)
    if data["recent_cycles"]:
        # Every ended run, those that never reached a decision (a failed job) included.
        table = Table("cycle", "ended", "outcome", "note", title="recent runs")
        for c in data["recent_cycles"]:
            table.add_row(
                str(c["id"]), (c["closed_at"] or "")[:16], c["outcome"], literal(c["note"] or "")
            )
        console.print(table)


# --- models -----------------------------------------------------------------------------------
def _actor(settings: Settings, given: str | None) -> str:
    """Who is changing the served model: a configured reviewer, or this OS user if none are."""
    if settings.reviewers:
        if given is None and len(settings.reviewers) == 1:
            return settings.reviewers[0]
        if given is None:
            fail("several reviewers are configured: say which you are with --reviewer")
        if given not in settings.reviewers:
            fail(f"{given} is not one of TUNELOOP_REVIEWERS; only reviewers change the model")
        return given
    return given or f"cli:{getpass.getuser()}"


REVIEWER_OPTION = typer.Option(
    None, "--reviewer", "-r", envvar="TUNELOOP_REVIEWER", help="Your reviewer id."
)
REASON_OPTION = typer.Option(..., "--reason", help="Why (kept in the audit trail).")


@models_app.command("list", short_help="The models tuneloop has trained or served.")
def models_list(as_json: bool = JSON_OPTION) -> None:
    """Every model tuneloop has trained or served, and which one is active."""
    from tuneloop.settings import load_settings
    from tuneloop.wiring import model_registry, open_database

    settings = load_settings()
    with scheduler_errors():
        registry = model_registry(open_database(settings, existing=True))
        versions, history = registry.versions(), registry.history(limit=10)
    rows = [
        {
            "model": v.model,
            "state": v.state.value,
            "active": v.is_active,
            "origin": v.origin,
            "dataset_version_id": v.dataset_version_id,
            "shutdown_date": v.shutdown_date.isoformat() if v.shutdown_date else None,
            "created_at": v.created_at.isoformat(),
        }
        for v in versions
    ]
    audit = [
        {
            "at": p.at.isoformat(),
            "action": p.action.value,
            "actor": p.actor,
            "from_model": p.from_model,
            "to_model": p.to_model,
            "reason": p.reason,
            "decision_id": p.decision_id,
            "eval_run_id": p.eval_run_id,
            "dataset_version_id": p.dataset_version_id,
        }
        for p in history
    ]
    if as_json:
        print_json({"models": rows, "history": audit})
        return
    if not rows:
        console.print(literal(f"no models yet: serving {settings.base_model}"))
        return
    table = Table("")
    model_column(table)
    for header in ("state", "origin", "shutdown"):
        table.add_column(header)
    for r in rows:
        table.add_row(
            "*" if r["active"] else "",
            literal(r["model"]),
            r["state"],
            literal(r["origin"]),
            r["shutdown_date"] or "",
        )
    console.print(table)


@models_app.command("promote")
def models_promote(
    model: str = typer.Argument(..., help="The model id to serve from the next message on."),
    reason: str = REASON_OPTION,
    reviewer: str | None = REVIEWER_OPTION,
    force: bool = typer.Option(
        False,
        "--force",
        help="Promote even if the model does not answer a probe or shuts down within the "
        "gate's limit.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Serve MODEL now, by hand (audited). Refuses a model that does not answer one small chat
    completion (a self-hosted adapter is loaded first), or that shuts down soon."""
    from curation.models.base import utcnow
    from scheduler.serving.probe import probe_before_promotion
    from scheduler.training.model_info import shutdown_date
    from tuneloop.provider import build_openai_client
    from tuneloop.settings import load_settings
    from tuneloop.wiring import open_database, registry_for_changes

    settings = load_settings()
    actor = _actor(settings, reviewer)
    with scheduler_errors():
        db = open_database(settings)
        client = build_openai_client(settings)
        registry, serving = registry_for_changes(settings, db, client)
        # A model that does not answer is refused here rather than turning every reply into
        # an apology (a self-hosted adapter is loaded on the serving side first).
        probe = None if force else probe_before_promotion(client, model, serving=serving)
        if probe is not None and not probe.answers:
            fail(
                f"{model} {probe.problem}; not promoted. Check the name (`tuneloop models "
                f"list`), or use --force to promote it anyway"
            )
        shuts = shutdown_date(client, model)
        days = (shuts - utcnow().date()).days if shuts else None
        if days is not None and days <= settings.gate_shutdown_days and not force:
            fail(
                f"{model} shuts down on {shuts}, {days} days from now (the limit is more than "
                f"{settings.gate_shutdown_days}, TUNELOOP_GATE_SHUTDOWN_DAYS); use --force to "
                "promote it anyway"
            )
        registry.ensure_active(settings.base_model)
        promotion = registry.promote(model, actor=actor, reason=reason, shutdown_date=shuts)
    _show_change(promotion, as_json)


@models_app.command("rollback", short_help="Serve again the model served before this one.")
def models_rollback(
    reason: str = REASON_OPTION,
    reviewer: str | None = REVIEWER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Serve again the model that was active before the current one was promoted."""
    from tuneloop.provider import build_openai_client
    from tuneloop.settings import load_settings
    from tuneloop.wiring import open_database, registry_for_changes

    settings = load_settings()
    actor = _actor(settings, reviewer)
    with scheduler_errors():
        db = open_database(settings)
        registry, _ = registry_for_changes(settings, db, build_openai_client(settings))
        promotion = registry.rollback(actor=actor, reason=reason)
    _show_change(promotion, as_json)


def _show_change(promotion: Any, as_json: bool) -> None:
    data = {
        "action": promotion.action.value,
        "from_model": promotion.from_model,
        "to_model": promotion.to_model,
        "actor": promotion.actor,
        "reason": promotion.reason,
        "at": promotion.at.isoformat(),
    }
    if as_json:
        print_json(data)
        return
    console.print(
        literal(
            f"{data['action']}: now serving {data['to_model']} (was {data['from_model']}), "
            f"by {data['actor']}: {data['reason']}"
        ),
        soft_wrap=True,
    )


# --- eval -------------------------------------------------------------------------------------
@app.command("eval", short_help="Evaluate a model against another, promoting nothing.")
def evaluate(
    candidate: str = typer.Option(..., "--candidate", help="The model to evaluate."),
    incumbent: str | None = typer.Option(
        None, "--incumbent", help="The model to compare with (default: the active model)."
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, help="Parallel requests (default TUNELOOP_EVAL_CONCURRENCY)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate CANDIDATE against a model on the golden set and the held-out examples, and
    say what the gate would decide. Promotes nothing; every answer and score is stored."""
    from curation.models.base import utcnow
    from scheduler.gate import judge_candidate
    from scheduler.gate.records import decision_record, scored_items
    from scheduler.training.model_info import model_exists, shutdown_date
    from tuneloop.cli.progress import progress_display
    from tuneloop.provider import build_openai_client
    from tuneloop.settings import load_settings
    from tuneloop.wiring import (
        active_model_lookup,
        build_evaluator,
        build_serving,
        gate_policy,
        open_database,
    )

    settings = load_settings()
    with scheduler_errors():
        db = open_database(settings)
        client = build_openai_client(settings)
        against = incumbent or active_model_lookup(settings, db)()
        if against == candidate:
            fail(f"{candidate} is the incumbent; name another model with --incumbent")
        serving = build_serving(settings, client)
        for model in (candidate, against):
            if serving is not None and not serving.ensure(model):
                fail(f"{model} is not served and not in the adapter store; nothing evaluated")
            if serving is None and not model_exists(client, model):
                fail(
                    f"model {model} does not exist at the model provider (it answers 404 for "
                    "it); nothing evaluated. `tuneloop models list` shows the models tuneloop "
                    "trained"
                )
        watch = progress_display(as_json, console, errors)
        evaluator = build_evaluator(
            settings,
            db,
            client,
            concurrency=concurrency,
            on_stored=watch.on_stored if watch else None,
        )
        with db.session() as session:
            run_id = evaluator.create_run(session, candidate=candidate, incumbent=against).id
        with watch or nullcontext():
            run = evaluator.run(run_id)
        with db.read_session() as session:
            items = scored_items(session, run.id)
        result = judge_candidate(
            items,
            gate_policy(settings),
            today=utcnow().date(),
            shutdown_date=shutdown_date(client, candidate),
        )
        with db.session() as session:
            decision = decision_record(run, result, at=utcnow())
            session.add(decision)
    data = {
        "eval_run_id": run.id,
        "candidate": candidate,
        "incumbent": against,
        "summary": run.summary,
        "verdict": result.verdict.value,
        "reason": result.reason,
        "numbers": result.numbers,
        "thresholds": result.thresholds,
    }
    if as_json:
        print_json(data)
        return
    outcomes = run.summary["outcomes"]
    console.print(
        literal(
            f"eval run {run.id}: {candidate} vs {against} on {run.summary['items']} items: "
            f"{outcomes['win']} wins, {outcomes['loss']} losses, {outcomes['tie']} ties, "
            f"{outcomes['error']} errors\n"
            f"gate: {result.reason}\n(nothing promoted; `tuneloop models promote` does that)"
        ),
        soft_wrap=True,
    )


# --- scheduler --------------------------------------------------------------------------------
@app.command("scheduler", short_help="Run the retraining schedule as a service.")
def run_scheduler() -> None:
    """Run the retraining schedule in the foreground until SIGTERM or Ctrl-C. Several may run:
    one leads (a lease row in the database), the others stand by to take over. With
    TUNELOOP_METRICS_PORT set, serves /metrics (Prometheus) and /healthz there."""
    from tuneloop.metrics import Metrics
    from tuneloop.metrics.http import MetricsServerError
    from tuneloop.settings import load_settings
    from tuneloop.wiring import (
        active_model_lookup,
        build_cycle_runner,
        build_retrain_scheduler,
        metrics_server,
        open_database,
        store_collector,
    )

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    metrics = Metrics()

    def leadership(leading: bool) -> None:
        metrics.set_leader(leading)
        typer.echo("leading: this process runs the cycle" if leading else "standing by")

    with scheduler_errors():
        db = open_database(settings)
        runner = build_cycle_runner(settings, db)
        service = build_retrain_scheduler(settings, db, runner=runner, on_leadership=leadership)
        active_model = active_model_lookup(settings, db, registry=runner.ctx.registry)
        metrics.watch(store_collector(db, runner, active_model))
        try:
            exposed = metrics_server(
                settings,
                metrics,
                health=lambda: {"leader": service.is_leader, "active_model": active_model()},
            )
        except MetricsServerError as exc:
            fail(str(exc))
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        service.start()
        if not service.is_leader:
            leadership(False)
        schedule = (
            f"every {settings.retrain_interval_minutes} minutes"
            if settings.retrain_interval_minutes
            else f"cron '{settings.retrain_cron}' (UTC)"
        )
        typer.echo(f"tuneloop scheduler started ({service.lease.holder}); retraining {schedule}")
        if exposed is not None:
            typer.echo(f"metrics: {exposed.url}/metrics (health: /healthz)")
        stop.wait()
        typer.echo("stopping: finishing the step in progress")
    finally:
        service.shutdown(wait=True)
        if exposed is not None:
            exposed.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("tuneloop scheduler stopped")
