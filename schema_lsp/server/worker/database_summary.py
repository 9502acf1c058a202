"""The reflected database as plain data, for hovers and migration-aware checks.

The warm parent holds the reflection; the server needs only names and the values a hover
shows (type, nullable, default, comment, indexes). The parent sends this summary once per
reflection (a moved catalog), not on every check: after an edit nothing in it changes.
Values are written as the drift messages write them (``describe_type``), so a hover
row and a diagnostic about the same column agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Dialect

from schema_lsp.autogenerate.drift import describe_type
from schema_lsp.reflect import ReflectedSchema


def database_summary(reflected: ReflectedSchema, dialect: Dialect) -> dict[str, Any]:
    """``DatabaseState.from_summary``'s input: every reflected table, its columns and indexes."""
    tables = []
    for (schema, name), table in reflected.tables.items():
        columns = [
            {
                "name": column["name"],
                "type": describe_type(column.get("type"), dialect),
                "nullable": bool(column.get("nullable", True)),
                "default": _default(column.get("default")),
                "comment": column.get("comment"),
            }
            for column in table.columns
        ]
        indexes = [
            {
                "name": index.get("name"),
                "columns": [c for c in index.get("column_names") or () if c],
                "unique": bool(index.get("unique")),
            }
            for index in table.indexes
        ]
        tables.append({"schema": schema, "name": name, "columns": columns, "indexes": indexes})
    return {"schemas": list(reflected.schemas), "tables": tables}


def _default(value: Any) -> str | None:
    """The server default as the catalog spells it (None: no default)."""
    return None if value is None else str(value)
