"""SQLite: the whole catalog in a handful of queries.

SQLAlchemy reads SQLite one ``PRAGMA`` per table and kind (and re-reads each table's SQL
several times), about a dozen statements a table. SQLite's table-valued pragma functions
(``pragma_table_xinfo(name)``) let one query return a pragma for every table. We fetch each
pragma once for all tables and then let SQLAlchemy's own SQLite dialect interpret the rows,
through a copy of the dialect whose two row sources answer from the prefetched results, so
the records are exactly what SQLAlchemy's reflection would produce.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import NoSuchTableError

from .model import ReflectedSchema, ReflectedTable

_TABLE_PRAGMAS = ("table_xinfo", "table_info", "foreign_key_list", "index_list")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Prefetched:
    """Pragma rows and table SQL for every table of one SQLite schema."""

    def __init__(self, connection: Connection, schema: str | None, xinfo: bool) -> None:
        prefix = f"{_quote(schema)}." if schema else "main."
        arg = f", '{schema}'" if schema else ""
        self.sql: dict[str, str | None] = {
            name: sql
            for name, sql in connection.exec_driver_sql(
                f"SELECT name, sql FROM {prefix}sqlite_master WHERE type IN ('table', 'view')"
            )
        }
        self.pragmas: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
        pragmas = [p for p in _TABLE_PRAGMAS if p != ("table_info" if xinfo else "table_xinfo")]
        for pragma in pragmas:
            rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
            for row in connection.exec_driver_sql(
                f"SELECT m.name, p.* FROM {prefix}sqlite_master AS m, "
                f"pragma_{pragma}(m.name{arg}) AS p WHERE m.type = 'table'"
            ):
                rows[row[0]].append(tuple(row[1:]))
            self.pragmas[pragma] = rows
        index_rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in connection.exec_driver_sql(
            f"SELECT il.name, ii.* FROM {prefix}sqlite_master AS m, "
            f"pragma_index_list(m.name{arg}) AS il, pragma_index_info(il.name{arg}) AS ii "
            "WHERE m.type = 'table'"
        ):
            index_rows[row[0]].append(tuple(row[1:]))
        self.pragmas["index_info"] = index_rows

    def table_sql(self, connection: Any, table_name: str, schema: Any = None, **kw: Any) -> Any:
        try:
            return self.sql[table_name]
        except KeyError:
            raise NoSuchTableError(table_name) from None

    def table_pragma(
        self, connection: Any, pragma: str, table_name: str, schema: Any = None
    ) -> list[tuple[Any, ...]]:
        if pragma not in self.pragmas and pragma in ("table_info", "table_xinfo"):
            # ``has_table`` asks for table_info: the rows of table_xinfo answer it too.
            pragma = "table_xinfo" if pragma == "table_info" else "table_info"
        return self.pragmas.get(pragma, {}).get(table_name, [])


def read_tables(
    connection: Connection,
    reflected: ReflectedSchema,
    schema: str | None,
    names: Iterable[str],
    *,
    all_tables: bool = False,
) -> None:
    """Fill ``reflected.tables`` for ``names`` of one SQLite schema in five queries."""
    names = list(names)
    if not names:
        return
    dialect: Any = connection.dialect
    xinfo = dialect.server_version_info >= (3, 31)
    prefetched = _Prefetched(connection, schema, xinfo)
    local = copy.copy(dialect)
    local._get_table_sql = prefetched.table_sql
    local._get_table_pragma = prefetched.table_pragma
    for name in names:
        table = ReflectedTable(schema=schema, name=name)
        table.columns = local.get_columns(connection, name, schema=schema)
        table.primary_key = local.get_pk_constraint(connection, name, schema=schema)
        table.foreign_keys = local.get_foreign_keys(connection, name, schema=schema)
        table.indexes = local.get_indexes(connection, name, schema=schema)
        table.unique_constraints = local.get_unique_constraints(connection, name, schema=schema)
        table.check_constraints = local.get_check_constraints(connection, name, schema=schema)
        table.options = local.get_table_options(connection, name, schema=schema)
        reflected.tables[(schema, name)] = table
