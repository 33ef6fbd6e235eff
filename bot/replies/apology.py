"""What the bot says when the model fails: short, honest, and no internals."""

from __future__ import annotations

_APOLOGIES = {
    "rate_limited": "I'm getting too many questions at once right now.",
    "timeout": "The model took too long to answer.",
    "unreachable": "I can't reach the model right now.",
    "unavailable": "The model is having trouble right now.",
    "model_not_found": "The model I'm meant to use isn't available yet.",
}


#: Apologies for questions that were *not* kept for later, so they must not say "saved".
_NOT_KEPT = {
    "store_unavailable": (
        ":warning: Sorry, I couldn't answer that: I can't reach my storage right now. "
        "Please ask again in a few minutes."
    ),
    "abandoned": (
        ":warning: Sorry, I was restarted before I could answer this, a while ago now. "
        "Please ask again if you still need an answer."
    ),
}


def apology_for(kind: str) -> str:
    if kind in _NOT_KEPT:
        return _NOT_KEPT[kind]
    reason = _APOLOGIES.get(kind, "Something went wrong while I was answering.")
    return (
        f":warning: Sorry, I couldn't answer that. {reason} "
        "Please try again in a minute; your question has been saved."
    )
