"""Seed and bulk import: idempotent, all-or-nothing per file, bad lines named precisely."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from curation.chat_format import check_sft_line
from curation.errors import ValidationError
from curation.fingerprints import normalise_text
from curation.importing import ImportChecks, import_chat_file, import_seeds, parse_chat_file
from curation.models import Example, ExampleSource, Split
from curation.personal_data import PersonalDataPolicy
from tests.conftest import SEEDS_DIR


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _count(db, *where) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count(Example.id)).where(*where))


def test_the_shipped_seeds_are_valid_and_golden_never_appears_in_train() -> None:
    train, golden = _read(SEEDS_DIR / "train.jsonl"), _read(SEEDS_DIR / "golden.jsonl")
    assert len(train) >= 60 and len(golden) >= 40
    assert all(not check_sft_line(line) for line in train + golden)
    train_questions = {
        normalise_text(m["content"]).lower()
        for line in train
        for m in line["messages"]
        if m["role"] == "user"
    }
    for line in golden:
        question = normalise_text(line["messages"][-2]["content"]).lower()
        assert question not in train_questions
    assert (SEEDS_DIR / "system_prompt.md").read_text().strip()


def test_seed_import_is_idempotent_and_keeps_golden_on_eval(db) -> None:
    first = import_seeds(db, SEEDS_DIR, eval_fraction=0.2)
    again = import_seeds(db, SEEDS_DIR, eval_fraction=0.2)
    shipped = [len(_read(SEEDS_DIR / "train.jsonl")), len(_read(SEEDS_DIR / "golden.jsonl"))]
    assert [r.added for r in first] == shipped
    assert all(r.added == 0 and r.ok for r in again)
    assert [r.already_present for r in again] == [r.added for r in first]
    assert _count(db, Example.golden.is_(True), Example.split == Split.EVAL) == first[1].added
    assert _count(db, Example.golden.is_(False), Example.split == Split.TRAIN) == first[0].added
    with db.read_session() as s:
        example = s.scalars(select(Example).limit(1)).one()
    # The installation's system prompt is prepended, as the bot sends it.
    assert example.messages[0]["role"] == "system"
    assert example.source is ExampleSource.SEED


def test_a_bad_line_is_named_and_nothing_from_that_file_is_imported(db, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    lines = (seeds / "golden.jsonl").read_text().splitlines()
    lines[6] = '{"messages": [{"role": "user", "content": "hi"}]}'
    lines[9] = "{not json"
    (seeds / "golden.jsonl").write_text("\n".join(lines) + "\n")
    train_report, golden_report = import_seeds(db, seeds, eval_fraction=0.2)
    assert train_report.ok and train_report.added > 0
    assert not golden_report.ok
    problems = "\n".join(golden_report.problems)
    assert f"{seeds / 'golden.jsonl'}:7: example_missing_assistant_message" in problems
    assert f"{seeds / 'golden.jsonl'}:10: invalid JSON" in problems
    assert _count(db, Example.golden.is_(True)) == 0


def test_bulk_import_splits_by_thread_and_refuses_bad_files(db, tmp_path: Path) -> None:
    good = tmp_path / "approved.jsonl"
    rows = [
        {
            "thread_id": f"thread-{n // 2}",
            "messages": [
                {"role": "user", "content": f"question {n}"},
                {"role": "assistant", "content": f"answer {n}"},
            ],
        }
        for n in range(40)
    ]
    good.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = import_chat_file(db, good, system_prompt="Be brief.", eval_fraction=0.5)
    assert report.added == 40
    with db.read_session() as s:
        pairs = s.execute(select(Example.thread_key, Example.split)).all()
    sides: dict[str, set] = {}
    for key, split in pairs:
        sides.setdefault(key, set()).add(split)
    assert all(len(v) == 1 for v in sides.values()) and len(sides) == 20
    assert {split for v in sides.values() for split in v} == {Split.TRAIN, Split.EVAL}

    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(
            rows[0]
            | {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]}
        )
    )
    with pytest.raises(ValidationError, match="nothing imported") as info:
        import_chat_file(db, bad, system_prompt=None, eval_fraction=0.5)
    assert any(":1: missing_content" in p for p in info.value.problems)
    assert _count(db) == 40


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_every_line_across_the_golden_divide_is_named_with_both_files_lines(
    db, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    train = (seeds / "train.jsonl").read_text(encoding="utf-8").splitlines()
    golden = (seeds / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    # Golden lines 2 and 5 repeat training lines 3 and 7.
    golden[1], golden[4] = train[2], train[6]
    _write_lines(seeds / "golden.jsonl", golden)
    train_report, golden_report = import_seeds(db, seeds, eval_fraction=0.2)
    assert train_report.ok and not golden_report.ok
    assert len(golden_report.problems) == 2
    for golden_line, train_line in ((2, 3), (5, 7)):
        assert any(
            p.startswith(f"{seeds / 'golden.jsonl'}:{golden_line}: golden_overlap: ")
            and f"({seeds / 'train.jsonl'}:{train_line})" in p
            for p in golden_report.problems
        ), golden_report.problems
    assert _count(db, Example.golden.is_(True)) == 0  # nothing from the refused file

    # The other way round: the golden set is stored, and training lines repeat two of it.
    _write_lines(seeds / "golden.jsonl", (SEEDS_DIR / "golden.jsonl").read_text().splitlines())
    assert all(r.ok for r in import_seeds(db, seeds, eval_fraction=0.2))
    clean = (SEEDS_DIR / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    _write_lines(seeds / "train.jsonl", [*train, clean[0], clean[9]])
    train_report, golden_report = import_seeds(db, seeds, eval_fraction=0.2)
    assert golden_report.ok and not train_report.ok
    assert [p.split(": golden_overlap: ")[0] for p in train_report.problems] == [
        f"{seeds / 'train.jsonl'}:{len(train) + 1}",
        f"{seeds / 'train.jsonl'}:{len(train) + 2}",
    ]
    assert "golden example" in train_report.problems[0]
    assert f"({seeds / 'golden.jsonl'}:1)" in train_report.problems[0]
    assert f"({seeds / 'golden.jsonl'}:10)" in train_report.problems[1]


def test_a_bulk_import_names_every_line_that_repeats_a_golden_example(db, tmp_path: Path) -> None:
    assert all(r.ok for r in import_seeds(db, SEEDS_DIR, eval_fraction=0.2))
    golden = (SEEDS_DIR / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    fresh = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "A question of our own?"},
                {"role": "assistant", "content": "An answer of our own."},
            ]
        }
    )
    bulk = tmp_path / "bulk.jsonl"
    _write_lines(bulk, [fresh, golden[3], golden[7]])
    prompt = (SEEDS_DIR / "system_prompt.md").read_text(encoding="utf-8").strip()
    before = _count(db)
    with pytest.raises(ValidationError, match="nothing imported") as info:
        import_chat_file(db, bulk, system_prompt=prompt, eval_fraction=0.2)
    assert [p.split(": ")[0] for p in info.value.problems] == [f"{bulk}:2", f"{bulk}:3"]
    assert all("golden_overlap" in p for p in info.value.problems)
    assert _count(db) == before


def test_a_golden_question_with_another_answer_is_named_from_either_side(
    db, tmp_path: Path
) -> None:
    """A training line that asks exactly what a golden item asks, whatever its answer, would
    train the model on its own exam: refused, from either file, with both lines named."""
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    train = (seeds / "train.jsonl").read_text(encoding="utf-8").splitlines()
    golden = (seeds / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    asked = json.loads(golden[2])
    asked["messages"][-1]["content"] = "A different answer to the golden question."
    [user] = [m for m in asked["messages"] if m["role"] == "user"]
    user["content"] = user["content"].upper()  # case is no disguise
    _write_lines(seeds / "train.jsonl", [*train, json.dumps(asked)])
    train_report, golden_report = import_seeds(db, seeds, eval_fraction=0.2)
    # Training is stored first: the golden file is the one refused, naming the training line.
    assert train_report.ok and not golden_report.ok
    [problem] = golden_report.problems
    assert problem.startswith(f"{seeds / 'golden.jsonl'}:3: golden_prompt_overlap: ")
    assert f"({seeds / 'train.jsonl'}:{len(train) + 1})" in problem
    assert _count(db, Example.golden.is_(True)) == 0


def test_a_bulk_import_that_asks_a_golden_question_is_refused(db, tmp_path: Path) -> None:
    assert all(r.ok for r in import_seeds(db, SEEDS_DIR, eval_fraction=0.2))
    golden = (SEEDS_DIR / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    asked = json.loads(golden[5])
    asked["messages"][-1]["content"] = "Another answer to a golden question."
    # The same question, as people retype it: other case, spacing and closing punctuation.
    [user] = [m for m in asked["messages"] if m["role"] == "user"]
    user["content"] = "  " + user["content"].lower().rstrip("?") + " ?? "
    bulk = tmp_path / "bulk.jsonl"
    _write_lines(bulk, [_chat_line("Something nobody asked?", "A new answer."), json.dumps(asked)])
    prompt = (SEEDS_DIR / "system_prompt.md").read_text(encoding="utf-8").strip()
    before = _count(db)
    with pytest.raises(ValidationError, match="nothing imported") as info:
        import_chat_file(db, bulk, system_prompt=prompt, eval_fraction=0.0)
    [problem] = info.value.problems
    assert problem.startswith(f"{bulk}:2: golden_prompt_overlap: asks what stored golden")
    assert _count(db) == before
    # Without that line, the file is imported.
    _write_lines(bulk, [_chat_line("Something nobody asked?", "A new answer.")])
    assert import_chat_file(db, bulk, system_prompt=prompt, eval_fraction=0.0).added == 1


def _chat_line(question: str, answer: str) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
        }
    )


def test_a_byte_order_mark_is_no_part_of_the_first_line_or_the_system_prompt(
    db, tmp_path: Path
) -> None:
    bulk = tmp_path / "excel.jsonl"
    text = _chat_line("Q one?", "A one.") + "\n" + _chat_line("Q two?", "A two.") + "\n"
    bulk.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert import_chat_file(db, bulk, system_prompt=None, eval_fraction=0).added == 2
    with db.read_session() as s:
        first = s.scalars(select(Example).order_by(Example.id).limit(1)).one()
    assert first.messages == [{"role": "user", "content": "Q one?"}]

    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    prompt = (seeds / "system_prompt.md").read_bytes()
    (seeds / "system_prompt.md").write_bytes(b"\xef\xbb\xbf" + prompt)
    train, golden = import_seeds(db, seeds, eval_fraction=0.2)
    assert train.ok and golden.ok
    with db.read_session() as s:
        seed = s.scalars(select(Example).where(Example.source == ExampleSource.SEED).limit(1))
        assert seed.one().messages[0]["content"] == prompt.decode("utf-8").strip()


def test_prompt_completion_lines_get_one_problem_with_the_format_and_a_conversion(
    db, tmp_path: Path
) -> None:
    old = tmp_path / "old.jsonl"
    lines = [_chat_line("Fine?", "Fine.")] + [
        json.dumps({"prompt": f"Question {n}\n\n###\n\n", "completion": f" Answer {n} END"})
        for n in range(8)
    ]
    _write_lines(old, lines)
    with pytest.raises(ValidationError, match="nothing imported") as info:
        import_chat_file(db, old, system_prompt=None, eval_fraction=0)
    [problem] = info.value.problems
    assert problem.startswith(f"{old}:2: legacy_prompt_completion: 8 lines (lines 2, 3, 4, 5, 6, ")
    assert '{"messages": [{"role": "user"' in problem and "jq -c" in problem
    assert _count(db) == 0

    _write_lines(old, [json.dumps({"prompt": "Q", "completion": "A"})])
    with pytest.raises(ValidationError) as info:
        import_chat_file(db, old, system_prompt=None, eval_fraction=0)
    assert info.value.problems[0].startswith(f"{old}:1: legacy_prompt_completion: this line ")


def _problems(path: Path, **kw) -> list[str]:
    with pytest.raises(ValidationError, match=f"^(cannot read |){path}") as info:
        parse_chat_file(path, source=ExampleSource.IMPORT, system_prompt=None, **kw)
    return info.value.problems


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        (
            json.dumps([json.loads(_chat_line(f"Q{n}?", f"A{n}.")) for n in range(3)], indent=2),
            "this looks like a JSON array, not JSONL",
        ),
        (
            json.dumps([json.loads(_chat_line(f"Q{n}?", f"A{n}.")) for n in range(3)]),
            "this looks like a JSON array, not JSONL",
        ),
        (
            "\n".join(json.dumps(json.loads(_chat_line("Q?", "A.")), indent=2) for _ in range(2)),
            "this looks like pretty-printed JSON (an object over several lines), not JSONL",
        ),
    ],
)
def test_json_that_is_not_jsonl_gets_one_problem_with_a_conversion(
    tmp_path: Path, text: str, shape: str
) -> None:
    path = tmp_path / "examples.jsonl"
    path.write_text("\n" + text + "\n")
    assert _problems(path) == [
        f"{path}:2: not_jsonl: {shape}: one JSON object per line. Convert it, for instance "
        "with `jq -c '.[]' examples.jsonl > fixed.jsonl` (an array) or "
        "`jq -c . examples.jsonl > fixed.jsonl` (pretty-printed objects)"
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_file_is_named_as_such(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "notepad.jsonl"
    data = _chat_line("Q?", "A.").encode(encoding)
    path.write_bytes(data if encoding == "utf-16" else b"\xfe\xff" + data)
    [problem] = _problems(path)
    assert problem.startswith(f'{path}: not_utf8: saved as UTF-16 (Notepad\'s "Unicode"); save')
    assert "iconv -f UTF-16 -t UTF-8 notepad.jsonl" in problem
    path.write_bytes(b'{"a": "\xe9"}\n')  # Latin-1: the byte is still named
    assert _problems(path) == [f"{path}: not UTF-8 text (byte 7: invalid continuation byte)"]


def test_problems_are_listed_in_line_order(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    legacy = json.dumps({"prompt": "Q", "completion": "A"})
    _write_lines(path, [_chat_line("Q?", "A."), legacy, "{not json", '{"messages": []}', legacy])
    assert [p.split(": ", 1)[0] for p in _problems(path)] == [
        f"{path}:2",
        f"{path}:3",
        f"{path}:4",
    ]


def test_personal_data_in_a_golden_reply_is_not_called_trained(tmp_path: Path) -> None:
    path = tmp_path / "golden.jsonl"
    _write_lines(path, [_chat_line("Who is on call?", "Ring Sam on sam.jones@gmail.com.")])
    checks = ImportChecks(personal_data=PersonalDataPolicy())
    [problem] = _problems(path, checks=checks, golden=True)
    assert "'sam.jones@gmail.com' in a golden reply (the expected answer" in problem
    assert "trained" not in problem
    [problem] = _problems(path, checks=checks)
    assert "in a trained reply" in problem


def test_a_secret_in_a_thread_id_is_not_stored_and_still_groups_the_thread(
    db, tmp_path: Path
) -> None:
    from tests.secret_cases import stored_text

    thread = "deploy token glpat-AbCdEfGhIjKlMnOpQrSt"
    lines = [
        json.dumps(
            {**json.loads(_chat_line(f"Question {n}?", f"Answer {n}.")), "thread_id": thread}
        )
        for n in range(2)
    ]
    path = tmp_path / "threads.jsonl"
    _write_lines(path, lines)
    report = import_chat_file(db, path, system_prompt=None, eval_fraction=0.5)
    assert report.added == 2
    assert "glpat-AbCdEfGhIjKlMnOpQrSt" not in stored_text(db)
    with db.read_session() as session:
        keys = set(session.scalars(select(Example.thread_key)))
    assert len(keys) == 1 and next(iter(keys)).startswith("import:sha256:")
