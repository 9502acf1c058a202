"""Re-compare only the tables whose model changed since the last check.

A save usually edits one table of many. The warm worker keeps, per table present in both
the models and the database, a signature of the model table and the drift records its
comparison produced; the next child compares only tables whose signature moved (plus
tables on one side only) and reuses the rest. The cache holds only for one reflection
and one set of check options, and is off while comparator plugins are registered (a
plugin may read anything).

The signature is what the comparators read from a model table: columns with their types,
nullability, defaults, comments, keys, computed and identity settings; constraints,
indexes, the table comment and dialect options. It is built after import, so values that
come from constants, mixins, naming conventions or referenced columns are already resolved.
Taking it for every table is most of a warm check's comparison, so a table whose source
block did not change is *trusted* (``origins``): its signature is taken only after
answering, and one that moved anyway makes the worker check again (``mistrusted``).
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    MetaData,
    Table,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeEngine

from schema_lsp.autogenerate.api import compare_reflected
from schema_lsp.autogenerate.compare.registry import comparators
from schema_lsp.autogenerate.drift import drift_records
from schema_lsp.operations import ops
from schema_lsp.reflect import ReflectedSchema

from .table_cache import Entries, Entry, TableKey

_PLUGIN_TARGETS = ("autogenerate", "schema", "table", "column")
#: Type attributes that say nothing about the column (event listeners of schema types).
_SKIP = frozenset({"dispatch"})


@dataclass(frozen=True)
class Comparison:
    """Drift records of a check, the entries for the next one, and what was reused."""

    drifts: list[dict[str, Any]]
    taken: Entries
    compared: int
    reused: int
    #: Tables whose signature is still to be taken: with nothing to reuse (a cold check)
    #: the signatures serve only the next check, so they are taken on first use of
    #: ``entries``, which the child reads after it has answered.
    unsigned: Mapping[TableKey, Table] = field(default_factory=dict)
    #: Tables whose signature was not taken but trusted to be the reused entry's (their
    #: source block did not change, see ``origins``): ``mistrusted`` checks, after answering.
    trusted: Mapping[TableKey, Table] = field(default_factory=dict)

    def mistrusted(self) -> list[TableKey]:
        """Trusted tables whose signature, taken now, is not the one their results had."""
        return [
            key
            for key, table in self.trusted.items()
            if table_signature(table) != self.taken.tables[key][0]
        ]

    @cached_property
    def entries(self) -> Entries:
        """The entries for the next check, every signature taken."""
        if not self.unsigned:
            return self.taken
        tables = {
            key: (table_signature(self.unsigned[key]), entry[1]) if key in self.unsigned else entry
            for key, entry in self.taken.tables.items()
        }
        return Entries(tables, self.taken.ops)


def plugins_registered(dialect: Dialect) -> bool:
    """Whether user code registered comparators (then nothing is reused)."""
    return any(comparators.functions(t, dialect.name) for t in _PLUGIN_TARGETS)


def compare_with_reuse(
    reflected: ReflectedSchema,
    metadatas: Sequence[MetaData],
    *,
    dialect: Dialect,
    opts: dict[str, Any],
    previous: Entries,
    trusted: Container[int] = frozenset(),
) -> Comparison:
    """Drift records equal to a full comparison's, comparing only tables that changed.

    Created and dropped tables are compared every time (their ops give the order), but the
    records of an op already seen for the same table and signature are reused: rendering
    their fixes is the costly part. Tables whose id is in ``trusted`` and that have an
    entry are reused without taking their signature (see ``Comparison.trusted``).
    """
    default_schema = dialect.default_schema_name
    models: dict[TableKey, Table] = {}
    for metadata in metadatas:
        for table in metadata.tables.values():
            key = (None if table.schema == default_schema else table.schema, table.name)
            models.setdefault(key, table)
    existing = {key: table for key, table in models.items() if key in reflected.tables}
    reuse_allowed = not plugins_registered(dialect)
    batch: bool | None = opts.get("render_as_batch")
    before = previous.tables if reuse_allowed else {}
    # Nothing to reuse: signatures only serve the next check, taken after answering.
    deferred = reuse_allowed and not before
    trusting = {
        key: table for key, table in existing.items() if key in before and id(table) in trusted
    }
    signatures = {
        key: before[key][0] if key in trusting else ("" if deferred else table_signature(table))
        for key, table in existing.items()
    }
    reused = {key for key, sig in signatures.items() if key in before and before[key][0] == sig}
    run_opts = with_skipped(opts, reused, default_schema) if reused else opts
    upgrade = compare_reflected(reflected, list(metadatas), dialect=dialect, opts=run_opts)
    head: list[ops.MigrateOperation] = []
    fresh: dict[TableKey, list[ops.MigrateOperation]] = {}
    for op in upgrade.ops:
        if isinstance(op, ops.ModifyTableOps) and (op.schema, op.table_name) in existing:
            fresh.setdefault((op.schema, op.table_name), []).append(op)
        else:
            head.append(op)
    drifts: list[dict[str, Any]] = []
    op_entries: dict[str, list[dict[str, Any]]] = {}
    for op in head:
        op_key = _op_key(op, models) if reuse_allowed else None
        if op_key is not None:
            op_key += f"|{sum(1 for k in op_entries if k.startswith(op_key))}"
        cached = previous.ops.get(op_key) if op_key is not None else None
        records = cached if cached is not None else _records([op], dialect, batch)
        if op_key is not None:
            op_entries[op_key] = records
        drifts.extend(records)
    tables: dict[TableKey, Entry] = {}
    for key in sorted(existing, key=lambda k: (k[0] or "", k[1])):
        records = before[key][1] if key in reused else _records(fresh.get(key, []), dialect, batch)
        tables[key] = (signatures[key], records)
        drifts.extend(records)
    return Comparison(
        drifts,
        Entries(tables, op_entries),
        len(existing) - len(reused),
        len(reused),
        existing if deferred else {},
        trusting,
    )


def _records(
    items: list[ops.MigrateOperation], dialect: Dialect, batch: bool | None
) -> list[dict[str, Any]]:
    return [d.to_dict() for d in drift_records(items, dialect, render_as_batch=batch)]


def _op_key(op: ops.MigrateOperation, models: Mapping[TableKey, Table]) -> str | None:
    """What a created or dropped table's op depends on: the model table's signature, or
    only the reflection (the cache is per reflection). None: never reuse."""
    if isinstance(op, ops.ModifyTableOps):
        key: TableKey = (op.schema, op.table_name)
    elif isinstance(op, (ops.CreateTableOp, ops.DropTableOp)):
        key = (op.schema, op.table_name)
    else:
        return None
    model = models.get(key)
    if isinstance(op, ops.DropTableOp) or (isinstance(op, ops.ModifyTableOps) and model is None):
        signature = "database"
    elif model is not None:
        signature = table_signature(model)
    else:
        return None
    return f"{type(op).__name__}|{key[0] or ''}|{key[1]}|{signature}"


def with_skipped(
    opts: dict[str, Any], skipped: set[TableKey], default_schema: str | None
) -> dict[str, Any]:
    """``opts`` whose filters also leave out ``skipped`` tables on both sides."""
    name_filter = opts.get("include_name")
    object_filter = opts.get("include_object")

    def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        if type_ == "table" and (parent_names.get("schema_name"), name) in skipped:
            return False
        return name_filter is None or bool(name_filter(name, type_, parent_names))

    def include_object(obj: Any, name: Any, type_: str, reflected: bool, other: Any) -> bool:
        if type_ == "table" and not reflected:
            schema = getattr(obj, "schema", None)
            if (None if schema == default_schema else schema, name) in skipped:
                return False
        return object_filter is None or bool(object_filter(obj, name, type_, reflected, other))

    return {**opts, "include_name": include_name, "include_object": include_object}


def table_signature(table: Table) -> str:
    """A digest of everything the comparison reads from a model table.

    A ``hash`` of one nested tuple: this runs for every table on every check, so it must
    stay far cheaper than comparing. String hashes are salted per interpreter, and every
    child is forked from the same warm worker, so digests compare across its checks (the
    cache never leaves the worker). Classes are named by module and qualname, since user
    classes are created anew by every import.
    """
    try:
        digest = hash(
            (
                table.schema,
                table.name,
                table.comment,
                _options(table),
                tuple([_column(c) for c in table.columns]),
                tuple(sorted([_constraint(c) for c in table.constraints], key=_by_name)),
                tuple(sorted([_index(i) for i in table.indexes], key=_by_name)),
            )
        )
    except Exception:  # something we cannot describe: never reuse this table
        return f"@{id(table)}"
    return format(digest & 0xFFFFFFFFFFFFFFFF, "x")


def _name(cls: type) -> tuple[str, str]:
    return (cls.__module__, cls.__qualname__)


def _options(obj: Any) -> Any:
    # ``dialect_options`` is filled only when dialect keyword arguments were given.
    if not obj.__dict__.get("dialect_options"):
        return None
    given = sorted((str(k), repr(v)) for k, v in obj.dialect_kwargs.items())
    return tuple(given) or None


def _text(obj: Any) -> Any:
    """Stable text of a default, computed expression or constraint SQL."""
    if obj is None:
        return None
    arg = getattr(obj, "arg", obj)
    if isinstance(arg, str):
        return ("str", arg)
    text = getattr(arg, "text", None)
    if isinstance(text, str):
        return ("text", text)
    if isinstance(arg, Column):
        return ("column", arg.name)
    return (type(arg).__qualname__, str(arg))


def _freeze(value: Any, depth: int) -> Any:
    """A hashable, import-independent stand-in for a type attribute's value."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if depth > 4:
        return f"@{id(value)}"  # too deep to describe: never equal across checks
    if isinstance(value, TypeEngine):
        return _type(value, depth + 1)
    if isinstance(value, (list, tuple)):
        return tuple([_freeze(v, depth + 1) for v in value])
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(repr(_freeze(v, depth + 1)) for v in value))
    if isinstance(value, dict):
        return tuple(sorted((repr(k), repr(_freeze(v, depth + 1))) for k, v in value.items()))
    if isinstance(value, type):
        return _name(value)
    if isinstance(value, ClauseElement):
        return _text(value)
    return repr(value)  # an address in it only means no reuse


