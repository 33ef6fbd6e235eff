"""The Block Kit limits Slack enforces, checked the way Slack reports them.

The `markdown` block (standard Markdown, for AI apps) holds at most 12,000 characters, and so
do all the markdown blocks of one message together; Slack drops a markdown block's block_id.

Slack refuses a message or view that breaks a limit with `invalid_blocks` (or
`invalid_arguments` for views) and a JSON-pointer note per problem. Checking here means a bot
that works against the local workspace does not fail on the real one for a too-long section.
Only the rules for the blocks tuneloop and its tests use are checked; unknown block types pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
SECTION_FIELD = 2000
HEADER_TEXT = 150
MARKDOWN_TEXT = 12000
BUTTON_TEXT = 75
ACTION_VALUE = 2000
ID_LENGTH = 255
INPUT_LENGTH = 3000
VIEW_TITLE = 24
PRIVATE_METADATA = 3000
CONTEXT_ACTIONS_ELEMENTS = 5
CONTEXT_ACTIONS_TYPES = frozenset({"feedback_buttons", "icon_button"})


def _too_long(text: Any, limit: int) -> bool:
    return isinstance(text, str) and len(text) > limit


def _text_of(obj: Any) -> str | None:
    if isinstance(obj, Mapping):
        value = obj.get("text")
        return value if isinstance(value, str) else None
    return None


def _element_problems(element: Mapping[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    kind = element.get("type")
    if _too_long(element.get("action_id"), ID_LENGTH):
        problems.append(f"must be at most {ID_LENGTH} characters [json-pointer:{where}/action_id]")
    if kind == "button":
        if _too_long(_text_of(element.get("text")), BUTTON_TEXT):
            problems.append(
                f"must be at most {BUTTON_TEXT} characters [json-pointer:{where}/text/text]"
            )
        if _too_long(element.get("value"), ACTION_VALUE):
            problems.append(
                f"must be at most {ACTION_VALUE} characters [json-pointer:{where}/value]"
            )
    elif kind == "feedback_buttons":
        for side in ("positive_button", "negative_button"):
            button = element.get(side)
            if not isinstance(button, Mapping) or not _text_of(button.get("text")):
                problems.append(f"is required [json-pointer:{where}/{side}]")
            elif _too_long(button.get("value"), ACTION_VALUE):
                problems.append(
                    f"must be at most {ACTION_VALUE} characters [json-pointer:{where}/{side}/value]"
                )
    elif kind == "plain_text_input":
        max_length = element.get("max_length")
        if isinstance(max_length, int) and max_length > INPUT_LENGTH:
            problems.append(f"must be at most {INPUT_LENGTH} [json-pointer:{where}/max_length]")
        limit = max_length if isinstance(max_length, int) else INPUT_LENGTH
        if _too_long(element.get("initial_value"), min(limit, INPUT_LENGTH)):
            problems.append(
                f"must be at most {min(limit, INPUT_LENGTH)} characters "
                f"[json-pointer:{where}/initial_value]"
            )
    return problems


def _block_problems(block: Any, where: str) -> list[str]:
    if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
        return [f"must be a block object with a type [json-pointer:{where}]"]
    problems: list[str] = []
    kind = block["type"]
    if kind == "section":
        text, fields = _text_of(block.get("text")), block.get("fields")
        if text is None and not fields:
            problems.append(f"must provide text or fields [json-pointer:{where}]")
        if _too_long(text, SECTION_TEXT):
            problems.append(
                f"must be less than {SECTION_TEXT + 1} characters [json-pointer:{where}/text/text]"
            )
        for i, field in enumerate(fields or []):
            if _too_long(_text_of(field), SECTION_FIELD):
                problems.append(
                    f"must be less than {SECTION_FIELD + 1} characters "
                    f"[json-pointer:{where}/fields/{i}/text]"
                )
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping):
            problems += _element_problems(accessory, f"{where}/accessory")
    elif kind == "header":
        if _too_long(_text_of(block.get("text")), HEADER_TEXT):
            problems.append(
                f"must be less than {HEADER_TEXT + 1} characters [json-pointer:{where}/text/text]"
            )
    elif kind == "markdown":
        text = block.get("text")
        if not isinstance(text, str) or not text:
            problems.append(f"must provide text [json-pointer:{where}/text]")
        elif _too_long(text, MARKDOWN_TEXT):
            problems.append(
                f"must be less than {MARKDOWN_TEXT + 1} characters [json-pointer:{where}/text]"
            )
    elif kind in ("actions", "context_actions", "context"):
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            return [f"must provide elements [json-pointer:{where}/elements]"]
        limit = {"actions": 25, "context_actions": CONTEXT_ACTIONS_ELEMENTS, "context": 10}[kind]
        if len(elements) > limit:
            problems.append(f"must have at most {limit} items [json-pointer:{where}/elements]")
        action_ids: set[str] = set()
        for i, element in enumerate(elements):
            path = f"{where}/elements/{i}"
            if not isinstance(element, Mapping):
                problems.append(f"must be an object [json-pointer:{path}]")
                continue
            if kind == "context_actions" and element.get("type") not in CONTEXT_ACTIONS_TYPES:
                problems.append(
                    f"must be feedback_buttons or icon_button [json-pointer:{path}/type]"
                )
            action_id = element.get("action_id")
            if isinstance(action_id, str):
                if action_id in action_ids:
                    problems.append(f"action_id is not unique [json-pointer:{path}/action_id]")
                action_ids.add(action_id)
            problems += _element_problems(element, path)
    elif kind == "input":
        element = block.get("element")
        if not isinstance(element, Mapping):
            problems.append(f"must provide an element [json-pointer:{where}/element]")
        else:
            problems += _element_problems(element, f"{where}/element")
        if not _text_of(block.get("label")):
            problems.append(f"must provide a label [json-pointer:{where}/label]")
    return problems


def markdown_total(blocks: Sequence[Any]) -> int:
    """The characters of all the `markdown` blocks of one payload together: Slack allows
    12,000 in all, not per block (Block Kit reference, "Markdown block")."""
    return sum(
        len(block["text"])
        for block in blocks
        if isinstance(block, Mapping)
        and block.get("type") == "markdown"
        and isinstance(block.get("text"), str)
    )


def stored_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks as Slack keeps them: a markdown block's `block_id` is not retained."""
    return [
        {k: v for k, v in block.items() if k != "block_id"}
        if block.get("type") == "markdown"
        else block
        for block in blocks
    ]


