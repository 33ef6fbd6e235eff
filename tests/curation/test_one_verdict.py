"""One verdict for one line at every door (import, approval, export, the stand-in's job
validation), and that verdict is OpenAI's training format: what it accepts is kept whole, what
it refuses is refused by name. No door answers bad input with a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from curation.errors import CurationError, ValidationError
from curation.examples import NewExample, insert_example
from curation.export import ExportOptions, Method, export_dataset
from curation.importing import import_chat_file, parse_line, thread_id_problem
from curation.model_specs import DEFAULT_MODEL_SPECS, ModelTable
from curation.models import DatasetItem, DatasetVersion, Example, ExampleSource
from tests.conftest import REVIEWERS, ask
from tests.local_openai.conftest import TRAINING_SPEC_PATH
from tests.local_openai.contract import TrainingLineSchemas
from tuneloop.local_openai.training_validation import TrainingFileError, validate_training_file

MODELS = ModelTable(DEFAULT_MODEL_SPECS)
MODEL = "gpt-4.1-mini-2025-04-14"
USER = {"role": "user", "content": "Can you check ticket 4512 for me?"}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "lookup_ticket", "arguments": "{}"},
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_ticket",
            "description": "Look up an IT ticket",
            "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
    }
]


def _sft(question: str, answer: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def _dpo(question: str, preferred: str, rejected: str) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": question}]},
        "preferred_output": [{"role": "assistant", "content": preferred}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }


FILLER = [_sft(f"Filler question {n}?", f"Filler answer {n}.") for n in range(10)]
DPO_FILLER = [_dpo(f"Filler question {n}?", f"Good {n}.", f"Bad {n}.") for n in range(10)]


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def _stand_in(lines: list[Any], method: str = "supervised") -> TrainingFileError | None:
    data = ("\n".join(json.dumps(line) for line in lines) + "\n").encode()
    try:
        validate_training_file(data, file_id="file-x", method=method, encoding="o200k_base")  # type: ignore[arg-type]
    except TrainingFileError as error:
        return error
    return None


def _export_lines(db, out: Path, method: Method = Method.SFT) -> list[dict[str, Any]]:
    export_dataset(db, MODELS, ExportOptions(out_dir=out, model=MODEL, method=method))
    return [json.loads(x) for x in (out / "train.jsonl").read_text().split("\n") if x]


@pytest.fixture(scope="module")
def schemas() -> TrainingLineSchemas:
    if not TRAINING_SPEC_PATH.is_file():
        pytest.skip(f"OpenAI's 2025-05-20 spec is absent: {TRAINING_SPEC_PATH}")
    return TrainingLineSchemas(TRAINING_SPEC_PATH)


KEPT = [
    pytest.param(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Office wifi?"}]},
                {"role": "assistant", "content": "Choose Fernhill-Staff."},
            ]
        },
        id="content-parts",
    ),
    pytest.param(
        {
            "messages": [
                {"role": "system", "content": "You can look up tickets."},
                USER,
                {"role": "assistant", "content": "Post in #it-help with 4512."},
            ],
            "tools": TOOLS,
            "parallel_tool_calls": False,
        },
        id="tools",
    ),
    pytest.param(
        {
            "messages": [USER, {"role": "assistant", "content": None, "tool_calls": [CALL]}],
            "tools": TOOLS,
        },
        id="tool-call-target",
    ),
    pytest.param(
        {
            "messages": [
                USER,
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": "closed"},
                {"role": "assistant", "content": "Ticket 4512 is closed."},
            ],
            "tools": TOOLS,
        },
        id="tool-round-trip",
    ),
    pytest.param(
        {
            "messages": [
                {"role": "user", "name": "alice", "content": "Who approves leave?"},
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Your manager."}],
                    "weight": 1,
                },
            ]
        },
        id="name-and-parts-target",
    ),
    pytest.param(
        {
            "messages": [
                {"role": "user", "content": "Hi?"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "thanks!"},
            ]
        },
        id="ends-with-user",
    ),
]


@pytest.mark.parametrize("line", KEPT)
def test_what_openai_accepts_is_kept_whole_from_import_to_export(
    db, tmp_path: Path, schemas: TrainingLineSchemas, line: dict[str, Any]
) -> None:
    report = import_chat_file(
        db, _write(tmp_path / "in.jsonl", [line, *FILLER]), system_prompt=None, eval_fraction=0
    )
    assert report.added == 11
    exported = _export_lines(db, tmp_path / "out")
    (written,) = [x for x in exported if x not in FILLER]
    # Earlier assistant turns without a weight come out as context; everything else as given.
    expected = json.loads(json.dumps(line))
    last = max(i for i, m in enumerate(expected["messages"]) if m["role"] == "assistant")
    for message in expected["messages"][:last]:
        if message["role"] == "assistant":
            message.setdefault("weight", 0)
    assert written == expected
    assert schemas.errors("FineTuneChatRequestInput", written) == []
    assert _stand_in(exported) is None


REFUSED = [
    pytest.param(
        {
            "messages": [
                {"role": "developer", "content": "Answer in one sentence."},
                USER,
                {"role": "assistant", "content": "Post in #it-help."},
            ]
        },
        "unrecognized_role at messages[0].role: OpenAI's fine-tuning format has no 'developer'",
        id="developer-role",
    ),
    pytest.param(
        {"messages": [USER, {"role": "assistant", "content": "Ok.", "audio": {"id": "a"}}]},
        "message_unrecognized_key at messages[1].audio: tuneloop trains text",
        id="audio",
    ),
    pytest.param(
        {"messages": [USER, {"role": "assistant", "content": "Ok."}], "metadata": {"a": 1}},
        "unrecognized_key at metadata",
        id="unknown-line-key",
    ),
    pytest.param(
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
                {"role": "assistant", "content": "A cat."},
            ]
        },
        "unsupported_content_part at messages[0].content[0]",
        id="image-part",
    ),
    pytest.param(
        {"messages": [USER, {"role": "assistant", "content": "Ok."}], "tools": [{"type": "web"}]},
        "invalid_tools at tools[0]",
        id="bad-tool",
    ),
    pytest.param(
        {"messages": [USER, {"role": "assistant", "content": "Ok.", "tool_calls": []}]},
        "invalid_tool_calls at messages[1].tool_calls",
        id="empty-tool-calls",
    ),
    pytest.param(
        {
            "messages": [
                USER,
                {"role": "tool", "content": "x"},
                {"role": "assistant", "content": "Ok."},
            ]
        },
        "invalid_tool_call_id at messages[1]",
        id="tool-without-id",
    ),
]


@pytest.mark.parametrize(("line", "expected"), REFUSED)
def test_what_openai_refuses_is_refused_by_name_at_the_door_and_in_the_stand_in(
    db, tmp_path: Path, line: dict[str, Any], expected: str
) -> None:
    path = _write(tmp_path / "in.jsonl", [*FILLER[:5], line, *FILLER[5:]])
    with pytest.raises(ValidationError) as raised:
        import_chat_file(db, path, system_prompt=None, eval_fraction=0)
    (problem,) = raised.value.problems
    assert problem.startswith(f"{path}:6: {expected}")
    error = _stand_in([*FILLER, line])
    assert error is not None and f"Example 11: {expected}" in error.message


def test_a_dpo_file_imports_as_preference_pairs(db, tmp_path: Path, schemas) -> None:
    older = {  # the 2025-05-20 spelling
        "input": {"messages": [{"role": "user", "content": "Which channel for laptops?"}]},
        "preferred_completion": [{"role": "assistant", "content": "#it-help."}],
        "non_preferred_completion": [{"role": "assistant", "content": "#random."}],
    }
    path = _write(tmp_path / "dpo.jsonl", [*DPO_FILLER, older])
    assert import_chat_file(db, path, system_prompt="Be brief.", eval_fraction=0).added == 11
    dpo = _export_lines(db, tmp_path / "dpo", Method.DPO)
    assert len(dpo) == 11 and _stand_in(dpo, "dpo") is None
    line = dpo[-1]
    assert line["input"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Which channel for laptops?"},
    ]
    assert (line["preferred_output"], line["non_preferred_output"]) == (
        [{"role": "assistant", "content": "#it-help."}],
        [{"role": "assistant", "content": "#random."}],
    )
    assert (
        schemas.errors(
            "FineTunePreferenceRequestInput",
            {
                "input": line["input"],
                "preferred_completion": line["preferred_output"],
                "non_preferred_completion": line["non_preferred_output"],
            },
        )
        == []
    )
    sft = _export_lines(db, tmp_path / "sft")
    assert sft[-1]["messages"][-1] == {"role": "assistant", "content": "#it-help."}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (_dpo("Q?", "Same.", " Same. "), "identical_outputs"),
        (
            {
                **_dpo("Q?", "A.", "B."),
                "input": {
                    "messages": [
                        {"role": "user", "content": "Q?"},
                        {"role": "assistant", "content": "A."},
                    ]
                },
            },
            "prompt_not_ending_with_user",
        ),
        (
            {
                **_dpo("Q?", "A.", "B."),
                "preferred_completion": [{"role": "assistant", "content": "A."}],
            },
            "unrecognized_key at preferred_completion",
        ),
    ],
)
def test_bad_preference_lines_are_refused_by_name(db, tmp_path: Path, line, expected) -> None:
    path = _write(tmp_path / "dpo.jsonl", [line])
    with pytest.raises(ValidationError) as raised:
        import_chat_file(db, path, system_prompt=None, eval_fraction=0)
    assert expected in raised.value.problems[0]
    error = _stand_in([*DPO_FILLER, line], "dpo")
    assert error is not None and expected in error.message


# --- Hypothesis: valid-looking lines, at every door ------------------------------------------

_texts = st.one_of(
    st.sampled_from(["", " ", "Hi?", "Where is the VPN?", "Ok.", "\ud83d", "caf\u00e9", "a\x00b"]),
    st.text(max_size=6),
)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-1, 2), st.floats(-1, 1), _texts)
_parts = st.lists(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": _texts}),
        st.fixed_dictionaries({"type": st.sampled_from(["image_url", "text", 3])}),
        _scalar,
    ),
    max_size=2,
)
_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(
            ["system", "user", "assistant", "tool", "function", "developer", "bot", 1]
        ),
    },
    optional={
        "content": st.one_of(_texts, _parts, st.none(), st.integers()),
        "weight": st.sampled_from([0, 1, True, 2, "1", None, 0.0]),
        "name": _scalar,
        "tool_calls": st.one_of(st.just([CALL]), st.lists(_scalar, max_size=1)),
        "tool_call_id": _scalar,
        "extra": _scalar,
    },
)
_messages = st.one_of(st.lists(_message, max_size=4), _scalar)
_sft_line = st.fixed_dictionaries(
    {"messages": _messages},
    optional={
        "tools": st.one_of(st.just(TOOLS), st.lists(_scalar, max_size=1)),
        "parallel_tool_calls": _scalar,
        "thread_id": st.one_of(_scalar, st.lists(st.integers(), max_size=1)),
    },
)
_dpo_line = st.fixed_dictionaries(
    {
        "input": st.one_of(st.fixed_dictionaries({"messages": _messages}), _scalar),
        "preferred_output": st.one_of(st.lists(_message, max_size=2), _scalar),
        "non_preferred_output": st.one_of(st.lists(_message, max_size=2), _scalar),
    }
)
_VALID = [
    *(p.values[0] for p in KEPT),
    {"thread_id": 3, **_sft("Where is payroll?", "In HiBob.")},
    _dpo("Which channel?", "#it-help.", "#random."),
]


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a JSON value."""
    found = [here] if here else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*here, index))
    return found


