"""`NoAdapterServing`: backends whose provider serves its own models manage nothing."""

from __future__ import annotations

from scheduler.serving import NoAdapterServing


def test_nothing_is_loaded_and_nothing_can_be_reloaded() -> None:
    serving = NoAdapterServing()
    serving.load("ft:gpt-4o-mini:team::abc")
    serving.keep(["ft:gpt-4o-mini:team::abc", "gpt-4o-mini"])
    serving.unload("ft:gpt-4o-mini:team::abc")
    assert serving.loaded() == set()
    assert serving.ensure("ft:gpt-4o-mini:team::abc") is False
