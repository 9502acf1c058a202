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


@dataclass(frozen=True)
class Divergence:
    """One deliberate difference from Alembic, and exactly which diff entries it explains.

    ``kinds`` are the diff kinds it touches (``constraint`` narrows add/remove_constraint to
    one constraint class). ``alembic_extra``: Alembic reports entries we don't (its false
    drift); ``ours_extra``: we report entries Alembic misses; ``values``: both report the
    entry but with different values (an old default spelled differently). Divergences that
    only concern order explain nothing here: ``assert_same`` ignores order, and their own
    tests pin our order down.
    """

    reason: str
    kinds: frozenset[str] = frozenset()
    alembic_extra: bool = False
    ours_extra: bool = False
    values: bool = False
    constraint: str | None = None

    def explains(self, entry: tuple[Any, ...], side: str) -> bool:
        if entry[0] not in self.kinds:
            return False
        if self.constraint and entry[0].endswith("_constraint") and entry[1] != self.constraint:
            return False
        return {"alembic": self.alembic_extra, "ours": self.ours_extra, "values": self.values}[side]


def _d(reason: str, kinds: str = "", **flags: Any) -> Divergence:
    return Divergence(reason, frozenset(kinds.split()), **flags)


_INDEX, _FK = "add_index remove_index", "add_fk remove_fk"
_CONSTRAINT = "add_constraint remove_constraint"