_SCALARS = (bool, int, float, str, bytes)


def _type(type_: Any, depth: int = 0) -> Any:
    """A type's class and public attributes (``repr`` of SQLAlchemy types is slow).

    In the instance's attribute order, unsorted: the same construction gives the same
    order, and another order only makes a table look changed (compared again)."""
    attrs = tuple(
        [
            (key, value if value is None or type(value) in _SCALARS else _freeze(value, depth))
            for key, value in type_.__dict__.items()
            if key[0] != "_" and key not in _SKIP
        ]
    )
    return (_name(type(type_)), attrs)


def _column(column: Column[Any]) -> Any:
    computed = column.computed
    identity = column.identity
    default = column.server_default
    onupdate = column.server_onupdate
    fks = column.foreign_keys
    return (
        column.name,
        column.key,
        _type(column.type),
        column.nullable,
        column.primary_key,
        column.autoincrement,  # True, False or "auto"
        column.system,
        column.index,
        column.unique,
        column.comment,
        None if default is None else (_text(default), _name(type(default))),
        None if onupdate is None else _text(onupdate),
        (_text(computed.sqltext), computed.persisted) if computed is not None else None,
        repr(identity) if identity is not None else None,
        tuple(
            sorted(
                (fk.target_fullname, str(fk.ondelete), str(fk.onupdate), str(fk.name)) for fk in fks
            )
        )
        if fks
        else None,
        _options(column) if column.__dict__.get("dialect_options") else None,
    )


