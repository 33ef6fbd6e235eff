"""The README stays true: every setting is in its configuration table."""

from __future__ import annotations

from pydantic import AliasChoices

from tests.conftest import REPO_ROOT
from tuneloop.settings import Settings


def test_every_environment_variable_is_documented() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    names = []
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        assert isinstance(alias, AliasChoices), field
        names.extend(str(choice) for choice in alias.choices)
    missing = [name for name in names if f"| `{name}` |" not in readme]
    assert not missing, f"add these to the README's configuration table: {missing}"