def blocks_problems(blocks: Any, *, limit: int = MESSAGE_BLOCKS) -> list[str]:
    """What Slack would say is wrong with `blocks` (empty when nothing is). The markdown
    blocks' total is checked apart (`markdown_total`): Slack names it `msg_blocks_too_long`."""
    if not isinstance(blocks, Sequence) or isinstance(blocks, str | bytes):
        return ["must be an array [json-pointer:/blocks]"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"must have at most {limit} items [json-pointer:/blocks]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"/blocks/{i}"
        problems += _block_problems(block, where)
        block_id = block.get("block_id") if isinstance(block, Mapping) else None
        if isinstance(block_id, str):
            if len(block_id) > ID_LENGTH:
                problems.append(
                    f"must be at most {ID_LENGTH} characters [json-pointer:{where}/block_id]"
                )
            if block_id in seen:
                problems.append(f"block_id is not unique [json-pointer:{where}/block_id]")
            seen.add(block_id)
    return problems


def view_problems(view: Any) -> list[str]:
    """What Slack would say is wrong with a modal or Home tab view."""
    if not isinstance(view, Mapping):
        return ["must be an object [json-pointer:/view]"]
    problems: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        problems.append("must be modal or home [json-pointer:/view/type]")
    if kind == "modal":
        title = _text_of(view.get("title"))
        if not title:
            problems.append("is required [json-pointer:/view/title]")
        for key in ("title", "submit", "close"):
            if _too_long(_text_of(view.get(key)), VIEW_TITLE):
                problems.append(
                    f"must be less than {VIEW_TITLE + 1} characters [json-pointer:/view/{key}/text]"
                )
        has_input = any(
            isinstance(b, Mapping) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and not _text_of(view.get("submit")):
            problems.append("is required when the view has inputs [json-pointer:/view/submit]")
    if _too_long(view.get("private_metadata"), PRIVATE_METADATA):
        problems.append(
            f"must be at most {PRIVATE_METADATA} characters [json-pointer:/view/private_metadata]"
        )
    if _too_long(view.get("callback_id"), ID_LENGTH):
        problems.append(f"must be at most {ID_LENGTH} characters [json-pointer:/view/callback_id]")
    problems += [
        p.replace("[json-pointer:/blocks", "[json-pointer:/view/blocks")
        for p in blocks_problems(view.get("blocks") or [], limit=VIEW_BLOCKS)
    ]
    return problems
