"""A turn of a conversation, as the model sees it: who spoke, and what they said."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    content: str

    def as_message(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}
