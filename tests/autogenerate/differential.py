"""Differential testing against Alembic: run both engines on one database, compare diffs.

Diff tuples hold SQLAlchemy objects that don't compare by value, so both lists are reduced
to plain tuples (kinds, names, columns, rendered types and defaults) first. Where we differ
from Alembic on purpose, the scenario names a divergence from ``DIVERGENCES``: one place
that lists every deliberate difference with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata as alembic_compare
from alembic.runtime.migration import MigrationContext as AlembicContext
from sqlalchemy.engine import Connection, Dialect, Engine

from schema_lsp.autogenerate import compare_metadata
from schema_lsp.runtime.migration import MigrationContext

#: Every deliberate difference from Alembic 1.20, with its reason. Scenarios name the key.
DIVERGENCES: dict[str, str] = {
    "alembic-false-default-sqlite": (
        "Alembic compares SQLite defaults as raw text, so '' vs \"''\" and function "
        "defaults come back as false modify_default; we normalise both sides."
    ),
    "alembic-false-default-mariadb": (
        "Alembic reports unchanged MariaDB defaults (quoted literals, current_timestamp()) "
        "as modify_default; we normalise both sides."
    ),
    "alembic-false-type-sqlite": (
        "Alembic compares a type SQLite only knows by affinity (CLOB reflects as TEXT) by "
        "name; we compare affinities when reflection can't give the name back."
    ),
    "alembic-false-type-postgresql": (
        "Alembic reports FLOAT(24) vs REAL and NCHAR vs CHAR on PostgreSQL, which are the "
        "same types there."
    ),
    "alembic-false-type-mariadb": (
        "Alembic reports REAL vs DOUBLE, NATIONAL VARCHAR vs VARCHAR CHARACTER SET utf8mb3 and "
        "BLOB(n) vs TINYBLOB on MariaDB, which are how MariaDB stores those types."
    ),
    "alembic-crash-quoted-default-pg": (
        "Alembic renders a str server_default containing a quote unescaped into a SELECT on "
        "PostgreSQL and raises; we compare text without querying."
    ),
    "alembic-misses-unsigned": (
        "Alembic does not report INTEGER vs INTEGER UNSIGNED on MySQL/MariaDB; we do."
    ),
    "mysql-enum-order": (
        "Alembic ignores a reordered MySQL/MariaDB ENUM; the server stores values by position "
        "(sort order, numeric value), so we report it."
    ),
    "pk-change": "Alembic does not detect primary key changes; we report them.",
    "pg-enum-values": "Alembic does not compare PostgreSQL enum values; we do.",
    "partial-index-predicate": "Alembic ignores a changed partial-index predicate; we don't.",
    "check-constraints": "Alembic ignores CHECK constraints by default; we compare them by "
    "name and normalised expression. Unnamed checks are skipped on both sides: the database "
    "invents their names, so they can't be matched reliably.",
    "sqlite-expression-index-new-table": "Alembic drops SQLite expression indexes from the "
    "comparison (SQLAlchemy can't reflect them), even for a table it creates; we still emit "
    "add_index for a created table's expression indexes.",
    "alembic-false-index-desc-name": "Alembic compares Index.columns, which leaves out a "
    "column named by string in desc('col'), so on SQLite and MariaDB (no sort order "
    "reflected) such an index is reported as changed on every run; we resolve the name.",
    "alembic-false-fk-default-schema": "Alembic reports every foreign key of a table declared "
    "with schema=<the default schema> as removed and added (the model says 'public', the "
    "database None); we treat the default schema's name and None as the same.",
    "alembic-crash-fk-target-not-in-model": "Alembic raises NoReferencedTableError when a "
    "changed foreign key points to a table the model doesn't declare; we report it with the "
    "target as written.",
    "fk-order": "Alembic lists several added/removed foreign keys of one table in set order; "
    "ours are sorted by name.",
    "remove-order": "Alembic drops removed tables in set order; ours is reverse dependency "
    "order, deterministic.",
}


def _sql(dialect: Dialect, obj: Any) -> str | None:
    if obj is None or obj is False:
        return None if obj is None else "<unset>"
    if isinstance(obj, sa.types.TypeEngine):
        try:
            return str(obj.compile(dialect=dialect))
        except Exception:
            return repr(obj)
    if isinstance(obj, sa.DefaultClause):
        arg = obj.arg
        if isinstance(arg, str):
            return f"'{arg}'"
        if hasattr(arg, "text"):
            return str(arg.text)
        return str(arg.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if isinstance(obj, sa.Computed | sa.Identity):
        return repr(obj)
    return str(obj)


def _cols(obj: Any) -> tuple[str, ...]:
    if isinstance(obj, sa.CheckConstraint):  # a check's "columns" are its expression
        return (str(obj.sqltext),)
    cols = getattr(obj, "columns", None)
    if cols is not None and len(cols):
        return tuple(c.name for c in cols)
    exprs = getattr(obj, "expressions", ())
    return tuple(str(e) for e in exprs)


def _table_of(obj: Any) -> tuple[str | None, str]:
    table = obj.table if hasattr(obj, "table") else obj.parent
    return (table.schema, table.name)


def normalize(diffs: Sequence[Any], dialect: Dialect) -> list[tuple[Any, ...]]:
    """Plain, comparable tuples for Alembic-shaped diff lists."""
    out: list[tuple[Any, ...]] = []
    for diff in diffs:
        if isinstance(diff, list):
            for kind, schema, tname, cname, _existing, old, new in diff:
                if kind in ("modify_type", "modify_default"):
                    old, new = _sql(dialect, old), _sql(dialect, new)
                out.append((kind, schema, tname, cname, old, new))
            continue
        kind = diff[0]
        if kind in ("add_table", "remove_table"):
            out.append((kind, diff[1].schema, diff[1].name))
        elif kind in ("add_column", "remove_column"):
            out.append((kind, diff[1], diff[2], diff[3].name))
        elif kind in ("add_index", "remove_index"):
            ix = diff[1]
            out.append((kind, *_table_of(ix), ix.name, _cols(ix), bool(ix.unique)))
        elif kind in ("add_constraint", "remove_constraint"):
            c = diff[1]
            out.append((kind, type(c).__name__, *_table_of(c), c.name, _cols(c)))
        elif kind in ("add_fk", "remove_fk"):
            fk = diff[1]
            out.append(
                (
                    kind,
                    *_table_of(fk),
                    fk.name,
                    tuple(fk.column_keys),
                    fk.referred_table.name,
                    tuple(e.column.name for e in fk.elements),
                )
            )
        elif kind in ("add_table_comment", "remove_table_comment"):
            out.append((kind, diff[1].schema, diff[1].name, diff[1].comment))
        else:
            out.append((kind, *(repr(x) for x in diff[1:])))
    return out


@dataclass
class Result:
    ours: list[tuple[Any, ...]]
    alembic: list[tuple[Any, ...]]
    raw_ours: list[Any]
    raw_alembic: list[Any]

    @property
    def agree(self) -> bool:
        return sorted(map(repr, self.ours)) == sorted(map(repr, self.alembic))


def run_both(
    connection: Connection,
    metadata: sa.MetaData,
    opts: dict[str, Any] | None = None,
) -> Result:
    """Compare ``metadata`` with the database using both engines, same options."""
    opts = {"compare_type": True, "compare_server_default": True, **(opts or {})}
    ours = compare_metadata(MigrationContext.configure(connection, opts=opts), metadata)
    theirs = alembic_compare(AlembicContext.configure(connection, opts=opts), metadata)
    d = connection.dialect
    return Result(normalize(ours, d), normalize(theirs, d), ours, theirs)


def build_database(engine: Engine, setup: sa.MetaData | Callable[[Connection], None]) -> None:
    """Create the starting schema from a MetaData (``create_all``) or a function."""
    with engine.begin() as conn:
        if isinstance(setup, sa.MetaData):
            setup.create_all(conn)
        else:
            setup(conn)


def assert_same(result: Result, divergences: Iterable[str] = ()) -> None:
    """Both engines report the same diffs, unless the scenario names a divergence."""
    divergences = list(divergences)
    for key in divergences:
        assert key in DIVERGENCES, f"unknown divergence {key!r}: add it to DIVERGENCES"
    if not divergences:
        assert sorted(map(repr, result.ours)) == sorted(map(repr, result.alembic)), (
            f"ours:    {result.ours}\nalembic: {result.alembic}"
        )
