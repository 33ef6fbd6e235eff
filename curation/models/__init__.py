"""Typed SQLAlchemy models, one module per concern. Importing this registers every table."""

from curation.models.base import Base
from curation.models.dataset import DatasetItem, DatasetVersion
from curation.models.example import Example, ExampleSource, Split
from curation.models.exchange import Exchange, ExchangeStatus
from curation.models.feedback import Correction, Feedback, FeedbackKind
from curation.models.health import StoreHealth
from curation.models.replica import BotReplica
from curation.models.review import ReviewEvent, ReviewItem, ReviewKind, ReviewState
from curation.models.tally import ExampleTally, KeptCount

__all__ = [
    "Base",
    "BotReplica",
    "Correction",
    "DatasetItem",
    "DatasetVersion",
    "Example",
    "ExampleSource",
    "ExampleTally",
    "Exchange",
    "ExchangeStatus",
    "Feedback",
    "FeedbackKind",
    "KeptCount",
    "ReviewEvent",
    "ReviewItem",
    "ReviewKind",
    "ReviewState",
    "Split",
    "StoreHealth",
]
