"""Only the approved target is trained: earlier turns of a thread are context (weight 0), an
explicit weight survives from import to export, and a DPO input never ends with an assistant."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from curation.capture import Answer, ConversationRef
from curation.chat_format import check_dpo_line, check_sft_line
from curation.errors import ValidationError
from curation.examples import NewExample, insert_example
from curation.export import ExportOptions, Method, export_dataset
from curation.importing import import_chat_file
from curation.model_specs import DEFAULT_MODEL_SPECS, ModelTable
from curation.models import DatasetItem, DatasetVersion, Example, ExampleSource, Split
from curation.store import Store
from tests.conftest import REVIEWERS, SYSTEM

MODELS = ModelTable(DEFAULT_MODEL_SPECS)
MODEL = "gpt-4.1-mini-2025-04-14"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().split("\n") if line]


def _export(db, out: Path, method: Method = Method.SFT) -> list[dict[str, Any]]:
    export_dataset(db, MODELS, ExportOptions(out_dir=out, model=MODEL, method=method))
    return _lines(out / "train.jsonl") + _lines(out / "eval.jsonl")


def _filler(db, n: int = 10, *, rejected: bool = False) -> None:
    with db.session() as s:
        for i in range(n):
            insert_example(
                s,
                NewExample(
                    messages=[SYSTEM, {"role": "user", "content": f"filler question {i}?"}],
                    target=f"Filler answer {i}.",
                    rejected=f"Bad filler {i}." if rejected else None,
                    source=ExampleSource.CORRECTION,
                    thread_key=f"filler-{i}",
                    split=Split.TRAIN,
                ),
                approved_by="U",
                eval_fraction=0,
            )


def _trained(line: dict[str, Any]) -> list[str]:
    """The texts of the assistant turns a supervised line trains (weight 1, the default)."""
    return [
        m["content"]
        for m in line["messages"]
        if m["role"] == "assistant" and m.get("weight", 1) == 1
    ]


def _thread_turn(store: Store, thread: str, prompt: list[dict[str, Any]], reply: str) -> int:
    ts = f"{uuid.uuid4().int % 10**9}.000200"
    ref = ConversationRef("C1", ts, thread, "UASKER", "T1")
    exchange, _ = store.capture.record_exchange(ref, prompt, Answer(reply=reply, model="m"))
    return exchange.id


def _correct_and_approve(store: Store, exchange_id: int, text: str) -> int:
    _, item, _ = store.capture.add_correction(exchange_id, "UFIXER", text)
    return store.review.approve(item.id, REVIEWERS[0]).example_id


def test_a_flagged_earlier_answer_in_the_thread_is_never_trained(store, tmp_path: Path) -> None:
    """Q1 and Q2 of one thread both corrected and approved: the Q2 line carries the bot's
    flagged Q1 answer as context, weight 0, and trains only the approved Q2 correction."""
    q1 = {"role": "user", "content": "Which laptop model do new analysts get?"}
    flagged = "I don't know that yet."
    first = _thread_turn(store, "100.1", [SYSTEM, q1], flagged)
    _correct_and_approve(store, first, "A 14-inch MacBook Pro with 32 GB.")
    q2 = {"role": "user", "content": "And can I choose a Windows laptop instead?"}
    second = _thread_turn(
        store, "100.1", [SYSTEM, q1, {"role": "assistant", "content": flagged}, q2], "No."
    )
    _correct_and_approve(store, second, "Yes: ask your manager to approve a ThinkPad X1.")
    _filler(store.db, rejected=True)

    lines = _export(store.db, tmp_path / "sft")
    (line,) = [line for line in lines if line["messages"][-2] == q2]
    assert line["messages"][2] == {"role": "assistant", "content": flagged, "weight": 0}
    assert _trained(line) == ["Yes: ask your manager to approve a ThinkPad X1."]
    assert all(flagged not in _trained(line) for line in lines)

    dpo = _export(store.db, tmp_path / "dpo", Method.DPO)
    for line in dpo:
        assert line["input"]["messages"][-1]["role"] == "user" and not check_dpo_line(line)


def test_an_explicit_weight_survives_import_and_export(db, tmp_path: Path) -> None:
    path = tmp_path / "weighted.jsonl"
    conversation = {
        "thread_id": "leave-1",
        "messages": [
            {"role": "user", "content": "How long is the notice period for annual leave?"},
            {"role": "assistant", "content": "Six months for any leave.", "weight": 0},
            {"role": "user", "content": "That sounds wrong, can you check?"},
            {"role": "assistant", "content": "Twice the days you take off.", "weight": 1},
        ],
    }
    trained_history = {
        "messages": [
            {"role": "user", "content": "Where do I book leave?"},
            {"role": "assistant", "content": "In HiBob.", "weight": 1},
            {"role": "user", "content": "And sick leave?"},
            {"role": "assistant", "content": "Tell your manager, then log it in HiBob."},
        ]
    }
    unweighted_history = {
        "messages": [
            {"role": "user", "content": "Is there a canteen?"},
            {"role": "assistant", "content": "Yes, on floor 2."},
            {"role": "user", "content": "Opening hours?"},
            {"role": "assistant", "content": "11:30 to 14:00."},
        ]
    }
    path.write_text(
        "\n".join(json.dumps(x) for x in (conversation, trained_history, unweighted_history))
    )
    report = import_chat_file(db, path, system_prompt=None, eval_fraction=0)
    assert report.added == 3 and report.context_turns == 1
    _filler(db)
    by_question = {line["messages"][-2]["content"]: line for line in _export(db, tmp_path / "v")}

    line = by_question["That sounds wrong, can you check?"]
    assert [m.get("weight") for m in line["messages"]] == [None, 0, None, 1]
    assert _trained(line) == ["Twice the days you take off."]
    assert _trained(by_question["And sick leave?"]) == [
        "In HiBob.",
        "Tell your manager, then log it in HiBob.",
    ]
    # Without a weight, an earlier turn is context: the report said so.
    assert _trained(by_question["Opening hours?"]) == ["11:30 to 14:00."]


def test_weights_are_checked_as_openai_checks_them(db, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    user, reply = {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}
    bad = [
        {"messages": [user, {**reply, "weight": 2}]},
        {"messages": [user, {**reply, "weight": True}]},
        {"messages": [user, {**reply, "weight": "1"}]},
        {"messages": [{**user, "weight": 1}, reply]},
        {"messages": [user, {**reply, "weight": 0}]},
    ]
    path.write_text("\n".join(json.dumps(line) for line in bad))
    try:
        import_chat_file(db, path, system_prompt=None, eval_fraction=0)
    except ValidationError as error:
        problems = error.problems
    else:
        raise AssertionError("the file was imported")
    assert [p.split(": ", 2)[1].split(" at ")[0] for p in problems] == [
        "invalid_weight",
        "invalid_weight",
        "invalid_weight",
        "invalid_weight",
        "example_missing_assistant_message",
    ]
    assert "assistant messages only" in problems[3] and "weight 0" in problems[4]


# --- the property: no trained assistant turn is anything but an approved target ---------------

_word = st.sampled_from(["vpn", "leave", "laptop", "okta", "payroll", "badge", "wifi"])
_text = st.lists(_word, min_size=1, max_size=4).map(" ".join)
_weight = st.sampled_from([None, 0, 1])


@st.composite
def _conversation(draw: st.DrawFn) -> list[dict[str, Any]]:
    """user, assistant, user, assistant...: a thread ending with the user's question."""
    turns = draw(st.integers(0, 3))
    messages: list[dict[str, Any]] = []
    for _ in range(turns):
        messages.append({"role": "user", "content": draw(_text) + "?"})
        messages.append({"role": "assistant", "content": "bot: " + draw(_text)})
    messages.append({"role": "user", "content": draw(_text) + "?"})
    return messages


