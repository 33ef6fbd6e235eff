"""What the bot says when the model fails: short, honest, and no internals."""

from __future__ import annotations

_APOLOGIES = {
    "rate_limited": "I'm getting too many questions at once right now.",
    "timeout": "The model took too long to answer.",
    "unreachable": "I can't reach the model right now.",
    "unavailable": "The model is having trouble right now.",
    "model_not_found": "The model I'm meant to use isn't available yet.",
}


def apology_for(kind: str) -> str:
    reason = _APOLOGIES.get(kind, "Something went wrong while I was answering.")
    return (
        f":warning: Sorry, I couldn't answer that. {reason} "
        "Please try again in a minute; your question has been saved."
    )