#: Every deliberate difference from Alembic 1.20, with its reason. Scenarios name the key.
DIVERGENCES: dict[str, Divergence] = {
    "alembic-false-default-sqlite": _d(
        "Alembic compares SQLite defaults as raw text, so '' vs \"''\" and function "
        "defaults come back as false modify_default; we normalise both sides.",
        "modify_default",
        alembic_extra=True,
        values=True,
    ),
    "alembic-false-default-mariadb": _d(
        "Alembic reports unchanged MariaDB defaults (quoted literals, current_timestamp()) "
        "as modify_default; we normalise both sides.",
        "modify_default",
        alembic_extra=True,
        values=True,
    ),
    "alembic-false-type-sqlite": _d(
        "Alembic compares a type SQLite only knows by affinity (CLOB reflects as TEXT) by "
        "name; we compare affinities when reflection can't give the name back.",
        "modify_type",
        alembic_extra=True,
    ),
    "alembic-false-type-postgresql": _d(
        "Alembic reports FLOAT(24) vs REAL and NCHAR vs CHAR on PostgreSQL, which are the "
        "same types there.",
        "modify_type",
        alembic_extra=True,
    ),
    "alembic-false-type-mariadb": _d(
        "Alembic reports REAL vs DOUBLE, NATIONAL VARCHAR vs VARCHAR CHARACTER SET utf8mb3 and "
        "BLOB(n) vs TINYBLOB on MariaDB, which are how MariaDB stores those types.",
        "modify_type",
        alembic_extra=True,
    ),
    "alembic-crash-quoted-default-pg": _d(
        "Alembic renders a str server_default containing a quote unescaped into a SELECT on "
        "PostgreSQL and raises; we compare text without querying.",
        "modify_default",
        ours_extra=True,
    ),
    "alembic-misses-unsigned": _d(
        "Alembic does not report INTEGER vs INTEGER UNSIGNED on MySQL/MariaDB; we do.",
        "modify_type",
        ours_extra=True,
    ),
    "mysql-enum-order": _d(
        "Alembic ignores a reordered MySQL/MariaDB ENUM; the server stores values by position "
        "(sort order, numeric value), so we report it.",
        "modify_type",
        ours_extra=True,
    ),
    "pk-change": _d(
        "Alembic does not detect primary key changes; we report them.",
        _CONSTRAINT,
        ours_extra=True,
        constraint="PrimaryKeyConstraint",
    ),
    "pg-enum-values": _d(
        "Alembic does not compare PostgreSQL enum values; we do.", "modify_type", ours_extra=True
    ),
    "partial-index-predicate": _d(
        "Alembic ignores a changed partial-index predicate; we don't.", _INDEX, ours_extra=True
    ),
    "check-constraints": _d(
        "Alembic ignores CHECK constraints by default; we compare them by name and normalised "
        "expression. Unnamed checks are skipped on both sides: the database invents their "
        "names, so they can't be matched reliably.",
        _CONSTRAINT,
        ours_extra=True,
        constraint="CheckConstraint",
    ),
    "sqlite-expression-index-new-table": _d(
        "Alembic drops SQLite expression indexes from the comparison (SQLAlchemy can't "
        "reflect them), even for a table it creates; we still emit add_index for a created "
        "table's expression indexes.",
        "add_index",
        ours_extra=True,
    ),
    "alembic-false-index-desc-name": _d(
        "Alembic compares Index.columns, which leaves out a column named by string in "
        "desc('col'), so on SQLite and MariaDB (no sort order reflected) such an index is "
        "reported as changed on every run; we resolve the name.",
        _INDEX,
        alembic_extra=True,
    ),
    "alembic-false-fk-default-schema": _d(
        "Alembic reports every foreign key of a table declared with schema=<the default "
        "schema> as removed and added (the model says 'public', the database None); we treat "
        "the default schema's name and None as the same.",
        _FK,
        alembic_extra=True,
    ),
    "alembic-crash-fk-target-not-in-model": _d(
        "Alembic raises NoReferencedTableError when a changed foreign key points to a table "
        "the model doesn't declare; we report it with the target as written.",
        _FK,
        ours_extra=True,
    ),
    "mysql-fk-index-dropped-with-key": _d(
        "MySQL and MariaDB keep the index they created for a foreign key when the key is "
        "dropped; Alembic's migration leaves it behind (the next check reports it), ours "
        "drops it right after the key, unless the model declares that index.",
        "remove_index",
        ours_extra=True,
    ),
    "mysql-fk-drops-first": _d(
        "On MySQL and MariaDB a removed foreign key is dropped before the indexes and unique "
        "constraints of its table, one of which may back it (error 1553 otherwise); Alembic "
        "drops the indexes first."
    ),
    "fk-order": _d(
        "Alembic lists several added/removed foreign keys of one table in set order; ours "
        "are sorted by name."
    ),
    "remove-order": _d(
        "Alembic drops removed tables in set order; ours is reverse dependency order, "
        "deterministic."
    ),
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


def _pair_key(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    """What identifies an entry apart from its values: kind and object names."""
    return entry[:5] if str(entry[0]).endswith("_constraint") else entry[:4]


def assert_same(result: Result, divergences: Iterable[str] = ()) -> None:
    """Both engines report the same diffs, except the entries a named divergence explains.

    Entries both report identically always match; what is left on one side must be
    explained by a named divergence (see ``Divergence``), and every divergence named must
    explain something, so a scenario can't name one it doesn't need.
    """
    names = list(divergences)
    for key in names:
        assert key in DIVERGENCES, f"unknown divergence {key!r}: add it to DIVERGENCES"
    only_alembic = list(result.alembic)
    only_ours: list[tuple[Any, ...]] = []
    for entry in result.ours:
        if entry in only_alembic:
            only_alembic.remove(entry)
        else:
            only_ours.append(entry)
    leftovers: list[tuple[tuple[Any, ...], str]] = []
    for entry in only_ours:
        twin = next((e for e in only_alembic if _pair_key(e) == _pair_key(entry)), None)
        if twin is not None:
            only_alembic.remove(twin)
            leftovers.append((entry, "values"))
        else:
            leftovers.append((entry, "ours"))
    leftovers.extend((entry, "alembic") for entry in only_alembic)
    used: set[str] = set()
    unexplained: list[str] = []
    for entry, side in leftovers:
        by = [k for k in names if DIVERGENCES[k].explains(entry, side)]
        used.update(by)
        if not by:
            unexplained.append(f"{side}: {entry}")
    assert not unexplained, (
        "unexplained differences from Alembic:\n  "
        + "\n  ".join(unexplained)
        + f"\nours:    {result.ours}\nalembic: {result.alembic}"
    )
    unused = [k for k in names if k not in used]
    assert not unused, f"divergences named but not needed: {unused}"
