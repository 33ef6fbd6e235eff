"""Object ids in OpenAI's shapes (`file-…`, `ftjob-…`, `chatcmpl-…`)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    """Letters and digits, random enough that two stand-ins never collide.

    (Modulo 62 skews the letters slightly; ids need uniqueness, not uniformity.)
    """
    return "".join(_ALPHABET[byte % 62] for byte in secrets.token_bytes(length))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}{random_token(length)}"
