"""Export: validated, deterministic, streamed, recorded; invalid input never reaches a file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from curation.chat_format import check_dpo_line, check_sft_line
from curation.errors import ValidationError
from curation.examples import NewExample, insert_example
from curation.export import ExportOptions, Method, export_dataset, writer
from curation.export.writer import _Export
from curation.importing import import_chat_file
from curation.model_specs import DEFAULT_MODEL_SPECS, ModelSpec, ModelTable, UnknownModelError
from curation.models import DatasetItem, DatasetVersion, Example, ExampleSource, Split
from curation.scrub import has_secret
from tests.conftest import SYSTEM

MODELS = ModelTable(DEFAULT_MODEL_SPECS)
MODEL = "gpt-4.1-mini-2025-04-14"


def _add(db, n: int, *, rejected: bool = False, split: Split = Split.TRAIN, prefix: str = "q"):
    with db.session() as s:
        for i in range(n):
            insert_example(
                s,
                NewExample(
                    messages=[
                        SYSTEM,
                        {"role": "user", "content": f"{prefix} {i}: where is my payslip?"},
                    ],
                    target=f"In Bob, under Payroll ({i}).",
                    rejected=f"No idea ({i})." if rejected else None,
                    source=ExampleSource.CORRECTION,
                    thread_key=f"{prefix}{i}",
                    split=split,
                ),
                approved_by="U",
                eval_fraction=0.2,
            )


def _one(session, question: str, target: str, **kw) -> None:
    """Store one example asking `question` with `target` as the reply."""
    values = dict(source=ExampleSource.IMPORT, thread_key=question, split=Split.TRAIN)
    values.update(kw)
    new = NewExample(
        messages=[SYSTEM, {"role": "user", "content": question}], target=target, **values
    )
    insert_example(session, new, approved_by="U", eval_fraction=0)


def _export(db, out: Path, **kw):
    return export_dataset(
        db, MODELS, ExportOptions(out_dir=out, model=kw.pop("model", MODEL), **kw)
    )


def _lines(path: Path) -> list[dict]:
    # JSONL lines end at "\n" only (str.splitlines would also split at U+0085 and U+2028).
    return [json.loads(line) for line in path.read_text().split("\n") if line]


def test_sft_export_writes_files_manifest_and_records_the_version(db, tmp_path: Path) -> None:
    _add(db, 12)
    _add(db, 3, split=Split.EVAL, prefix="e")
    result = _export(db, tmp_path / "v1", epochs=2)
    train, evaluation = _lines(tmp_path / "v1/train.jsonl"), _lines(tmp_path / "v1/eval.jsonl")
    assert (len(train), len(evaluation)) == (12, 3)
    assert train[0]["messages"][-1] == {
        "role": "assistant",
        "content": "In Bob, under Payroll (0).",
    }
    manifest = json.loads((tmp_path / "v1/manifest.json").read_text())
    for name in ("train.jsonl", "eval.jsonl"):
        digest = hashlib.sha256((tmp_path / "v1" / name).read_bytes()).hexdigest()
        assert manifest["sha256"][name] == digest == result.files[name]
    assert manifest["counts"] == {"train": 12, "eval": 3}
    assert len(manifest["examples"]) == 15 and all(
        len(e["content_hash"]) == 64 for e in manifest["examples"]
    )
    assert manifest["estimate"]["training_tokens"] == manifest["tokens"]["train"]["total"] * 2
    assert manifest["estimate"]["cost_usd"] == pytest.approx(
        manifest["estimate"]["training_tokens"] / 1e6 * 5.0, abs=1e-4
    )
    with db.read_session() as s:
        version = s.get(DatasetVersion, result.dataset_version_id)
        items = s.scalar(select(func.count()).select_from(DatasetItem))
    assert (version.train_count, version.eval_count, items) == (12, 3, 15)
    assert (
        version.manifest_sha256
        == hashlib.sha256((tmp_path / "v1/manifest.json").read_bytes()).hexdigest()
    )
    assert not [p for p in (tmp_path / "v1").iterdir() if p.name.startswith(".")]


def test_the_same_data_gives_byte_identical_files(db, tmp_path: Path) -> None:
    _add(db, 15)
    _export(db, tmp_path / "a")
    _export(db, tmp_path / "b")
    for name in ("train.jsonl", "eval.jsonl", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_fewer_than_ten_training_examples_are_refused(db, tmp_path: Path) -> None:
    _add(db, 9)
    with pytest.raises(ValidationError, match="at least 10"):
        _export(db, tmp_path / "v")
    assert not (tmp_path / "v" / "train.jsonl").exists()
    with db.read_session() as s:
        assert s.scalar(select(func.count(DatasetVersion.id))) == 0


def test_a_refused_export_leaves_no_folder_it_created_and_keeps_those_it_found(
    db, tmp_path: Path
) -> None:
    _add(db, 9)
    out = tmp_path / "out"  # (tmp_path holds the SQLite store)
    out.mkdir()
    with pytest.raises(ValidationError, match="at least 10"):
        _export(db, out / "new" / "nested" / "v")
    assert list(out.iterdir()) == []
    kept = out / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(ValidationError, match="at least 10"):
        _export(db, kept)
    with pytest.raises(ValidationError, match="at least 10"):
        _export(db, kept / "v")
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]
    # Refused after the data files were written (every example over the token limit).
    tiny = ModelTable({"tiny": ModelSpec(max_example_tokens=30, training_price_per_million=1)})
    _add(db, 3, prefix="more")
    with pytest.raises(ValidationError, match="left out"):
        export_dataset(db, tiny, ExportOptions(out_dir=out / "late", model="tiny"))
    assert not (out / "late").exists()


def test_golden_retired_and_superseded_examples_are_not_exported(db, tmp_path: Path) -> None:
    _add(db, 11)
    with db.session() as s:
        _one(s, "golden q", "golden a", source=ExampleSource.SEED, golden=True, split=Split.EVAL)
        # A later correction of the same prompt supersedes example 0's answer.
        _one(
            s,
            "q 0: where is my payslip?",
            "Bob > Payroll > Payslips.",
            source=ExampleSource.CORRECTION,
            thread_key="q0",
        )
        retired = s.scalars(select(Example).where(Example.thread_key == "q1")).one()
        retired.retired_at = retired.created_at
    _export(db, tmp_path / "v")
    text = (tmp_path / "v/train.jsonl").read_text() + (tmp_path / "v/eval.jsonl").read_text()
    assert "golden a" not in text and "Payroll (1)" not in text and "Payroll (0)" not in text
    assert "Bob > Payroll > Payslips." in text


def _recorded_and_listed(db, result, out: Path) -> tuple[set, set]:
    """(example id, split) of the version's dataset items, and of its manifest's list."""
    with db.read_session() as s:
        rows = s.execute(
            select(DatasetItem.example_id, DatasetItem.split).where(
                DatasetItem.dataset_version_id == result.dataset_version_id
            )
        )
        recorded = {tuple(row) for row in rows}
    manifest = json.loads((out / "manifest.json").read_text())
    return recorded, {(e["id"], e["split"]) for e in manifest["examples"]}


def test_the_version_records_exactly_the_examples_written(
    db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "_RECORD_BATCH", 4)  # full batches and a part-filled one
    _add(db, 12)
    _add(db, 3, split=Split.EVAL, prefix="e")
    with db.session() as s:
        _one(s, "golden q", "golden a", source=ExampleSource.SEED, golden=True, split=Split.EVAL)
        _one(s, "q 0: where is my payslip?", "Bob > Payroll.", thread_key="q0")
        retired = s.scalars(select(Example).where(Example.thread_key == "e1")).one()
        retired.retired_at = retired.created_at
    result = _export(db, tmp_path / "v")
    recorded, listed = _recorded_and_listed(db, result, tmp_path / "v")
    assert recorded == listed and len(recorded) == 14


def test_the_record_matches_the_files_when_changes_commit_during_an_export(
    db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction retires, supersedes and adds examples between the two splits: the
    version still records exactly the examples its files hold."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("an export on SQLite holds the write lock: nothing can commit meanwhile")
    _add(db, 12)
    _add(db, 3, split=Split.EVAL, prefix="e")
    write_split = _Export.write_split

    def write_split_then_change(self, split, *args) -> None:
        write_split(self, split, *args)
        if split is Split.TRAIN:
            with db.session() as s:  # committed before the export ends
                retired = s.scalars(select(Example).where(Example.thread_key == "q1")).one()
                retired.retired_at = retired.created_at
                _one(s, "q 0: where is my payslip?", "Bob > Payroll.", thread_key="q0")
                _one(s, "a new question", "A new answer.", split=Split.EVAL)

    monkeypatch.setattr(_Export, "write_split", write_split_then_change)
    result = _export(db, tmp_path / "v")
    recorded, listed = _recorded_and_listed(db, result, tmp_path / "v")
    assert recorded == listed and len(recorded) == result.train_count + result.eval_count


def test_dpo_export_uses_corrected_exchanges_only(db, tmp_path: Path) -> None:
    _add(db, 10, rejected=True)
    _add(db, 5, prefix="upvoted")
    result = _export(db, tmp_path / "dpo", method=Method.DPO)
    lines = _lines(tmp_path / "dpo/train.jsonl")
    assert result.train_count == 10 and all(not check_dpo_line(line) for line in lines)
    assert lines[0]["non_preferred_output"] == [{"role": "assistant", "content": "No idea (0)."}]
    assert lines[0]["input"]["messages"][-1]["role"] == "user"


def test_examples_over_the_token_limit_are_left_out_and_counted(db, tmp_path: Path) -> None:
    """A model whose limit is lower than some examples (a later change of model): those are
    left out with a count in the manifest, and the others are exported."""
    _add(db, 12)
    with db.session() as s:
        _one(s, "long " * 40 + "question?", "A long answer.", thread_key="long")
    small = ModelTable(
        {"small-model": ModelSpec(max_example_tokens=60, training_price_per_million=1)}
    )
    result = export_dataset(db, small, ExportOptions(out_dir=tmp_path / "v", model="small-model"))
    assert result.train_count == 12 and result.left_out == {"too_many_tokens": 1}
    manifest = json.loads((tmp_path / "v/manifest.json").read_text())
    assert manifest["left_out"]["by_rule"] == {"too_many_tokens": 1}
    (reason,) = [e["reason"] for e in manifest["left_out"]["first"]]
    assert "over the limit of 60 for small-model" in reason


def test_too_few_examples_within_the_limit_are_refused_with_the_reasons(db, tmp_path: Path) -> None:
    _add(db, 12)
    tiny = ModelTable(
        {"tiny-model": ModelSpec(max_example_tokens=30, training_price_per_million=1)}
    )
    with pytest.raises(ValidationError, match="12 left out") as info:
        export_dataset(db, tiny, ExportOptions(out_dir=tmp_path / "v", model="tiny-model"))
    assert "too_many_tokens" in info.value.problems[0] and "tiny-model" in info.value.problems[0]
    with pytest.raises(UnknownModelError, match="TUNELOOP_MODEL_SPECS"):
        _export(db, tmp_path / "v", model="gpt-9")


def test_a_line_that_still_holds_a_secret_is_left_out(db, tmp_path: Path) -> None:
    _add(db, 12)
    with db.session() as s:  # bypass the scrubbing doors, as a bad migration or script might
        row = s.scalars(select(Example).limit(1)).one()
        row.target = "use token xoxb-1234567890-abcdefghijkl"
    result = _export(db, tmp_path / "v")
    assert result.train_count == 11 and result.left_out == {"contains_secret": 1}
    assert "xoxb-" not in (tmp_path / "v" / "train.jsonl").read_text()
    manifest = json.loads((tmp_path / "v/manifest.json").read_text())
    assert "contains_secret: slack_token" in manifest["left_out"]["first"][0]["reason"]


def test_pii_is_redacted_in_prompts_unless_configured(db, tmp_path: Path) -> None:
    _add(db, 11)
    with db.session() as s:
        _one(s, "I am ana.silva@fernhill.example, who runs payroll?", "Rita.", thread_key="pii")
    _export(db, tmp_path / "redacted")
    _export(db, tmp_path / "kept", redact_pii=False)
    assert "I am [EMAIL], who" in (tmp_path / "redacted/train.jsonl").read_text()
    assert "ana.silva@fernhill.example" in (tmp_path / "kept/train.jsonl").read_text()


# NUL is left out: PostgreSQL cannot store it, and the doors into the store drop it.
_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=0,
    max_size=60,
)
_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant", "robot", ""]),
        "content": st.one_of(_text, st.none(), st.integers()),
    }
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(_message, min_size=0, max_size=4),
            _text,
            st.sampled_from(["", " sk-" + "A1b2C3d4" * 4, " nothing"]),
        ),
        min_size=8,
        max_size=16,
    )
)
def test_invalid_input_never_reaches_a_file(db, tmp_path_factory, rows) -> None:
    """Rows written straight into the table (past every door): the export writes the valid
    ones and leaves the others out, or refuses and writes nothing."""
    with db.session() as s:
        s.execute(delete(DatasetItem))
        s.execute(delete(DatasetVersion))
        s.execute(delete(Example))
        for n, (messages, target, suffix) in enumerate(rows):
            s.add(
                Example(
                    messages=messages,
                    target=target + suffix,
                    source=ExampleSource.IMPORT,
                    split=Split.TRAIN,
                    thread_key=str(n),
                    content_hash=f"{n:064d}",
                    prompt_hash=f"{n:064d}",
                    approved_by="U",
                )
            )
    out = tmp_path_factory.mktemp("prop")
    try:
        _export(db, out)
    except ValidationError:
        assert not any(out.iterdir())
        return
    for line in _lines(out / "train.jsonl"):
        assert not check_sft_line(line)
        assert not has_secret(json.dumps(line))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=80).filter(str.strip),
            st.text(min_size=1, max_size=80).filter(str.strip),
        ),
        min_size=10,
        max_size=20,
        unique_by=lambda qa: qa[0].strip(),
    )
)
def test_every_exported_line_passes_the_validator(db, tmp_path_factory, pairs) -> None:
    """Whatever the store accepted exports as lines that pass OpenAI's checks."""
    with db.session() as s:
        s.execute(delete(DatasetItem))
        s.execute(delete(DatasetVersion))
        s.execute(delete(Example))
        accepted = 0
        for n, (question, answer) in enumerate(pairs):
            new = NewExample(
                messages=[{"role": "user", "content": f"{n} {question}"}],
                target=answer,
                source=ExampleSource.IMPORT,
                thread_key=str(n),
                split=Split.TRAIN,
            )
            try:
                insert_example(s, new, approved_by="U", eval_fraction=0)
            except ValidationError:
                continue  # the door refused it (say, a reply of only NUL characters)
            accepted += 1
    assume(accepted >= 10)
    out = tmp_path_factory.mktemp("valid")
    result = _export(db, out)
    lines = _lines(out / "train.jsonl")
    assert len(lines) == result.train_count
    assert all(not check_sft_line(line) for line in lines)


