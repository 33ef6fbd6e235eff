"""Declarative base, shared column types and naming conventions for every table."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, Index, MetaData, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so Alembic batch migrations on SQLite can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class _JSONOrJSONB(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL (as the migrations create the columns).

    The PostgreSQL type is looked up when a PostgreSQL engine first uses the column: importing
    SQLAlchemy's PostgreSQL dialect costs a tenth of a second, which every command would pay
    at start-up even on SQLite."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


JSONType = _JSONOrJSONB()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite keeps no time zone, so values are normalised to UTC on the way in and marked UTC
    on the way out; PostgreSQL stores `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; tuneloop stores aware UTC timestamps")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def StrEnumType(enum_cls: type[enum.StrEnum]) -> Enum:
    """A string column holding an enum's *values* (`'needs_edit'`, not `'NEEDS_EDIT'`), so SQL
    written by hand, constraints and other tools see the same words as the code."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=max(len(member.value) for member in enum_cls),
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


#: The dialects a partial index is declared for: the two databases tuneloop stores in.
PARTIAL_INDEX_DIALECTS = ("sqlite", "postgresql")


class PartialIndex(Index):
    """An index over the rows that `where` (an SQL condition on the table's own columns)
    selects, on SQLite and PostgreSQL alike: `Index(..., sqlite_where=text(where),
    postgresql_where=text(where))`, declared late.

    SQLAlchemy checks a dialect's keyword arguments by importing that dialect, and importing
    its PostgreSQL dialect (every driver module with it) costs a command's start-up more than
    20 ms that a SQLite store never needs. So the two arguments are given to the index the
    first time anything reads its dialect options (CREATE INDEX, Alembic's comparison, a copy
    of the table), through SQLAlchemy's own checks, rather than when the model is defined.
    This leans on SQLAlchemy 2's `DialectKWArgs` (a memoized `dialect_options` filled by
    `_validate_dialect_kwargs`); tests/curation/test_dialects.py holds the DDL on both
    databases to the condition, so an upgrade that changes it fails there.
    """

    def __init__(self, name: str, *expressions: Any, where: str, **kw: Any) -> None:
        self.where_sql = where
        super().__init__(name, *expressions, **kw)

    @cached_property
    def dialect_options(self) -> Any:
        # The base class's memoized property: an empty registry, kept in __dict__ before the
        # arguments go in, since checking them reads this property again.
        options = super().dialect_options
        self._validate_dialect_kwargs(
            {f"{dialect}_where": text(self.where_sql) for dialect in PARTIAL_INDEX_DIALECTS}
        )
        return options
