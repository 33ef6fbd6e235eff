"""Cursor pagination as OpenAI does it: `after` is the id of the last item already seen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tuneloop.local_openai.errors import invalid_request


def parse_limit(raw: str | None, *, default: int, maximum: int) -> int:
    """The `limit` query parameter, refused with OpenAI's wording when it is out of range."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request(
            f"Invalid 'limit': expected an integer, but got {raw!r} instead.",
            param="limit",
            code="invalid_type",
        ) from None
    if value < 1:
        raise invalid_request(
            "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got "
            f"{value} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    if value > maximum:
        raise invalid_request(
            f"Invalid 'limit': integer above maximum value. Expected a value <= {maximum}, but "
            f"got {value} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    return value


def cursor_page(
    items: Sequence[Mapping[str, Any]], *, after: str | None, limit: int
) -> tuple[list[Mapping[str, Any]], bool]:
    """The `limit` items that follow the one whose id is `after`, and whether more follow.

    An unknown cursor gives an empty page, so a client that paginates stops instead of looping.
    """
    start = 0
    if after:
        for index, item in enumerate(items):
            if item.get("id") == after:
                start = index + 1
                break
        else:
            start = len(items)
    page = list(items[start : start + limit])
    return page, start + limit < len(items)
