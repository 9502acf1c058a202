"""The reflected schema: plain records of what the database has.

The records are SQLAlchemy's own reflection dictionaries (``ReflectedColumn`` and friends,
documented and stable in SQLAlchemy 2.x) grouped per table, so every reader of the catalog,
batched inspector or direct catalog query, produces the same shape, and the comparison never
needs SQLAlchemy ``Table`` objects for the database side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine.interfaces import (
    ReflectedCheckConstraint,
    ReflectedColumn,
    ReflectedForeignKeyConstraint,
    ReflectedIndex,
    ReflectedPrimaryKeyConstraint,
    ReflectedUniqueConstraint,
)

TableKey = tuple["str | None", str]


@dataclass
class ReflectedTable:
    """One table as the database reports it."""

    schema: str | None
    name: str
    columns: list[ReflectedColumn] = field(default_factory=list)
    primary_key: ReflectedPrimaryKeyConstraint | None = None
    foreign_keys: list[ReflectedForeignKeyConstraint] = field(default_factory=list)
    indexes: list[ReflectedIndex] = field(default_factory=list)
    unique_constraints: list[ReflectedUniqueConstraint] = field(default_factory=list)
    check_constraints: list[ReflectedCheckConstraint] = field(default_factory=list)
    comment: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> TableKey:
        return (self.schema, self.name)

    def column(self, name: str) -> ReflectedColumn | None:
        for col in self.columns:
            if col["name"] == name:
                return col
        return None


@dataclass
class ReflectedSchema:
    """Every table of the schemas read, keyed by ``(schema or None, name)``.

    ``schema`` is None for the connection's default schema, as in Alembic.
    """

    dialect: str
    default_schema: str | None
    schemas: tuple[str | None, ...]
    tables: dict[TableKey, ReflectedTable] = field(default_factory=dict)
    #: Schemas in which all table names were read (``tables`` is complete for them).
    table_names: dict[str | None, list[str]] = field(default_factory=dict)
    #: Catalog fingerprint taken in the same transaction (see ``fingerprint``), if any.
    fingerprint: str | None = None
