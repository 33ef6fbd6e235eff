"""Stage 1: export a dataset version, plan the training file, check the budget, and record the
training run that the next stage starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from curation.errors import CurationError, ValidationError
from curation.export import ExportOptions, Method, export_dataset, left_out_summary
from curation.models import DatasetItem, DatasetVersion, Split
from scheduler.cycle.budget import check_budget, spent_this_month
from scheduler.cycle.context import CycleContext, Progress, close_cycle, set_note
from scheduler.records import CycleOutcome, CycleStage, RetrainCycle, TrainingRun
from scheduler.training.errors import TrainingRateLimited, TrainingTransientError
from scheduler.training.selection import incremental_file


@dataclass(frozen=True)
class TrainingPlan:
    strategy: str
    model: str
    path: Path
    sha256: str
    examples: int
    tokens: int
    learning_rate_multiplier: float | None
    note: str


def export_method(ctx: CycleContext) -> Method:
    return Method.DPO if ctx.config.method == "dpo" else Method.SFT


def export_step(ctx: CycleContext, cycle: RetrainCycle) -> Progress:
    out_dir = ctx.config.export_dir / f"cycle-{cycle.id}"
    version = _existing_export(ctx, out_dir)
    if version is None:
        options = ExportOptions(
            out_dir=out_dir,
            model=ctx.config.base_model,
            method=export_method(ctx),
            epochs=ctx.config.epochs,
            redact_pii=ctx.config.redact_pii,
            personal_data=ctx.config.personal_data,
            # The cycle's own folder: files there without a recorded version are an
            # interrupted attempt's (a recorded one was found above).
            replace=True,
        )
        try:
            result = export_dataset(ctx.db, ctx.models, options)
        except ValidationError as exc:
            return _close(ctx, cycle, CycleOutcome.NOTHING_TO_TRAIN, f"nothing to train: {exc}")
        except CurationError as exc:
            return _close(ctx, cycle, CycleOutcome.EXPORT_FAILED, f"export failed: {exc}")
        with ctx.db.read_session() as session:
            version = session.get_one(DatasetVersion, result.dataset_version_id)
    try:
        plan = _plan(ctx, version)
    except (TrainingRateLimited, TrainingTransientError) as exc:  # asking the trainer failed
        set_note(ctx, cycle.id, f"could not plan the training run: {exc}; will try again")
        return Progress.WAIT
    # Continuing a fine-tune costs what training its base costs; a self-hosted adapter's name
    # is not in the model table, so it is priced as the configured base model.
    priced = plan.model if plan.model in ctx.models else ctx.config.base_model
    price = ctx.models.spec(priced).training_price_per_million
    estimate = round(plan.tokens * ctx.config.epochs / 1_000_000 * price, 4)
    with ctx.db.read_session() as session:
        spent = spent_this_month(session, ctx.now())
    budget = check_budget(
        estimate,
        spent_usd=spent,
        per_run_usd=ctx.config.budget_per_run_usd,
        per_month_usd=ctx.config.budget_per_month_usd,
    )
    if not budget.ok:
        note = (
            f"{budget.message} ({plan.tokens} tokens x {ctx.config.epochs} epochs x "
            f"${price}/1M on {plan.model}; dataset version {version.id})"
        )
        return _close(ctx, cycle, CycleOutcome.OVER_BUDGET, note)
    hyperparameters: dict[str, float | int] = {"n_epochs": ctx.config.epochs}
    if plan.learning_rate_multiplier is not None:
        hyperparameters["learning_rate_multiplier"] = plan.learning_rate_multiplier
    with ctx.db.session() as session:
        session.add(
            TrainingRun(
                cycle_id=cycle.id,
                dataset_version_id=version.id,
                trainer=ctx.trainer.name,
                model=plan.model,
                base_model=ctx.config.base_model,
                method=ctx.config.method,
                strategy=plan.strategy,
                suffix=ctx.config.suffix,
                seed=ctx.config.seed,
                hyperparameters=hyperparameters,
                train_file=str(plan.path),
                train_sha256=plan.sha256,
                training_examples=plan.examples,
                training_tokens=plan.tokens,
                estimated_cost_usd=estimate,
            )
        )
        stored = session.get_one(RetrainCycle, cycle.id)
        stored.dataset_version_id = version.id
        stored.stage = CycleStage.TRAIN
        stored.note = "; ".join(
            part for part in (plan.note, _left_out(version), budget.message) if part
        )
    return Progress.CONTINUE


def _left_out(version: DatasetVersion) -> str:
    """What the export left out and why, from its manifest summary; '' when nothing was."""
    return left_out_summary(((version.summary or {}).get("left_out") or {}).get("by_rule", {}))


def _close(ctx: CycleContext, cycle: RetrainCycle, outcome: CycleOutcome, note: str) -> Progress:
    with ctx.db.session() as session:
        close_cycle(session, cycle.id, outcome, note, ctx.now())
    return Progress.CONTINUE


def _existing_export(ctx: CycleContext, out_dir: Path) -> DatasetVersion | None:
    """The version an interrupted attempt of this cycle already exported, if complete."""
    if not (out_dir / "manifest.json").is_file():
        return None
    with ctx.db.read_session() as session:
        return session.scalar(
            select(DatasetVersion)
            .where(DatasetVersion.path == str(out_dir.resolve()))
            .order_by(DatasetVersion.id.desc())
            .limit(1)
        )


def _plan(ctx: CycleContext, version: DatasetVersion) -> TrainingPlan:
    """`full`: the configured base model on the whole export. `incremental`: the promoted
    fine-tune on its new examples plus a replay sample, at a lower learning rate."""
    export_dir = Path(version.path)
    full = TrainingPlan(
        strategy="full",
        model=ctx.config.base_model,
        path=export_dir / "train.jsonl",
        sha256=version.train_sha256,
        examples=version.train_count,
        tokens=version.train_tokens,
        learning_rate_multiplier=None,
        note=f"full training of {ctx.config.base_model} on {version.train_count} examples",
    )
    if ctx.config.strategy != "incremental":
        return full
    active = ctx.registry.active()
    if (
        active is None
        or not ctx.trainer.can_continue(active.model)
        or active.dataset_version_id is None
    ):
        return TrainingPlan(
            **{**full.__dict__, "note": full.note + " (incremental needs a promoted fine-tune)"}
        )
    with ctx.db.read_session() as session:
        trained = set(
            session.scalars(
                select(DatasetItem.example_id).where(
                    DatasetItem.dataset_version_id == active.dataset_version_id,
                    DatasetItem.split == Split.TRAIN.value,
                )
            )
        )
    subset = incremental_file(
        export_dir,
        already_trained=trained,
        replay_ratio=ctx.config.replay_ratio,
        seed=version.id,
    )
    return TrainingPlan(
        strategy="incremental",
        model=active.model,
        path=subset.path,
        sha256=subset.sha256,
        examples=subset.examples,
        tokens=subset.tokens,
        learning_rate_multiplier=ctx.config.incremental_learning_rate_multiplier,
        note=(
            f"incremental training of {active.model} on {subset.new_examples} new examples "
            f"and {subset.replayed} replayed ones"
        ),
    )