@st.composite
def _mutated(draw: st.DrawFn) -> Any:
    """A valid line with up to two things changed: the lines a person actually gets wrong."""
    line = json.loads(json.dumps(draw(st.sampled_from(_VALID))))
    for _ in range(draw(st.integers(0, 2))):
        paths = _paths(line)
        if not paths:
            break
        *parent_path, key = draw(st.sampled_from(paths))
        parent = line
        for step in parent_path:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[key]
        else:
            value = draw(st.one_of(_scalar, _parts, st.just([CALL]), st.just(TOOLS)))
            parent[key] = json.loads(json.dumps(value))  # a copy: never the shared constants
    return line


_line = st.one_of(
    _mutated(), _mutated(), _mutated(), _sft_line, _dpo_line, _scalar, st.lists(_scalar, max_size=2)
)
_HYPOTHESIS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _clear(db) -> None:
    with db.session() as s:
        for table in (DatasetItem, DatasetVersion, Example):
            s.execute(delete(table))


@_HYPOTHESIS
@given(line=_line)
def test_every_door_gives_one_verdict_and_no_traceback(db, tmp_path_factory, line) -> None:
    """Import, the approval door (`insert_example`), the stand-in and export agree on each
    line, and answer a bad one with a rule, never an exception of their own."""
    _clear(db)
    sft = not (isinstance(line, dict) and "input" in line)
    filler, method = (FILLER, "supervised") if sft else (DPO_FILLER, "dpo")
    folder = tmp_path_factory.mktemp("door")
    path = folder / "in.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [*filler, line]))
    try:
        report = import_chat_file(db, path, system_prompt=None, eval_fraction=0)
    except ValidationError as error:
        assert error.problems and all(p.startswith(f"{path}:11: ") for p in error.problems)
        imported = False
    else:
        assert report.added + report.already_present == 11
        imported = True
    parts, _ = parse_line(line)
    if parts is not None:  # what the approval door checks of the same line
        with db.session() as s:
            new = NewExample.from_line(parts, source=ExampleSource.IMPORT, thread_key="x")
            try:
                insert_example(s, new, approved_by="U", eval_fraction=0)
            except ValidationError:
                pytest.fail("the approval door refused a line the importer took apart")
    bare = {k: v for k, v in line.items() if k != "thread_id"} if isinstance(line, dict) else line
    thread_bad = isinstance(line, dict) and thread_id_problem(line.get("thread_id")) is not None
    if not thread_bad:  # thread_id aside (the importer's own key), the stand-in agrees
        assert (_stand_in([*filler, bare], method) is None) == imported
    event("imported" if imported else "refused")
    if imported:
        exported = _export_lines(db, folder / "out", Method.SFT if sft else Method.DPO)
        assert _stand_in(exported, method) is None


