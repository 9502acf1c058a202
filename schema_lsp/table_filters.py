"""What ``exclude_tables`` and a list of ``include_schemas`` mean as Alembic's filter hooks.

One home for the CLI (``check``) and the language server's worker, so a table the user
excluded is left out on both sides, models and database, everywhere.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any


def table_filters(
    exclude_tables: Sequence[str], include_schemas: bool | Sequence[str] = False
) -> dict[str, Any]:
    """``include_name``/``include_object`` options (empty when nothing is filtered: with an
    object filter the comparison must build every reflected table as SQLAlchemy objects
    to pass them to it)."""
    patterns = list(exclude_tables)
    schemas = None if isinstance(include_schemas, bool) else list(include_schemas)
    if not patterns and schemas is None:
        return {}

    def excluded(name: str | None, schema: str | None) -> bool:
        if not name or not patterns:
            return False
        qualified = f"{schema}.{name}" if schema else name
        return any(
            fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(qualified, p) for p in patterns
        )

    def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        if type_ == "schema" and schemas is not None:
            return name is None or name in schemas
        if type_ == "table":
            return not excluded(name, parent_names.get("schema_name"))
        return True

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        if type_ == "table":
            return not excluded(name, getattr(obj, "schema", None))
        return True

    return {"include_name": include_name, "include_object": include_object}
