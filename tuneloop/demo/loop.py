"""The scripted loop: seeds and a first model; people ask, flag and correct in Slack; a reviewer
approves; the scheduler's cycle retrains and promotes; the same questions are answered well;
a poisoned batch is approved, retrained on, and refused by the gate.

Every step goes through the real pieces (see `world.py`); each expectation is checked and
recorded, so the command can exit non-zero naming the one that failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from curation.importing import import_seeds
from curation.models import Example, ExampleSource, Exchange, Split
from scheduler.cycle import CycleReport
from scheduler.evaluation import SimilarityGrader
from scheduler.records import Decision
from tuneloop.demo import people
from tuneloop.demo.backends import DemoTrainer
from tuneloop.demo.script import POISON, TOPICS, Topic
from tuneloop.demo.summary import DemoSummary, GateLines, ModelRow
from tuneloop.demo.world import World, build_world
from tuneloop.local_openai import FALLBACK_ANSWER, Clock

Say = Callable[[str], None]
#: Share of the re-asked questions that must now get their corrected answer. Each topic is
#: asked in three wordings in three threads, so it is learned unless all fall in the held-out
#: split (the split is fixed by the workspace's fixed clock).
LEARNED_SHARE = 0.8
#: With a real model (the lora backend) answers are not verbatim: the re-asked questions' mean
#: similarity to their corrections (the evaluation's own grader) must rise by this much over
#: what the first model answered.
LORA_MIN_GAIN = 0.1
_GRADER = SimilarityGrader()


def _quiet(_: str) -> None:
    return None


def run_demo(
    *,
    database_url: str | None = None,
    data_dir: Path | None = None,
    clock: Clock | None = None,
    say: Say = _quiet,
    trainer: DemoTrainer = "openai",
    models_dir: Path | None = None,
    socket_mode: bool = False,
) -> DemoSummary:
    """Run the whole loop and return what happened (`summary.ok` says if it behaved).

    `trainer` "lora" trains SmolLM2 for real and serves it with the local vLLM stand-in
    (minutes); "together" uses the Together stand-in and the default the OpenAI stand-in
    (seconds). `socket_mode` has the bot hear the local workspace over Socket Mode instead
    of HTTP."""
    started = time.monotonic()
    summary = DemoSummary()
    summary.numbers["trainer"] = trainer
    summary.numbers["slack_transport"] = "socket_mode" if socket_mode else "http"
    with build_world(
        database_url=database_url,
        data_dir=data_dir,
        clock=clock,
        trainer=trainer,
        models_dir=models_dir,
        say=say,
        socket_mode=socket_mode,
    ) as world:
        _first_model(world, summary, say)
        if not summary.ok:
            return _finish(world, summary, started)
        _learn_from_people(world, summary, say)
        _poisoned_batch(world, summary, say)
        return _finish(world, summary, started)


def _finish(world: World, summary: DemoSummary, started: float) -> DemoSummary:
    active = world.runner.ctx.registry.active()
    summary.active_model = active.model if active else world.settings.base_model
    summary.wall_seconds = time.monotonic() - started
    return summary


# --- steps ---------------------------------------------------------------------------------------
def _first_model(world: World, summary: DemoSummary, say: Say) -> None:
    reports = import_seeds(world.db, world.seeds_dir, eval_fraction=0.2)
    added = {Path(r.path).name: r.added for r in reports}
    say(
        f"Imported the seeds: {added.get('train.jsonl', 0)} training examples, "
        f"{added.get('golden.jsonl', 0)} golden evaluation items."
    )
    summary.numbers["seed_examples"] = added.get("train.jsonl", 0)
    summary.numbers["golden_items"] = added.get("golden.jsonl", 0)
    say("Training, evaluating and gating the first model (export, fine-tune, evaluate, gate)...")
    report = _cycle(world, force=True, say=say)
    row = _row(world, report, "v1")
    if report.cycle_id is not None:
        summary.models.append(_base_row(world, report.cycle_id))
    summary.models.append(row)
    say(f"First cycle: {report.outcome}. {row.reason}")
    summary.check("first model promoted", report.outcome == "promoted", report.note)


def _learn_from_people(world: World, summary: DemoSummary, say: Say) -> None:
    p = world.people
    asking = sum(len(topic.wordings) for topic in TOPICS)
    say(f"{len(p.askers)} people ask {asking} questions the seeds do not cover...")
    questions: list[tuple[str, str, Topic]] = [
        (p.askers[(index + turn) % len(p.askers)], question, topic)
        for index, topic in enumerate(TOPICS)
        for turn, question in enumerate(topic.wordings)
    ]
    asked: list[tuple[people.Asked, Topic]] = []

    def flag_and_correct(user: str, answer: people.Asked, topic: Topic) -> None:
        asked.append((answer, topic))
        people.thumbs_down(world, user, answer)
        people.correct(world, user, answer, topic.answer)

    if world.stand_in is not None:
        # One person after another: the fixed clock then stamps the same threads every run.
        for user, question, topic in questions:
            flag_and_correct(user, people.ask(world, user, question), topic)
    else:
        answers = people.ask_many(world, [(user, question) for user, question, _ in questions])
        for (user, _, topic), answer in zip(questions, answers, strict=True):
            flag_and_correct(user, answer, topic)
    summary.numbers["questions_asked"] = len(asked)
    if world.stand_in is not None:
        unknown = sum(FALLBACK_ANSWER in a.answer for a, _ in asked)
        summary.numbers["unknown_before"] = unknown
        say(
            f"The bot did not know {unknown} of {len(asked)}; each was flagged with 👎 and "
            'corrected through "Correct this answer".'
        )
        summary.check(
            "the new questions were unknown at first",
            unknown == len(asked),
            f"{unknown}/{len(asked)} answered with the stand-in's \"I don't know\"",
        )
    else:
        before = _closeness(asked)
        summary.numbers["closeness_before"] = before
        say(
            f"Its answers' similarity to the right answers: {before:.3f} (the evaluation's "
            'grader); each was flagged with 👎 and corrected through "Correct this answer".'
        )

    approved = people.approve_all(world, p.reviewer)
    summary.numbers["approved_corrections"] = approved
    say(f"The reviewer approved {approved} corrections from the App Home tab.")
    summary.check(
        "every correction approved in App Home",
        approved == len(asked),
        f"{approved} approved of {len(asked)} corrections",
    )

    new = world.runner.new_examples()
    say(
        f"The scheduler's cycle runs: {new} new approved examples "
        f"(a run starts at {world.runner.config.min_new_examples})."
    )
    report = _cycle(world, say=say)
    row = _row(world, report, "v2")
    summary.models.append(row)
    say(f"Second cycle: {report.outcome}. {row.reason}")
    summary.check("the corrected model promoted", report.outcome == "promoted", report.note)

    say("The same questions are asked again, verbatim...")
    again = people.ask_many(
        world,
        [
            (p.askers[index % len(p.askers)], before.question)
            for index, (before, _) in enumerate(asked)
        ],
    )
    asked_again = [(answer, topic) for answer, (_, topic) in zip(again, asked, strict=True)]
    hits = [topic.answer in answer.answer for answer, topic in asked_again]
    learned = sum(hits)
    summary.numbers["learned_after"] = learned
    held, unseen_topics = _held_out(world, asked)
    held_out = sum(held)
    summary.numbers["held_out"] = held_out
    summary.numbers["held_out_unseen_topics"] = unseen_topics
    if held_out:
        unseen = (
            f"; {unseen_topics} of them ask a topic no thread trains"
            if unseen_topics
            else ", each a topic the model learned in another wording"
        )
        say(
            f"{held_out} of the {len(asked)} corrected threads are held out: the train/eval "
            f"split (TUNELOOP_EVAL_FRACTION, {world.settings.eval_fraction:.0%}, by a hash of "
            f"the Slack thread) put them in the evaluation set, so no model trains on them"
            f"{unseen}: the gate measures each candidate on answers it has not seen."
        )
    if world.stand_in is not None:
        share = learned / len(asked)
        trained_hits = sum(hit for hit, out in zip(hits, held, strict=True) if not out)
        held_hits = learned - trained_hits
        why = (
            f": {trained_hits} of the {len(asked) - held_out} trained threads, and {held_hits} "
            f"of the {held_out} held out, which the stand-in matches to a trained wording "
            "when their words are close enough"
            if held_out
            else ""
        )
        say(f"Now answered with the corrected answer: {learned} of {len(asked)}{why}.")
        summary.check(
            "the same questions are answered well",
            share >= LEARNED_SHARE,
            f"{learned}/{len(asked)} answered with their correction (needs "
            f"{LEARNED_SHARE:.0%}; {held_out} held out for evaluation)",
        )
        return
    before, after = summary.numbers["closeness_before"], _closeness(asked_again)
    summary.numbers["closeness_after"] = after
    say(
        f"Their similarity to the corrections: {before:.3f} before, {after:.3f} now "
        f"({learned} of {len(asked)} word for word)."
    )
    summary.check(
        "the same questions are answered closer to their corrections",
        after >= before + LORA_MIN_GAIN,
        f"mean similarity {before:.3f} -> {after:.3f} (needs a gain of {LORA_MIN_GAIN})",
    )


def _held_out(world: World, asked: list[tuple[people.Asked, Topic]]) -> tuple[list[bool], int]:
    """Per asked thread, whether the split put it in the evaluation set (no model trains on
    its correction); and how many of those ask a topic that no thread trains on."""
    with world.db.read_session() as session:
        rows = session.execute(
            select(Exchange.channel_id, Exchange.thread_ts, Example.target, Example.split)
            .join(Exchange, Example.exchange_id == Exchange.id)
            .where(Example.source == ExampleSource.CORRECTION)
        ).all()
    evaluated = {(channel, ts) for channel, ts, _, split in rows if split == Split.EVAL}
    trained = {target for _, _, target, split in rows if split == Split.TRAIN}
    held = [
        (answer.channel, str(answer.reply.get("thread_ts", ""))) in evaluated for answer, _ in asked
    ]
    unseen = sum(
        out and topic.answer not in trained for out, (_, topic) in zip(held, asked, strict=True)
    )
    return held, unseen


def _closeness(asked: list[tuple[people.Asked, Topic]]) -> float:
    """Mean similarity of the answers to the topics' right answers, by the grader the
    evaluation uses."""
    scores = [_GRADER.score(answer.answer, topic.answer) for answer, topic in asked]
    return round(sum(scores) / len(scores), 4)


def _poisoned_batch(world: World, summary: DemoSummary, say: Say) -> None:
    p = world.people
    good = world.runner.ctx.registry.active()
    good_model = good.model if good else ""
    say(f"Mallory 'corrects' {len(POISON)} golden-set answers with wrong facts...")
    for question, wrong in POISON:
        answer = people.ask(world, p.troll, question)
        people.correct(world, p.troll, answer, wrong)
    approved = people.approve_all(world, p.reviewer)
    summary.numbers["approved_poison"] = approved
    say(f"...and a careless reviewer approves all {approved} of them.")
    summary.check(
        "the poisoned batch approved in App Home",
        approved == len(POISON),
        f"{approved} approved of {len(POISON)}",
    )
    report = _cycle(world, say=say)
    row = _row(world, report, "v3 (poisoned)")
    summary.models.append(row)
    say(f"Third cycle: {report.outcome}. {row.reason}")
    summary.check(
        "the gate rejects the poisoned model",
        report.outcome == "rejected" and row.verdict == "reject",
        report.note,
    )
    active = world.runner.ctx.registry.active()
    summary.check(
        "the good model stays active",
        active is not None and active.model == good_model,
        f"active: {active.model if active else None}",
    )
    question, wrong = POISON[0]
    answer = people.ask(world, p.askers[0], question)
    unknown = world.stand_in is not None and FALLBACK_ANSWER in answer.answer
    summary.check(
        "golden answers are not poisoned in Slack",
        wrong not in answer.answer and not unknown,
        f"{question!r} -> {answer.answer[:80]!r}",
    )


# --- the cycle and its records -----------------------------------------------------------------
def _cycle(
    world: World, *, force: bool = False, timeout_s: float | None = None, say: Say = _quiet
) -> CycleReport:
    """One scheduler cycle, followed until it decides (the stand-in's jobs take time under a
    real clock). With a real model, each new note (stage, training step and loss) is said."""
    trigger = "manual" if force else "schedule"
    report = world.runner.tick(force=force, trigger=trigger, requested_by="demo")
    # Real training on CPU takes minutes; the stand-in's jobs take seconds.
    limit = timeout_s or (120.0 if world.stand_in is not None else 3600.0)
    deadline = time.monotonic() + limit
    while report.cycle_id is not None and not report.decided:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1 if world.stand_in is not None else 2.0)
        said = report.note
        report = world.runner.poll() or world.runner.report(report.cycle_id)
        if world.stand_in is None and report.note != said and not report.decided:
            say(f"  {report.note}")
    return report


def _decision(world: World, cycle_id: int | None) -> Decision | None:
    if cycle_id is None:
        return None
    with world.db.read_session() as session:
        return session.scalar(select(Decision).where(Decision.cycle_id == cycle_id))


def _row(world: World, report: CycleReport, label: str) -> ModelRow:
    decision = _decision(world, report.cycle_id)
    if decision is None:
        return ModelRow(label, "-", None, outcome=report.outcome, reason=report.note)
    numbers, limits = decision.numbers, decision.thresholds
    return ModelRow(
        label=label,
        model=decision.candidate,
        golden_mean=numbers.get("golden_mean_candidate"),
        win_rate=numbers.get("win_rate"),
        win_rate_lower_bound=numbers.get("win_rate_lower_bound"),
        verdict=decision.verdict.value,
        outcome=report.outcome,
        reason=decision.reason.splitlines()[0] if decision.reason else report.note,
        p_value=numbers.get("p_value"),
        incumbent_golden_mean=numbers.get("golden_mean_incumbent"),
        thresholds=GateLines(
            null_win_rate=limits["null_win_rate"],
            significance=limits["significance"],
            golden_floor=limits["golden_floor"],
            golden_tolerance=limits["golden_tolerance"],
        ),
    )


def _base_row(world: World, cycle_id: int) -> ModelRow:
    decision = _decision(world, cycle_id)
    golden = decision.numbers.get("golden_mean_incumbent") if decision else None
    model = decision.incumbent if decision else world.settings.base_model
    return ModelRow("base", model, golden, outcome="served first", reason="the base model")