_correction = st.one_of(_texts, st.text(min_size=1, max_size=40))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_correction)
def test_a_correction_or_edit_never_raises_a_traceback(store, text: str) -> None:
    exchange = ask(store, "Where is the VPN portal?", "I don't know.")
    try:
        _, item, _ = store.capture.add_correction(exchange, "UFIXER", text)
        store.review.approve(item.id, REVIEWERS[0])
    except CurationError:
        pass
    other = ask(store, "And the client?", "No idea.")
    try:
        from curation.models import FeedbackKind

        _, item, _ = store.capture.add_feedback(other, "U2", FeedbackKind.FLAG)
        store.review.approve(item.id, REVIEWERS[0], text=text)
    except CurationError:
        pass


def test_an_integer_thread_id_groups_a_thread_and_other_types_are_refused(
    db, tmp_path: Path
) -> None:
    lines = [
        {"thread_id": 7, **_sft("Where is payroll?", "In HiBob.")},
        {"thread_id": "7", **_sft("And payslips?", "Also in HiBob.")},
        {"thread_id": 8, **_sft("Laptop?", "IT portal.")},
    ]
    report = import_chat_file(
        db, _write(tmp_path / "a.jsonl", lines), system_prompt=None, eval_fraction=0.5
    )
    with db.read_session() as s:
        keys = {e.thread_key: e.split for e in s.query(Example).all()}
    assert set(keys) == {"import:7", "import:8"} and report.added == 3
    bad = [
        {"thread_id": value, **_sft("Q?", "A.")}
        for value in (1.5, True, [1], {"a": 1}, "", "x" * 151)
    ]
    with pytest.raises(ValidationError) as raised:
        import_chat_file(db, _write(tmp_path / "b.jsonl", bad), system_prompt=None, eval_fraction=0)
    assert [p.split(": ")[1].split(" at ")[0] for p in raised.value.problems] == [
        "invalid_thread_id"
    ] * 6


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b'{"messages": [{"role": "user", "content": "fan \\ud83d"}, '
            b'{"role": "assistant", "content": "ok"}]}',
            ":1: invalid_text at messages[0].content: unpaired UTF-16 surrogate \\ud83d",
        ),
        (b"\xff\xfe{}", "not_utf8: saved as UTF-16"),
        (b"\xc0{}", "not UTF-8 text (byte 0"),
        (b'{"messages": [NaN]}', ":1: invalid JSON (NaN is not a JSON value)"),
        (b"[" * 100_000, ":1: not_jsonl: this looks like a JSON array"),
        (b'{"a": ' * 100_000, ":1: invalid JSON"),
        (  # a line cut short: named where it stops, not at the next line's column 1
            b'{"messages": [{"role": "user", "content": "Q"}\n',
            ":1: invalid JSON (Expecting ',' delimiter at column 47)",
        ),
        (b"", "the file holds no examples"),
        (
            b'{"messages": [{"role": "user", "content": "a\\u0000b"}, '
            b'{"role": "assistant", "content": "ok"}]}',
            ":1: invalid_text at messages[0].content: NUL character",
        ),
    ],
)
def test_a_broken_file_is_named_with_file_line_and_rule(
    db, tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as raised:
        import_chat_file(db, path, system_prompt=None, eval_fraction=0)
    assert any(expected in p for p in raised.value.problems), raised.value.problems
    with pytest.raises(ValidationError, match="cannot read"):
        import_chat_file(db, tmp_path, system_prompt=None, eval_fraction=0)  # a folder
