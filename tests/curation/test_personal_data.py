"""Personal data: what is found (phones by libphonenumber: dates, IP addresses and version
numbers are not phones), what a team keeps (the allow list), and the markers in prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.errors import ValidationError
from curation.export import ExportOptions, export_dataset
from curation.export.lines import Method
from curation.importing import ImportChecks, import_chat_file
from curation.model_specs import DEFAULT_MODEL_SPECS, ModelTable
from curation.personal_data import MARKERS, PersonalDataPolicy
from curation.review import PersonalDataError
from curation.store import Store
from tests.conftest import REVIEWERS, ask

POLICY = PersonalDataPolicy()


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("mail me at jane.doe@fernhill.example", "mail me at [EMAIL]"),
        ("call +44 20 7946 0958", "call [PHONE]"),
        ("call (415) 555-2671", "call [PHONE]"),
        ("SSN 123-45-6789", "SSN [SSN]"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "IBAN [IBAN]"),
        ("server 203.0.113.77", "server [IP_ADDRESS]"),
        ("I live at 221B Baker Street, London NW1 6XE", "I live at [ADDRESS], London [POSTCODE]"),
        ("card 4111 1111 1111 1111 please", "card [CARD] please"),
        ("v6 2001:db8::8a2e:370:7334 here", "v6 [IP_ADDRESS] here"),
        ("Moro na Rua Augusta, 100 em Lisboa", "Moro na [ADDRESS] em Lisboa"),
        ("Ring Zoë on +44 113 496 0000.", "Ring Zoë on [PHONE]."),
        ("رقم الهاتف ٠١١٣٤٩٦٠٠٠٠", "رقم الهاتف [PHONE]"),
        ("SSN 123 45 6789", "SSN [SSN]"),
        ("my social security number is 078051120.", "my social security number is [SSN]."),
        ("ss# 219.09.9999 on file", "ss# [SSN] on file"),
        ("address: 1 Infinite Loop, Cupertino", "address: [ADDRESS], Cupertino"),
        ("HQ is 2 Circle Plaza, Omaha", "HQ is [ADDRESS], Omaha"),
        # SSNs in any spacing and punctuation where called one
        ("SSN is: 123456789", "SSN is: [SSN]"),
        ("SSN - 123 45 6789", "SSN - [SSN]"),
        ("my SSN, 123456789", "my SSN, [SSN]"),
        ("ssn=123.45.6789", "ssn=[SSN]"),
        ("Social Security No. (123-45 6789)", "Social Security No. ([SSN])"),
        # the whole address, whatever letters it is written in
        ("josé.silva@exemplo.pt", "[EMAIL]"),
        ("escreva a joão.çá@exemplo.pt hoje", "escreva a [EMAIL] hoje"),
        ("mail 'zoë+it@münchen.example'.", "mail '[EMAIL]'."),
        # lower case: IBANs, postcodes, street words
        ("iban gb82 west 1234 5698 7654 32", "iban [IBAN]"),
        ("IBAN gb82west12345698765432, thanks", "IBAN [IBAN], thanks"),
        ("IBAN DE89 3704 0044 0532 0130 00 with Anna", "IBAN [IBAN] with Anna"),
        ("london nw1 6xe", "london [POSTCODE]"),
        ("post it to sw1a 1aa", "post it to [POSTCODE]"),
        ("I live at 42 elm st, springfield", "I live at [ADDRESS], springfield"),
        ("ship to 7 old kent road please", "ship to [ADDRESS] please"),
        ("42 Elm st.", "[ADDRESS]"),
        ("12B Station ROAD", "[ADDRESS]"),
        # an address, not a version, where no version word comes before it
        ("DNS 1.0.0.1 and server 203.0.113.77", "DNS [IP_ADDRESS] and server [IP_ADDRESS]"),
        (
            "after the upgrade, log in from 198.51.100.4",
            "after the upgrade, log in from [IP_ADDRESS]",
        ),
        ("the edge router is 203.0.113.5", "the edge router is [IP_ADDRESS]"),
    ],
)
def test_each_kind_of_personal_data_is_found(text: str, redacted: str) -> None:
    assert POLICY.redact(text) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "Submit between 2026-11-30 2026-12-04 in Pleo.",
        "Use 10.120.200.53 and 10.120.200.54.",  # private: the office's own servers
        "Update to 10.0.19045.3803, or 1.2.3.4567 on the old laptops.",
        "Ticket 4512, case 123456789, order 2026-11-30T10:00, 14:30:00.",
        "It costs £1,234,567.89 a year; the limit is 16,385 tokens.",
        "Reset your password at login.fernhill.example; it needs 14 characters.",
        "ISBN 978-3-16-148410-0, room 3.14, build 20261130.1",
        "Loopback 127.0.0.1, link-local 169.254.1.1, ::1 and fe80::1.",
        "Case 123 45 6789 and order 123456789 are closed.",  # nine digits, not called an SSN
        "The SSN field takes 9 digits; 000-00-0000 is refused.",
        # dotted quads after version words are versions
        "Run version 1.0.0.1 first.",
        "Please upgrade to 4.2.1.3 today.",
        "Updated to 8.8.4.4, then rebooted.",
        "Firmware v1.0.0.1, build 2.0.0.5, release: 3.1.1.1, Android 5.1.1.9, iOS 17.1.2.1.",
        "Chrome 1.2.3.4 and Version is 9.9.9.9; the beta is 203.0.113.7-rc1.",
        # lower case text of the shapes of addresses, postcodes and IBANs
        "it's a 2 minute walk, a 2 way street, 3 times down the road",
        "take 2 lefts on the main road and 4 lane highways",
        "the Windows 11 Pro drive letter",
        "x86 4gb and arm64 2gb builds",
        "py39 with some more words here",
        "ab12 cdef ghij klmn opqr",
    ],
)
def test_dates_ips_versions_and_numbers_are_not_personal_data(text: str) -> None:
    assert POLICY.find(text) == []


def test_the_allow_list_keeps_a_teams_public_contacts_in_any_format() -> None:
    team = PersonalDataPolicy(
        allow_list=("it-help@fernhill.example", "+44 113 496 0018", "203.0.113.10")
    )
    text = (
        "Write to IT-Help@Fernhill.example, call 0113 496 0018 or +441134960018, "
        "VPN 203.0.113.10; not jane.doe@fernhill.example, 203.0.113.77 or 0113 496 0019."
    )
    assert team.redact(text) == (
        "Write to IT-Help@Fernhill.example, call 0113 496 0018 or +441134960018, "
        "VPN 203.0.113.10; not [EMAIL], [IP_ADDRESS] or [PHONE]."
    )
    assert team.describe([text]) == [
        "email 'jane.doe@fernhill.example'",
        "ip_address '203.0.113.77'",
        "phone '0113 496 0019'",
    ]


def test_phone_regions_decide_how_national_numbers_read() -> None:
    assert PersonalDataPolicy(phone_regions=("GB",)).find("call (415) 555-2671") == []
    assert PersonalDataPolicy(phone_regions=("US",)).find("call 020 7946 0958") == []
    # An international number is read whatever the regions.
    assert PersonalDataPolicy(phone_regions=("US",)).find("call +44 20 7946 0958") != []


# --- the policy at the doors and in the export ------------------------------------------------

TEAM = PersonalDataPolicy(allow_list=("it-help@fernhill.example", "+44 113 496 0018"))
ANSWERS = [
    ("Who do I email for a new laptop?", "Email it-help@fernhill.example with your manager."),
    ("What's the service desk phone number?", "Call +44 113 496 0018, weekdays 8-18."),
    ("What are the office DNS servers?", "Use 10.120.200.53 and 10.120.200.54."),
    ("When is the expenses window?", "Submit between 2026-11-30 2026-12-04 in Pleo."),
    ("Which build should I run?", "Update to 10.0.19045.3803 first."),
]
FILLER = [(f"Filler question {n}?", f"Filler answer {n}.") for n in range(8)]


def _file(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "thread_id": question,
                    "messages": [
                        {"role": "user", "content": question},
                        {"role": "assistant", "content": answer},
                    ],
                }
            )
            for question, answer in pairs
        )
    )
    return path


def _trained_and_prompts(out: Path) -> tuple[list[str], list[str]]:
    trained, prompts = [], []
    for line in (out / "train.jsonl").read_text().splitlines():
        for m in json.loads(line)["messages"]:
            (trained if m["role"] == "assistant" else prompts).append(m["content"])
    return trained, prompts


def test_replies_keep_a_teams_contacts_dates_and_ips_and_learn_no_marker(
    db, tmp_path: Path
) -> None:
    question = ("I'm jane.doe@fernhill.example, call me on (415) 555-2671?", "Sure.")
    path = _file(tmp_path / "answers.jsonl", [*ANSWERS, *FILLER, question])
    import_chat_file(
        db, path, system_prompt=None, eval_fraction=0, checks=ImportChecks(personal_data=TEAM)
    )
    models = ModelTable(DEFAULT_MODEL_SPECS)
    options = ExportOptions(
        out_dir=tmp_path / "out", model="gpt-4.1-mini-2025-04-14", personal_data=TEAM
    )
    export_dataset(db, models, options)
    trained, prompts = _trained_and_prompts(tmp_path / "out")
    assert sorted(trained) == sorted(answer for _, answer in [*ANSWERS, *FILLER, question])
    assert not any(marker in text for text in trained for marker in MARKERS.values())
    assert "I'm [EMAIL], call me on [PHONE]?" in prompts


def test_an_import_names_personal_data_in_a_reply_and_keeps_it_only_when_told(
    db, tmp_path: Path
) -> None:
    path = _file(tmp_path / "answers.jsonl", [*FILLER, *ANSWERS])
    with pytest.raises(ValidationError) as raised:
        import_chat_file(
            db, path, system_prompt=None, eval_fraction=0, checks=ImportChecks(personal_data=POLICY)
        )
    assert raised.value.problems == [
        f"{path}:9: personal_data at messages[1].content: email 'it-help@fernhill.example' "
        "in a trained reply: put a team's public contacts on TUNELOOP_PII_ALLOW_LIST, remove it, "
        "or import with --keep-personal-data",
        f"{path}:10: personal_data at messages[1].content: phone '+44 113 496 0018' "
        "in a trained reply: put a team's public contacts on TUNELOOP_PII_ALLOW_LIST, remove it, "
        "or import with --keep-personal-data",
    ]
    report = import_chat_file(
        db,
        path,
        system_prompt=None,
        eval_fraction=0,
        checks=ImportChecks(personal_data=POLICY, keep_personal_data=True),
    )
    assert report.added == 13


def test_a_reviewer_sees_personal_data_in_a_reply_and_chooses(db) -> None:
    store = Store.build(db, reviewers=REVIEWERS, personal_data=TEAM)
    exchange = ask(store, "Who handles payroll questions?", "No idea.")
    fix = "Write to ana.silva@fernhill.example, or call the desk on +44 113 496 0018."
    _, item, _ = store.capture.add_correction(exchange, "UFIXER", fix)
    assert store.review.get(item.id).personal_data == ("email 'ana.silva@fernhill.example'",)
    with pytest.raises(PersonalDataError) as raised:
        store.review.approve(item.id, REVIEWERS[0])
    assert raised.value.problems == [
        f"review item {item.id}: personal_data in the reply: email 'ana.silva@fernhill.example'"
    ]
    assert store.review.get(item.id).state.value == "pending"
    # Either the reviewer edits it out...
    edited = store.review.approve(
        item.id, REVIEWERS[0], text="Ask in #people-team, or call the desk on +44 113 496 0018."
    )
    assert edited.example_created and edited.item.personal_data == ()
    # ...or keeps it, knowingly.
    other = ask(store, "Who runs the Lisbon office?", "No idea.")
    _, item, _ = store.capture.add_correction(other, "UFIXER", "Rita: rita@fernhill.example.")
    kept = store.review.approve(item.id, REVIEWERS[0], keep_personal_data=True)
    assert kept.example_created


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*"0123456789 ,AaBbRSTtrue-PlcGIHdnwsxgi", "Street", "st", "Rua ", "Praça ", "GIR"]
        ),
        max_size=30,
    ).map("".join)
)
def test_the_cheap_place_test_misses_no_address_or_postcode(text: str) -> None:
    """`_candidates` skips both patterns when the hint finds nothing: it must be a superset."""
    from curation.personal_data import _ADDRESS, _PLACE_HINT, _PORTUGUESE_STREETS, _POSTCODE

    if _ADDRESS.search(text) or _POSTCODE.search(text):
        assert _PLACE_HINT.search(text) or any(w in text for w in _PORTUGUESE_STREETS)


# --- every trained text is checked at import, every text the model only reads is redacted -----

PHONE = "+44 20 7946 0958"
EMAIL = "jane.doe@fernhill.example"
USER = {"role": "user", "content": "Send the details to the new starter, please."}
ARGS = json.dumps({"phone": PHONE})
MODEL = "gpt-4.1-mini-2025-04-14"


def _call(arguments: str = ARGS) -> dict[str, Any]:
    return {
        "id": "call_1",
        "type": "function",
        "function": {"name": "notify", "arguments": arguments},
    }


def _said(**fields: Any) -> dict[str, Any]:
    return {"role": "assistant", **fields}


def _sft(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [USER, *messages]}


def _dpo(
    preferred: dict[str, Any],
    rejected: dict[str, Any],
    *prompt: dict[str, Any],
    asked: dict[str, Any] = USER,
) -> dict[str, Any]:
    return {
        "input": {"messages": [asked, *prompt]},
        "preferred_output": [preferred],
        "non_preferred_output": [rejected],
    }


#: The tool's answer to `_call`, and the reply after it.
ANSWERED = ({"role": "tool", "tool_call_id": "call_1", "content": "sent"}, _said(content="Done."))
SFT_FILLER = [
    {"messages": [{"role": "user", "content": f"Filler {n}?"}, _said(content=f"Answer {n}.")]}
    for n in range(10)
]
DPO_FILLER = [
    _dpo(_said(content=f"Good {n}."), _said(content=f"Bad {n}."), asked=filler["messages"][0])
    for n, filler in enumerate(SFT_FILLER)
]
PARTS = [{"type": "text", "text": "Sent."}, {"type": "text", "text": f"Ring {PHONE}."}]
ARGUMENTS = "tool_calls[0].function.arguments"


def _import_and_export(db, folder: Path, line: dict[str, Any], checks: ImportChecks):
    """`line` imported after ten filler lines of its kind, and exported: its exported line."""
    dpo = "input" in line
    path = folder / "in.jsonl"
    lines = [*(DPO_FILLER if dpo else SFT_FILLER), line]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert (
        import_chat_file(db, path, system_prompt=None, eval_fraction=0, checks=checks).added == 11
    )
    method = Method.DPO if dpo else Method.SFT
    options = ExportOptions(out_dir=folder / "out", model=MODEL, method=method)
    export_dataset(db, ModelTable(DEFAULT_MODEL_SPECS), options)
    return json.loads((folder / "out" / "train.jsonl").read_text().splitlines()[-1])


@pytest.mark.parametrize(
    ("line", "where"),
    [
        (_sft(_said(tool_calls=[_call()])), f"messages[1].{ARGUMENTS}"),
        (
            _sft(_said(content=None, function_call={"name": "notify", "arguments": ARGS})),
            "messages[1].function_call.arguments",
        ),
        (_sft(_said(content="Done.", refusal=f"I won't ring {PHONE}.")), "messages[1].refusal"),
        (_sft(_said(content=PARTS)), "messages[1].content[1].text"),
        (_sft(_said(weight=1, tool_calls=[_call()]), *ANSWERED), f"messages[1].{ARGUMENTS}"),
        (
            _dpo(_said(content="Sent."), _said(content=f"Email {EMAIL} or call {PHONE}")),
            "non_preferred_output[0].content",
        ),
        (
            _dpo(_said(content=f"Call {PHONE}."), _said(content="No.")),
            "preferred_output[0].content",
        ),
        (
            _dpo(_said(content="Sent."), _said(tool_calls=[_call()])),
            f"non_preferred_output[0].{ARGUMENTS}",
        ),
    ],
)
def test_personal_data_anywhere_in_a_trained_reply_needs_a_decision_at_import(
    db, tmp_path: Path, line: dict[str, Any], where: str
) -> None:
    path = tmp_path / "refused.jsonl"
    filler = DPO_FILLER if "input" in line else SFT_FILLER
    path.write_text("".join(json.dumps(x) + "\n" for x in [*filler, line]))
    with pytest.raises(ValidationError) as raised:
        import_chat_file(
            db, path, system_prompt=None, eval_fraction=0, checks=ImportChecks(personal_data=POLICY)
        )
    problems = raised.value.problems
    assert all(p.startswith(f"{path}:11: personal_data at {where}: ") for p in problems)
    assert any(f": phone {PHONE!r} in a trained reply" in p for p in problems)
    # Kept by a person's decision, it is trained as written: never a marker in a trained reply.
    kept = ImportChecks(personal_data=POLICY, keep_personal_data=True)
    exported = _import_and_export(db, tmp_path, line, kept)
    if "input" in line:
        trained = [line["preferred_output"], line["non_preferred_output"]]
        assert [exported["preferred_output"], exported["non_preferred_output"]] == trained
    else:
        assert exported["messages"][1] == line["messages"][1]


def _context(message: dict[str, Any]) -> dict[str, Any]:
    """A line in which `message`, a turn of weight 0 that calls a tool, is context."""
    return _sft({**message, "weight": 0}, *ANSWERED)


@pytest.mark.parametrize(
    ("line", "personal", "redacted"),
    [
        (_context(_said(tool_calls=[_call()])), PHONE, {"phone": "[PHONE]"}),
        (
            _context(_said(tool_calls=[_call(json.dumps({"to": [EMAIL, PHONE]}, indent=2))])),
            EMAIL,
            {"to": ["[EMAIL]", "[PHONE]"]},
        ),
        (
            _context(_said(content=None, function_call={"name": "notify", "arguments": ARGS})),
            PHONE,
            {"phone": "[PHONE]"},
        ),
        # the arguments escape non-ASCII ("jos\u00e9"): the address goes whole, still JSON
        (
            _context(_said(tool_calls=[_call(json.dumps({"to": "josé.silva@exemplo.pt"}))])),
            "silva",
            {"to": "[EMAIL]"},
        ),
        (
            _sft(_said(content="No.", refusal=f"Not {EMAIL}.", weight=0), USER, ANSWERED[1]),
            EMAIL,
            None,
        ),
        (
            _dpo(
                _said(content="Sent."),
                _said(content="No."),
                _said(tool_calls=[_call()]),
                ANSWERED[0],
            ),
            PHONE,
            {"phone": "[PHONE]"},
        ),
    ],
)
def test_personal_data_outside_content_of_a_turn_the_model_only_reads_is_redacted(
    db, tmp_path: Path, line: dict[str, Any], personal: str, redacted: dict[str, Any] | None
) -> None:
    # Context is not trained: it needs no decision at the door.
    exported = _import_and_export(db, tmp_path, line, ImportChecks(personal_data=POLICY))
    assert personal not in json.dumps(exported, ensure_ascii=False)
    turn = (exported["input"] if "input" in line else exported)["messages"][1]
    if redacted is None:
        assert turn["refusal"] == "Not [EMAIL]."
        return
    call = turn["tool_calls"][0]["function"] if "tool_calls" in turn else turn["function_call"]
    assert json.loads(call["arguments"]) == redacted
