"""Reading what the database has: batched, read-only, into plain records."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from . import inspector, mysql, sqlite
from .fingerprint import fingerprint
from .model import ReflectedSchema, ReflectedTable, TableKey
from .transaction import read_only

__all__ = [
    "ReflectedSchema",
    "ReflectedTable",
    "TableKey",
    "fingerprint",
    "read_only",
    "reflect_schema",
]

TableFilter = Callable[[str, "str | None"], bool]


def reflect_schema(
    connection: Connection,
    *,
    schemas: Iterable[str | None] = (None,),
    include_table: TableFilter | None = None,
    exclude: Iterable[tuple[str | None, str]] = (),
    with_fingerprint: bool = False,
) -> ReflectedSchema:
    """Read every table of ``schemas`` (``None``: the default schema) in one read-only
    transaction. ``include_table(name, schema)`` decides which tables are read at all."""
    schemas = tuple(schemas)
    excluded = set(exclude)
    with read_only(connection) as conn:
        reflected = ReflectedSchema(
            dialect=conn.dialect.name,
            default_schema=conn.dialect.default_schema_name,
            schemas=schemas,
        )
        if with_fingerprint:
            reflected.fingerprint = fingerprint(conn, schemas)
        insp = inspect(conn)
        for schema in schemas:
            available = insp.get_table_names(schema=schema)
            names = [
                n
                for n in available
                if (schema, n) not in excluded
                and (include_table is None or include_table(n, schema))
            ]
            reflected.table_names[schema] = names
            reader = {
                "sqlite": sqlite.read_tables,
                "mysql": mysql.read_tables,
                "mariadb": mysql.read_tables,
            }.get(conn.dialect.name, inspector.read_tables)
            reader(conn, reflected, schema, names, all_tables=len(names) == len(available))
    return reflected