@st.composite
def _import_line(draw: st.DrawFn) -> dict[str, Any]:
    messages = draw(_conversation())
    for message in messages:
        if message["role"] == "assistant":
            weight = draw(_weight)
            if weight is not None:
                message["weight"] = weight
    messages.append({"role": "assistant", "content": "imported: " + draw(_text)})
    return {"thread_id": draw(st.integers(0, 5)), "messages": messages}


_store_contents = st.tuples(
    st.lists(st.tuples(_conversation(), _text, st.booleans()), max_size=5),  # Slack threads
    st.lists(_import_line(), max_size=5),
)


def _approved(db) -> set[str]:
    """What reviewers and importers approved: every target, and every earlier assistant turn
    an import marked `"weight": 1`."""
    with db.read_session() as s:
        rows = s.execute(select(Example.messages, Example.target, Example.source)).all()
    approved = {target for _, target, _ in rows}
    for messages, _, source in rows:
        if source is ExampleSource.IMPORT:
            approved |= {m["content"] for m in messages if m.get("weight") == 1}
    return approved


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(contents=_store_contents)
def test_no_export_trains_anything_but_an_approved_target(
    store, tmp_path_factory, contents
) -> None:
    threads, imports = contents
    with store.db.session() as s:
        for table in (DatasetItem, DatasetVersion, Example):
            s.execute(delete(table))
    for n, (prompt, correction, upvote) in enumerate(threads):
        exchange = _thread_turn(store, f"{n}.5", [SYSTEM, *prompt], "bot reply " + correction)
        if upvote:
            from curation.models import FeedbackKind

            _, item, _ = store.capture.add_feedback(exchange, "U2", FeedbackKind.THUMBS_UP)
            if item is not None:
                store.review.approve(item.id, REVIEWERS[0])
        else:
            _correct_and_approve(store, exchange, "fixed: " + correction)
    folder = tmp_path_factory.mktemp("imports")
    if imports:
        (folder / "lines.jsonl").write_text("\n".join(json.dumps(line) for line in imports))
        import_chat_file(store.db, folder / "lines.jsonl", system_prompt=None, eval_fraction=0.3)
    _filler(store.db, rejected=True)
    approved = _approved(store.db)
    for line in _export(store.db, folder / "sft"):
        assert not check_sft_line(line)
        assert set(_trained(line)) <= approved, line
        if line["messages"][0] == SYSTEM and not line["messages"][-1]["content"].startswith(
            "imported"
        ):
            assert len(_trained(line)) == 1  # from Slack: the approved reply alone
    for line in _export(store.db, folder / "dpo", Method.DPO):
        assert line["input"]["messages"][-1]["role"] == "user"
        assert line["preferred_output"][0]["content"] in approved
        assert all(
            m.get("weight", 0) == 0 or m["content"] in approved
            for m in line["input"]["messages"]
            if m["role"] == "assistant"
        )


def test_evaluation_asks_with_the_prompt_as_a_chat_request(store) -> None:
    """The stored context turns carry `"weight": 0`, a training key that a chat request may
    not hold: the eval cases built from them leave it out."""
    from scheduler.evaluation.cases import eval_cases

    q1 = {"role": "user", "content": "Where is the VPN portal?"}
    q2 = {"role": "user", "content": "And the client?"}
    first = _thread_turn(
        store, "200.1", [SYSTEM, q1, {"role": "assistant", "content": "?"}, q2], "x"
    )
    example_id = _correct_and_approve(store, first, "Download it from the IT portal.")
    with store.db.session() as s:
        s.get_one(Example, example_id).split = Split.EVAL
        stored = s.get_one(Example, example_id).messages
    assert stored[2] == {"role": "assistant", "content": "?", "weight": 0}
    with store.db.read_session() as s:
        (case,) = eval_cases(s)
    assert case.messages == [SYSTEM, q1, {"role": "assistant", "content": "?"}, q2]
