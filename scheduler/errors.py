"""Errors the scheduler raises, each with a message fit to show a person."""

from __future__ import annotations


class SchedulerError(Exception):
    """Base class: something the retraining machinery refused or could not do."""


class RegistryError(SchedulerError):
    """A promotion or rollback that the registry's current state does not allow."""


class StaleIncumbentError(RegistryError):
    """The served model changed after the candidate was evaluated against the old one."""


class CycleBusyError(SchedulerError):
    """A retraining cycle is already open; only one may run at a time."""


class ServingError(SchedulerError):
    """The serving side could not load or unload a model (a LoRA adapter on vLLM, say); the
    message names the model and what the server said."""


class LeaseLost(SchedulerError):
    """This process no longer holds the scheduler lease (another took it over, with a newer
    fencing token): the cycle's write was refused, and the new leader carries on."""