def test_a_preference_pair_equal_as_written_is_left_out_with_its_reason(db, tmp_path: Path) -> None:
    _add(db, 10, rejected=True)
    with db.session() as s:  # past the door, as an older version of the rules let it in
        s.add(
            Example(
                messages=[SYSTEM, {"role": "user", "content": "Where is the canteen?"}],
                target="Floor 2.",
                rejected="  Floor 2.\n",
                source=ExampleSource.CORRECTION,
                split=Split.TRAIN,
                thread_key="same",
                content_hash="1" * 64,
                prompt_hash="1" * 64,
                approved_by="U",
            )
        )
    result = _export(db, tmp_path / "dpo", method=Method.DPO)
    assert result.train_count == 10 and result.left_out == {"identical_outputs": 1}
    assert "Floor 2." not in (tmp_path / "dpo/train.jsonl").read_text()


def test_a_correction_equal_to_the_reply_once_secrets_are_redacted_is_refused(store) -> None:
    from tests.conftest import REVIEWERS, ask

    exchange = ask(store, "What is the bot token?", "It is xoxb-1111111111-abcdefghijkl.")
    _, item, _ = store.capture.add_correction(
        exchange, "UFIXER", "It is xoxb-2222222222-mnopqrstuvwx."
    )
    with pytest.raises(ValidationError, match="identical_outputs"):
        store.review.approve(item.id, REVIEWERS[0])