def _by_name(described: tuple[Any, ...]) -> tuple[Any, ...]:
    """A sort key of strings only (the details may mix None and text). ``table.constraints``
    is a set: sorting makes the signature independent of its order; ties keep set order,
    which at worst makes a table look changed (compared again, never wrongly reused)."""
    return described[:4]


def _constraint(constraint: Any) -> tuple[Any, ...]:
    columns = tuple([c.name for c in getattr(constraint, "columns", ())])
    detail: Any = None
    if isinstance(constraint, ForeignKeyConstraint):
        detail = (
            tuple([e.target_fullname for e in constraint.elements]),
            constraint.ondelete,
            constraint.onupdate,
            constraint.match,
            constraint.use_alter,
        )
    elif isinstance(constraint, CheckConstraint):
        detail = _text(constraint.sqltext)
    return (
        _name(type(constraint)),
        str(constraint.name),
        type(constraint.name).__name__,
        columns,
        detail,
        getattr(constraint, "deferrable", None),
        getattr(constraint, "initially", None),
        _options(constraint),
    )


def _index(index: Index) -> tuple[Any, ...]:
    return (
        ("index", ""),
        str(index.name),
        type(index.name).__name__,
        tuple([c.name if isinstance(c, Column) else "" for c in index.expressions]),
        index.unique,
        tuple([_text(e) for e in index.expressions]),
        _options(index),
    )
