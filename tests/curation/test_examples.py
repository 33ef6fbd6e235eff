"""Examples: de-duplication by normalised content, the thread-grouped split, golden is eval."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError

from curation.errors import ValidationError
from curation.examples import NewExample, insert_example
from curation.fingerprints import content_hash, split_for
from curation.models import Example, ExampleSource, Split
from tests.conftest import SYSTEM


def _new(question: str = "How do I get a laptop?", target: str = "Ask in Self Service.", **kw):
    values = dict(
        messages=[SYSTEM, {"role": "user", "content": question}],
        target=target,
        source=ExampleSource.IMPORT,
        thread_key=f"t:{question}",
    )
    values.update(kw)
    return NewExample(**values)


def test_exact_duplicates_are_refused_after_normalisation(db) -> None:
    """Trimmed ends, Windows line ends and composed accents are the same text."""
    with db.session() as s:
        first, created = insert_example(
            s, _new(target="Ask in Self Service,\ncaf\u00e9."), approved_by="U", eval_fraction=0.2
        )
        same, created_again = insert_example(
            s,
            _new("  How do I get a laptop?\n", "Ask in Self Service,\r\ncafe\u0301. "),
            approved_by="U",
            eval_fraction=0.2,
        )
    assert created and not created_again and same.id == first.id


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("gateway:\nhost: vpn\nport: 443", "gateway:\n  host: vpn\n  port: 443"),
        ("```py\nif x:\nreturn 1\n```", "```py\nif x:\n    return 1\n```"),
        ("Run `make  all`", "Run `make all`"),
        ("a\tb", "a    b"),
        # The first line's indentation against the next lines' is content too.
        ("    return x\n  y = 1", "return x\n  y = 1"),
        ("  host: vpn\nport: 443", "host: vpn\nport: 443"),
        ("\tif x:\n        return x", "if x:\n        return x"),
    ],
)
def test_a_correction_that_only_changes_whitespace_is_a_new_answer(
    db, before: str, after: str
) -> None:
    """Whitespace is content: the indentation of YAML or Python, the spaces in code."""
    with db.session() as s:
        first, _ = insert_example(s, _new(target=before), approved_by="U", eval_fraction=0.2)
        fixed, created = insert_example(s, _new(target=after), approved_by="U", eval_fraction=0.2)
    assert created and fixed.id != first.id and fixed.prompt_hash == first.prompt_hash


def test_blank_lines_around_a_text_and_a_single_lines_indentation_are_not_content(db) -> None:
    with db.session() as s:
        first, _ = insert_example(s, _new(target="Use Okta."), approved_by="U", eval_fraction=0.2)
        for same in ("  Use Okta.  ", "\n\nUse Okta.\n\n", "Use Okta.\r\n"):
            again, created = insert_example(
                s, _new(target=same), approved_by="U", eval_fraction=0.2
            )
            assert not created and again.id == first.id, same


def test_invalid_examples_are_refused_with_where_and_why(db) -> None:
    with db.session() as s, pytest.raises(ValidationError) as info:
        insert_example(s, _new(target="  "), approved_by="U", eval_fraction=0.2)
    assert "missing_content at target" in str(info.value)
    bad = _new(messages=[SYSTEM, {"role": "robot", "content": "hi"}])
    with db.session() as s, pytest.raises(ValidationError, match="unrecognized_role"):
        insert_example(s, bad, approved_by="U", eval_fraction=0.2)


def test_every_example_of_one_thread_lands_on_the_same_side(db) -> None:
    with db.session() as s:
        sides = {
            insert_example(
                s, _new(f"q{n}", thread_key="T1:C1:123.4"), approved_by="U", eval_fraction=0.5
            )[0].split
            for n in range(20)
        }
    assert len(sides) == 1


def test_the_split_is_deterministic_and_near_the_fraction() -> None:
    sides = [split_for(f"T:C:{n}", 0.2) for n in range(5000)]
    assert sides == [split_for(f"T:C:{n}", 0.2) for n in range(5000)]
    assert 0.17 < sides.count(Split.EVAL) / len(sides) < 0.23


def test_golden_is_eval_forever(db) -> None:
    with db.session() as s:
        golden, _ = insert_example(s, _new(golden=True), approved_by="U", eval_fraction=0.0)
    assert golden.split is Split.EVAL
    with db.session() as s, pytest.raises(ValidationError, match="golden_is_eval"):
        insert_example(
            s, _new("other", golden=True, split=Split.TRAIN), approved_by="U", eval_fraction=0.0
        )
    # The database itself refuses, whatever code tries.
    with pytest.raises(IntegrityError), db.session() as s:
        row = s.get(Example, golden.id)
        row.split = Split.TRAIN


@given(st.text(min_size=1), st.text(min_size=1))
def test_content_hash_ignores_blank_lines_around_a_text_and_whitespace_after_it(
    question: str, target: str
) -> None:
    messages = [{"role": "user", "content": question}]
    spaced = [{"role": "user", "content": f"\n \n{question}  \n"}]
    assert content_hash(messages, target) == content_hash(spaced, f"\n{target}\t")


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), min_size=1))
def test_content_hash_ignores_the_indentation_of_a_one_line_text(line: str) -> None:
    """A one-line text's indentation is against nothing; a longer text's first line's is
    content (`test_a_correction_that_only_changes_whitespace_is_a_new_answer`)."""
    messages = [{"role": "user", "content": "Q?"}]
    assert content_hash(messages, line) == content_hash(messages, f"   {line}")