def test_indentation_only_correction_is_imported_and_supersedes(db, tmp_path: Path) -> None:
    question = "What should my .vpn.yaml look like for the Leeds gateway?"
    broken = "Use this:\n```yaml\ngateway:\nhost: vpn-leeds.fernhill.example\nport: 443\n```"
    fixed = broken.replace("\nhost", "\n  host").replace("\nport", "\n  port")
    reports = []
    for name, answer in (("a.jsonl", broken), ("b.jsonl", fixed)):
        path = tmp_path / name
        path.write_text(
            json.dumps(
                {
                    "thread_id": "t1",
                    "messages": [
                        {"role": "user", "content": question},
                        {"role": "assistant", "content": answer},
                    ],
                }
            )
        )
        reports.append(import_chat_file(db, path, system_prompt=None, eval_fraction=0))
    assert [(r.added, r.already_present) for r in reports] == [(1, 0), (1, 0)]
    _add(db, 10)
    _export(db, tmp_path / "v")
    text = (tmp_path / "v/train.jsonl").read_text()
    assert json.dumps(fixed)[1:-1] in text and json.dumps(broken)[1:-1] not in text


def test_the_count_is_checked_before_the_folder(db, tmp_path: Path) -> None:
    _add(db, 9)
    afile = tmp_path / "afile"
    afile.write_text("mine")
    with pytest.raises(ValidationError, match="at least 10"):
        _export(db, afile)
    assert afile.read_text() == "mine"


