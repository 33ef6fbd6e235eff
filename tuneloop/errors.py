"""Errors of the composition root: what it was told from outside cannot be used."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting (or an option standing for one) that tuneloop cannot use. The message names
    the variable, the value and what is allowed; `problems` lists one line per bad value when
    there are several."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)


class ProviderConfigError(ConfigError):
    """The settings do not describe a usable model provider; the message says what to set."""
