"""Typed drift records: what the language server and the CLI show for each difference.

Alembic's diff tuples stay the compatibility surface; inside schema-lsp every difference is
a ``Drift`` with a stable ``kind`` (Alembic's diff kind), the names it concerns, what the
models say and what the database has, in words, and whether applying it loses data. Records
are derived from the op structures, so there is one source of truth for "what changed".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DefaultClause,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.sql.elements import TextClause

from ..operations import ops

#: Drift kinds that drop data when the model side is applied.
DROPPING_KINDS = frozenset({"remove_table", "remove_column"})


@dataclass(frozen=True)
class Drift:
    """One difference between the models and the database."""

    kind: str
    schema: str | None
    table: str | None
    name: str | None = None
    columns: tuple[str, ...] = ()
    model: str | None = None
    database: str | None = None
    message: str = ""
    destructive: bool = False
    #: What applying this would lose, when ``destructive``.
    loss: str | None = None
    #: Which argument of the model's definition differs ('type', 'nullable', ...), if any.
    attribute: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Migration code that fixes this drift (``Fix.to_dict()``), when it was rendered.
    fix: dict[str, Any] | None = None

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else (self.table or "")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["columns"] = list(self.columns)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Drift:
        data = dict(data)
        data["columns"] = tuple(data.get("columns") or ())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def drift_records(
    upgrade_ops: ops.UpgradeOps | Iterable[ops.MigrateOperation],
    dialect: Dialect | None = None,
    *,
    render_fixes: bool = True,
    render_as_batch: bool | None = None,
) -> list[Drift]:
    """Records for every op of an upgrade, in the op order.

    Each record carries the migration code that fixes it (``render_fixes``; batch
    blocks by default on SQLite, as it needs them).
    """
    dialect = dialect or DefaultDialect()
    items = upgrade_ops.ops if isinstance(upgrade_ops, ops.UpgradeOps) else upgrade_ops
    records: list[Drift] = []
    for op, record in _records(items, dialect):
        if render_fixes:
            from .fixes import only, render_fix

            batch = dialect.name == "sqlite" if render_as_batch is None else render_as_batch
            single = only(op, record.kind) if isinstance(op, ops.AlterColumnOp) else op
            try:
                fix = render_fix(
                    single, table=record.table, schema=record.schema, dialect=dialect, batch=batch
                )
            except Exception as exc:  # a custom op without a renderer: no quick fix for it
                record = replace(record, extra={**record.extra, "fix_error": str(exc)})
            else:
                record = replace(record, fix=fix.to_dict())
        records.append(record)
    return records


def _records(
    items: Iterable[ops.MigrateOperation], dialect: Dialect
) -> Iterator[tuple[ops.MigrateOperation, Drift]]:
    for op in items:
        if isinstance(op, ops.ModifyTableOps):
            yield from _records(op.ops, dialect)
        elif isinstance(op, ops.AlterColumnOp):
            for alter_record in _alter_records(op, dialect):
                yield op, alter_record
        else:
            single = _record(op, dialect)
            if single is not None:
                yield op, single


def describe_type(type_: Any, dialect: Dialect) -> str:
    if type_ is None:
        return "unknown type"
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        return repr(type_)


def describe_default(default: Any, dialect: Dialect) -> str:
    if default is None or default is False:
        return "no default"
    if isinstance(default, DefaultClause):
        arg = default.arg
        if isinstance(arg, str):
            return "'" + arg.replace("'", "''") + "'"
        if isinstance(arg, TextClause):
            return arg.text
        try:
            return str(arg.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        except Exception:
            return repr(arg)
    return repr(default)


def describe_column(col: Column[Any], dialect: Dialect) -> str:
    parts = [describe_type(col.type, dialect), "NULL" if col.nullable else "NOT NULL"]
    if col.server_default is not None:
        parts.append(f"DEFAULT {describe_default(col.server_default, dialect)}")
    return " ".join(parts)


def _qualified(schema: str | None, table: str | None) -> str:
    return f"{schema}.{table}" if schema else (table or "")


def _cols(obj: Any) -> tuple[str, ...]:
    try:
        cols = tuple(c.name for c in obj.columns)
    except Exception:
        cols = ()
    if not cols and hasattr(obj, "expressions"):
        cols = tuple(str(e) for e in obj.expressions)
    return cols


def _constraint_label(c: Any) -> str:
    if isinstance(c, PrimaryKeyConstraint):
        return "primary key"
    if isinstance(c, UniqueConstraint):
        return "unique constraint"
    if isinstance(c, CheckConstraint):
        return "check constraint"
    if isinstance(c, ForeignKeyConstraint):
        return "foreign key"
    return "constraint"


def _table_of(obj: Any) -> Table | None:
    table = getattr(obj, "table", None)
    if table is None:
        table = getattr(obj, "parent", None)
    return table if isinstance(table, Table) else None


def _presence(
    kind: str,
    schema: str | None,
    table: str | None,
    where: str,
    what: str,
    *,
    name: str | None = None,
    columns: tuple[str, ...] = (),
    loss: str | None = None,
    extra: dict[str, Any] | None = None,
    detail: str | None = None,
) -> Drift:
    """A record for something only one side has (``add_*``: the models; else the database).

    ``detail`` (the column's definition, say) ends the message and fills model/database.
    """
    added = kind.startswith("add")
    side = (
        "in the models but not in the database"
        if added
        else "in the database but not in the models"
    )
    return Drift(
        kind,
        schema,
        table,
        name,
        columns,
        model=(detail or what) if added else None,
        database=None if added else (detail or what),
        message=f"{where}: {what} is {side}" + (f" ({detail})" if detail else ""),
        destructive=loss is not None and not added,
        loss=None if added else loss,
        extra=extra or {},
    )


def _record(op: ops.MigrateOperation, dialect: Dialect) -> Drift | None:
    diff = op.to_diff_tuple()
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        table: Table = diff[1]
        where = _qualified(table.schema, table.name)
        return _presence(
            kind,
            table.schema,
            table.name,
            where,
            "table",
            columns=tuple(c.name for c in table.columns),
            loss=f"dropping table {where} deletes all its rows",
        )
    if kind in ("add_column", "remove_column"):
        schema, tname, col = diff[1], diff[2], diff[3]
        where = f"{_qualified(schema, tname)}.{col.name}"
        return _presence(
            kind,
            schema,
            tname,
            where,
            "column",
            detail=describe_column(col, dialect),
            name=col.name,
            columns=(col.name,),
            loss=f"dropping column {where} deletes its data",
        )
    if kind in ("add_index", "remove_index"):
        ix: Index = diff[1]
        owner = _table_of(ix)
        schema, tname = (owner.schema, owner.name) if owner is not None else (None, None)
        cols = _cols(ix)
        label = "unique index" if ix.unique else "index"
        what = f"{label} {ix.name or '(unnamed)'} ({', '.join(cols)})"
        return _presence(
            kind,
            schema,
            tname,
            _qualified(schema, tname),
            what,
            name=ix.name if isinstance(ix.name, str) else None,
            columns=cols,
        )
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        c = diff[1]
        owner = _table_of(c)
        schema, tname = (owner.schema, owner.name) if owner is not None else (None, None)
        cols = _cols(c)
        label = _constraint_label(c)
        what = f"{label} {c.name or '(unnamed)'} ({', '.join(cols)})"
        if isinstance(c, ForeignKeyConstraint) and c.elements:
            target = c.elements[0].target_fullname.rsplit(".", 1)[0]
            what += f" -> {target}"
        if isinstance(c, CheckConstraint):
            what += f" CHECK ({c.sqltext})"
        return _presence(
            kind,
            schema,
            tname,
            _qualified(schema, tname),
            what,
            name=c.name if isinstance(c.name, str) else None,
            columns=cols,
            extra={"constraint": label},
        )
    if kind == "add_table_comment":
        table = diff[1]
        existing = diff[2]
        return Drift(
            kind,
            table.schema,
            table.name,
            model=table.comment,
            database=existing,
            message=f"{_qualified(table.schema, table.name)}: table comment differs: model "
            f"says {table.comment!r}, database has {existing!r}",
            attribute="comment",
        )
    if kind == "remove_table_comment":
        table = diff[1]
        return Drift(
            kind,
            table.schema,
            table.name,
            database=table.comment,
            message=f"{_qualified(table.schema, table.name)}: table comment "
            f"{table.comment!r} is in the database but not in the models",
            attribute="comment",
        )
    return Drift(kind, None, None, message=f"{kind}: {diff[1:]!r}")


def not_null_loss(where: str, null_rows: int | None) -> str | None:
    """What making column ``where`` NOT NULL costs: unknown rows (None) may make it fail,
    counted ones do, and none costs nothing (None: not destructive)."""
    if null_rows is None:
        return f"making {where} NOT NULL fails if any row holds NULL"
    if null_rows == 0:
        return None
    holds = "row holds" if null_rows == 1 else "rows hold"
    return f"making {where} NOT NULL fails: {null_rows} {holds} NULL"


def needs_null_count(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` (``Drift.to_dict``) makes a column that allows NULL in the database
    NOT NULL, so the rows holding NULL decide whether applying it fails."""
    return (
        record.get("kind") == "modify_nullable"
        and record.get("model") == "NOT NULL"
        and record.get("database") == "NULL"
        and bool(record.get("table"))
        and bool(record.get("name"))
    )


def with_null_rows(record: Mapping[str, Any], null_rows: int) -> dict[str, Any]:
    """``record`` (``Drift.to_dict``, see ``needs_null_count``) once the rows holding NULL
    are counted: the loss says how many, and with none it is not destructive at all."""
    where = f"{_qualified(record.get('schema'), record.get('table'))}.{record.get('name')}"
    loss = not_null_loss(where, null_rows)
    return {
        **record,
        "destructive": loss is not None,
        "loss": loss,
        "extra": {**(record.get("extra") or {}), "null_rows": null_rows},
    }


_ATTRIBUTE = {
    "modify_type": "type",
    "modify_nullable": "nullable",
    "modify_default": "server_default",
    "modify_comment": "comment",
}


def _narrows(old: Any, new: Any) -> bool:
    """Whether changing ``old`` to ``new`` can truncate or reject existing values."""
    if isinstance(old, sqltypes.Text) and isinstance(new, sqltypes.String):
        return not isinstance(new, sqltypes.Text) and new.length is not None
    if isinstance(old, sqltypes.String) and isinstance(new, sqltypes.String):
        if not new.length:
            return False
        return old.length is None or new.length < old.length
    if isinstance(old, sqltypes.Integer) and isinstance(new, sqltypes.Integer):

        def rank(t: Any) -> int:
            if isinstance(t, sqltypes.BigInteger):
                return 2
            if isinstance(t, sqltypes.SmallInteger):
                return 0
            return 1

        return rank(new) < rank(old)
    if isinstance(old, sqltypes.Numeric) and isinstance(new, sqltypes.Numeric):
        return bool(
            (old.precision and new.precision and new.precision < old.precision)
            or (old.scale and new.scale is not None and new.scale < old.scale)
        )
    return type(old)._type_affinity is not type(new)._type_affinity if old is not None else False


def _has(default: Any) -> bool:
    return default is not None and default is not False


def _alter_records(op: ops.AlterColumnOp, dialect: Dialect) -> Iterator[Drift]:
    where = f"{_qualified(op.schema, op.table_name)}.{op.column_name}"

    def null_word(v: bool | None) -> str:
        return "" if v is None else (" NULL" if v else " NOT NULL")

    for diff in op.to_diff_tuple():
        kind = diff[0]
        old, new = diff[5], diff[6]
        destructive = False
        loss = None
        if kind == "modify_type":
            model, database = describe_type(new, dialect), describe_type(old, dialect)
            destructive = _narrows(old, new)
            if destructive:
                loss = f"changing {where} to {model} may truncate or reject existing values"
        elif kind == "modify_nullable":
            model, database = null_word(new).strip(), null_word(old).strip()
            destructive = new is False
            if destructive:
                loss = not_null_loss(where, None)
        elif kind == "modify_default":
            model = "DEFAULT " + describe_default(new, dialect) if _has(new) else "no default"
            database = "DEFAULT " + describe_default(old, dialect) if _has(old) else "no default"
        else:
            model = f"comment {new!r}" if new is not None else "no comment"
            database = f"comment {old!r}" if old is not None else "no comment"
        yield Drift(
            kind,
            op.schema,
            op.table_name,
            op.column_name,
            (op.column_name,),
            model=model,
            database=database,
            message=f"{where}: model says {model}, database has {database}",
            destructive=destructive,
            loss=loss,
            attribute=_ATTRIBUTE.get(kind),
        )