@pytest.mark.parametrize(
    ("out", "problem"),
    [
        ("afile", "afile: it is a file, not a folder"),
        ("afile/sub", "afile/sub: {tmp}/afile is a file, not a folder"),
        ("afile/sub/deeper", "afile/sub/deeper: {tmp}/afile is a file, not a folder"),
    ],
)
def test_a_file_in_the_way_of_the_folder_is_named(
    db, tmp_path: Path, out: str, problem: str
) -> None:
    _add(db, 12)
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(ValidationError) as refused:
        _export(db, tmp_path / out)
    assert str(refused.value) == f"cannot export to {tmp_path}/" + problem.format(tmp=tmp_path)
    assert (tmp_path / "afile").read_text() == "mine"
    with db.read_session() as s:
        assert s.scalar(select(func.count(DatasetVersion.id))) == 0


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_cannot_be_made_is_named(db, tmp_path: Path) -> None:
    _add(db, 12)
    # /proc takes no new folders, whoever asks (root included, where permissions do not bind).
    with pytest.raises(
        ValidationError, match=r"^cannot export to /proc/tuneloop-x/v: cannot create"
    ):
        _export(db, Path("/proc/tuneloop-x/v"))


def test_a_folder_with_an_earlier_export_is_refused_unless_replaced(db, tmp_path: Path) -> None:
    _add(db, 12)
    first = _export(db, tmp_path / "v1")
    before = {n: (tmp_path / "v1" / n).read_bytes() for n in writer.EXPORT_FILES}
    _add(db, 2, prefix="later")
    with pytest.raises(ValidationError, match="v1: it holds an earlier export"):
        _export(db, tmp_path / "v1")
    assert {n: (tmp_path / "v1" / n).read_bytes() for n in writer.EXPORT_FILES} == before
    second = _export(db, tmp_path / "v1", replace=True)
    assert second.dataset_version_id != first.dataset_version_id and second.train_count == 14
