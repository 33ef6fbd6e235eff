"""`tuneloop demo`: the whole loop, offline, on the real pieces, in well under a minute."""

from tuneloop.demo.loop import run_demo
from tuneloop.demo.summary import Check, DemoSummary, ModelRow

__all__ = ["Check", "DemoSummary", "ModelRow", "run_demo"]
