"""Indexes, unique constraints, foreign keys and primary keys.

Same diff tuples, ops and order within a table as Alembic's ``_compare_indexes_and_uniques``
and ``_compare_foreign_keys``, with the dialect corrections Alembic applies (PostgreSQL's
constraint-backing indexes, MySQL's implicit foreign-key indexes and unique-index duality,
SQLite's unreflectable expression indexes) reproduced on reflected records. Unchanged keys
are compared as plain signatures (name, columns, unique, predicate); SQLAlchemy objects are
only built for the database side of what is reported.

Beyond Alembic: primary key changes, changed partial-index predicates, and expression
indexes of tables created on SQLite (see ``DIVERGENCES`` in the differential tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    exc,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import expression
from sqlalchemy.sql.elements import ColumnClause, UnaryExpression, conv

from ...operations import ops
from ...reflect import ReflectedTable
from ...reflect.objects import build_table
from ..dispatch import Deferred, PriorityDispatchResult, builtin
from .mysql_fk_indexes import (
    drop_implicit_index,
    insert_before_index_drops,
    mark_implicit_index,
    mark_index_dropped_with_table,
)
from .registry import builtin_comparators
from .sqltext import compile_sql, normalize_sql, pg_index_expr
from .tables import conn_table_record

if TYPE_CHECKING:
    from ..api import AutogenContext

_MYSQL = ("mysql", "mariadb")


def final_name(obj: Any, dialect: Dialect) -> str | None:
    """The name the database gets for a model constraint or index (naming conventions and
    truncation applied), None when it gets a generated one."""
    raw = obj.name
    if raw is None:
        return None
    if isinstance(raw, str) and (len(raw) <= 30 or len(raw) <= _max_name_length(dialect)):
        return raw  # fast path: nothing to apply or truncate (no backend allows under 30)
    name: str | None = dialect.identifier_preparer.format_constraint(obj, _alembic_quote=False)
    return name


def _max_name_length(dialect: Dialect) -> int:
    n: int = dialect.max_identifier_length or 10**6
    ix: int | None = getattr(dialect, "max_index_name_length", None)
    return min(n, ix) if ix else n


def reflected_name(name: Any) -> Any:
    """A name read from the database, marked final (``conv``) as Alembic does, so naming
    conventions don't rewrite it and renderers emit ``op.f()``."""
    if name is None or isinstance(name, conv):
        return name
    return conv(name)


def _name_str(name: Any) -> str | None:
    return name if isinstance(name, str) else None


def _is_expression(expr: Any) -> bool:
    while isinstance(expr, UnaryExpression):
        expr = expr.element
    return not isinstance(expr, ColumnClause) or bool(expr.is_literal)


def is_expression_index(index: Index) -> bool:
    return any(_is_expression(e) for e in index.expressions)


# --------------------------------------------------------------------------- signatures


class _Sig:
    """One index or unique constraint, from the model or the database, as plain values.

    ``columns`` are the column names Alembic compares for indexes (in order) and
    ``unnamed`` the name-free identity used to match unnamed unique constraints.
    """

    __slots__ = ("columns", "is_index", "name", "obj", "record", "unique", "unnamed")

    def __init__(
        self,
        is_index: bool,
        name: str | None,
        unique: bool,
        columns: tuple[str, ...],
        unnamed: tuple[Any, ...],
        obj: Any = None,
        record: Any = None,
    ) -> None:
        self.is_index = is_index
        self.name = name
        self.unique = unique
        self.columns = columns
        self.unnamed = unnamed
        self.obj = obj
        self.record = record


def _meta_index_columns(ix: Index) -> tuple[str, ...]:
    """Column names of a model index. ``Index.columns`` (what Alembic compares) leaves out
    columns named by string inside ``desc("col")``; take them from the expressions when every
    element is a plain, possibly sorted, column."""
    names = []
    e: Any
    for e in ix.expressions:
        while isinstance(e, UnaryExpression):
            e = e.element
        if isinstance(e, ColumnClause) and not e.is_literal:
            names.append(e.name)
        elif type(e).__name__ == "_textual_label_reference" and isinstance(e.element, str):
            names.append(e.element)  # desc("col"): SQLAlchemy's reference by name
        else:
            return tuple(c.name for c in ix.columns)
    return tuple(names)


def _meta_index_sig(ix: Index, dialect: Dialect) -> _Sig:
    return _Sig(
        True,
        final_name(ix, dialect),
        bool(ix.unique),
        _meta_index_columns(ix),
        (bool(ix.unique), *(getattr(e, "name", None) for e in ix.expressions)),
        obj=ix,
    )


def _meta_unique_sig(uq: UniqueConstraint, dialect: Dialect) -> _Sig:
    cols = tuple(c.name for c in uq.columns)
    return _Sig(False, final_name(uq, dialect), True, cols, tuple(sorted(cols)), obj=uq)


def _conn_index_sig(ix: Any) -> _Sig:
    names = ix["column_names"]
    return _Sig(
        True,
        ix["name"],
        bool(ix["unique"]),
        tuple(n for n in names if n is not None),
        (bool(ix["unique"]), *names),
        record=ix,
    )


def _conn_unique_sig(uq: Any) -> _Sig:
    cols = tuple(uq["column_names"])
    return _Sig(False, uq["name"], True, cols, tuple(sorted(cols)), record=uq)


# ----------------------------------------------------------- database-side objects


_SORTING: dict[str, Callable[[Any], Any]] = {
    "asc": expression.asc,
    "desc": expression.desc,
    "nulls_first": expression.nullsfirst,
    "nulls_last": expression.nullslast,
    "nullsfirst": expression.nullsfirst,
    "nullslast": expression.nullslast,
}


def _reflected_options(record: Any, dialect: Dialect) -> dict[str, Any]:
    options = dict(record.get("dialect_options") or {})
    if dialect.name == "postgresql" and not options.get("postgresql_include"):
        options.pop("postgresql_include", None)
    return options


def conn_index(record: Any, table: Table, dialect: Dialect) -> Index:
    """The ``Index`` a reflected index stands for, on the reflected table."""
    sorting = record.get("column_sorting") or {}
    expressions = record.get("expressions") or []
    exprs: list[Any] = []
    for i, cname in enumerate(record["column_names"]):
        item: Any
        if cname is None:
            key = expressions[i]
            item = text(key)
        else:
            key = cname
            item = table.c[cname]
        for op in sorting.get(key, ()):
            if op in _SORTING:
                item = _SORTING[op](item)
        exprs.append(item)
    ix = Index(
        reflected_name(record["name"]),
        *exprs,
        unique=record["unique"],  # as reflected (SQLite: 0/1), which Alembic renders as is
        _table=table,
        **_reflected_options(record, dialect),
    )
    if "duplicates_constraint" in record:
        ix.info["duplicates_constraint"] = record["duplicates_constraint"]
    return ix


def conn_unique(record: Any, table: Table, dialect: Dialect) -> UniqueConstraint:
    """The ``UniqueConstraint`` a reflected unique constraint stands for."""
    uq = UniqueConstraint(
        *[table.c[c] for c in record["column_names"]],
        name=reflected_name(record["name"]),
        **_reflected_options(record, dialect),
    )
    if "duplicates_index" in record:
        uq.info["duplicates_index"] = record["duplicates_index"]
    return uq


# ------------------------------------------------ PostgreSQL expression comparison

_SORTING_TEXT = {
    "asc": " asc",
    "desc": " desc",
    "nulls_first": " nulls first",
    "nullsfirst": " nulls first",
    "nulls_last": " nulls last",
    "nullslast": " nulls last",
}


def _sorting_suffix(ops_: Iterable[str]) -> str:
    return "".join(_SORTING_TEXT.get(op, "") for op in ops_)


def _meta_pg_elements(ix: Index, dialect: Dialect) -> list[str]:
    out = []
    for e in ix.expressions:
        if isinstance(e, Column):
            out.append(e.name)  # fast path: a plain column needs no compiler
        else:
            out.append(compile_sql(e, dialect))
    return out


def _conn_pg_elements(record: Any) -> list[str]:
    sorting = record.get("column_sorting") or {}
    expressions = record.get("expressions") or []
    out = []
    for i, cname in enumerate(record["column_names"]):
        key = expressions[i] if cname is None else cname
        out.append(key + _sorting_suffix(sorting.get(key, ())))
    return out


def _nulls_not_distinct(options: Any) -> bool:
    return bool(options.get("postgresql_nulls_not_distinct"))


def _index_predicate(obj_or_record: Any, dialect: Dialect, meta: bool) -> str | None:
    """The normalised WHERE of a partial index (PostgreSQL, SQLite), None when there is
    none."""
    key = f"{dialect.name}_where"
    if meta:
        where = (
            obj_or_record.dialect_options[dialect.name].get("where")
            if (dialect.name in obj_or_record.dialect_options)
            else None
        )
        if where is None:
            return None
        where = compile_sql(where, dialect)
    else:
        where = (obj_or_record.get("dialect_options") or {}).get(key)
        if where is None:
            return None
        if not isinstance(where, str):  # SQLite's reflection gives a text() clause
            where = where.text
    return normalize_sql(where, dialect.name)


def _reflects_predicates(dialect: Dialect) -> bool:
    return dialect.name in ("postgresql", "sqlite")


def _indexes_differ(meta: _Sig, conn: _Sig, dialect: Dialect, table_name: str) -> bool | None:
    """True if changed, False if equal, None if it can't be compared (Alembic's skip)."""
    if meta.unique != conn.unique:
        return True
    if dialect.name == "postgresql":
        m_exprs = list(meta.obj.expressions)
        r_elems = _conn_pg_elements(conn.record)
        if len(m_exprs) != len(r_elems):
            return True
        skip = False
        for m_e, r_text in zip(_meta_pg_elements(meta.obj, dialect), r_elems, strict=True):
            if pg_index_expr(m_e, table_name) == pg_index_expr(r_text, table_name):
                continue
            if m_e.strip().endswith("_ops") and (" " in m_e or ")" in m_e):
                skip = True  # an operator class inside the expression: can't compare
                continue
            return True
        if _nulls_not_distinct(meta.obj.dialect_kwargs) != _nulls_not_distinct(
            conn.record.get("dialect_options") or {}
        ):
            return True
        if _predicates_differ(meta, conn, dialect):
            return True
        return None if skip else False
    if meta.columns != conn.columns:
        return True
    return _predicates_differ(meta, conn, dialect)


def _predicates_differ(meta: _Sig, conn: _Sig, dialect: Dialect) -> bool:
    """Alembic ignores partial-index predicates; a changed WHERE is a changed index."""
    if not _reflects_predicates(dialect):
        return False
    return _index_predicate(meta.obj, dialect, True) != _index_predicate(
        conn.record, dialect, False
    )


def _uniques_differ(meta: _Sig, conn: _Sig, dialect: Dialect) -> bool:
    if meta.unnamed != conn.unnamed:
        return True
    if dialect.name == "postgresql":
        return _nulls_not_distinct(meta.obj.dialect_kwargs) != _nulls_not_distinct(
            conn.record.get("dialect_options") or {}
        )
    return False


# ------------------------------------------------------- indexes and unique constraints


def _name_filtered(
    ac: AutogenContext, items: Iterable[Any], type_: str, tname: str, schema: str | None
) -> list[Any]:
    if not ac._name_filters:
        return list(items)
    return [
        it
        for it in items
        if ac.run_name_filters(it["name"], type_, {"table_name": tname, "schema_name": schema})
    ]


@builtin_comparators.dispatch_for("table", subgroup="indexes")
@builtin
def compare_indexes_and_uniques(
    autogen_context: AutogenContext,
    modify_ops: ops.ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Any,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    ac = autogen_context
    dialect = ac.dialect
    record = conn_table_record(conn_table)
    is_create = record is None
    is_drop = metadata_table is None

    meta_uqs: list[UniqueConstraint] = []
    meta_ixs: list[Index] = []
    if metadata_table is not None:
        meta_uqs = [c for c in metadata_table.constraints if isinstance(c, UniqueConstraint)]
        meta_ixs = sorted(metadata_table.indexes, key=lambda i: str(i.name))
        if not meta_uqs and not meta_ixs and record is None:
            return PriorityDispatchResult.CONTINUE

    conn_uq_records: list[Any] = []
    conn_ix_records: list[Any] = []
    if record is not None:
        conn_uq_records = _name_filtered(
            ac, record.unique_constraints, "unique_constraint", tname, schema
        )
        conn_ix_records = _name_filtered(ac, record.indexes, "index", tname, schema)
        if is_drop:
            conn_uq_records = []  # dropped with the table
        if not (conn_uq_records or conn_ix_records or meta_uqs or meta_ixs):
            return PriorityDispatchResult.CONTINUE

    # Dialect corrections, on records and model objects, before any signature is built.
    if any(uq.get("duplicates_index") for uq in conn_uq_records):
        conn_uq_records, conn_ix_records = _correct_uq_duplicates_uix(
            conn_uq_records, conn_ix_records, meta_uqs, meta_ixs, dialect
        )
    if dialect.name == "postgresql":
        conn_ix_records = [ix for ix in conn_ix_records if not ix.get("duplicates_constraint")]
    elif dialect.name in _MYSQL and record is not None:
        conn_ix_records, meta_ixs = _correct_mysql_fk_indexes(record, conn_ix_records, meta_ixs)
    elif dialect.name == "sqlite" and not is_create:
        # SQLAlchemy can't reflect SQLite expression indexes: compare only those it saw.
        # (Alembic also drops them from tables it creates; we emit them there.)
        conn_ix_names = {ix["name"] for ix in conn_ix_records}
        meta_ixs = [
            ix
            for ix in meta_ixs
            if final_name(ix, dialect) in conn_ix_names or not is_expression_index(ix)
        ]

    meta_uq_sigs = [_meta_unique_sig(uq, dialect) for uq in meta_uqs]
    meta_ix_sigs = [_meta_index_sig(ix, dialect) for ix in meta_ixs]
    conn_uq_sigs = [_conn_unique_sig(uq) for uq in conn_uq_records]
    conn_ix_sigs = [_conn_index_sig(ix) for ix in conn_ix_records]

    metadata_names: dict[str | None, _Sig] = {}
    for sig in meta_uq_sigs:
        if sig.name is not None:
            metadata_names[sig.name] = sig
    for sig in meta_ix_sigs:
        metadata_names[sig.name] = sig
    conn_uqs_by_name = {s.name: s for s in conn_uq_sigs}
    conn_ixs_by_name = {s.name: s for s in conn_ix_sigs}
    conn_names: dict[str, _Sig] = {}
    for sig in (*conn_ix_sigs, *conn_uq_sigs):
        if isinstance(sig.name, str):
            conn_names[sig.name] = sig
    doubled = {
        name: (conn_uqs_by_name[name], conn_ixs_by_name[name])
        for name in set(conn_uqs_by_name).intersection(conn_ixs_by_name)
    }
    conn_uqs_by_sig = {s.unnamed: s for s in conn_uq_sigs}
    meta_uqs_by_sig = {s.unnamed: s for s in meta_uq_sigs}
    unnamed_meta_uqs = {s.unnamed: s for s in meta_uq_sigs if s.name is None}

    table: list[Table] = []

    def conn_obj(sig: _Sig) -> Any:
        if sig.obj is None:
            if not table:
                assert isinstance(conn_table, Deferred)
                table.append(conn_table.value)
            make = conn_index if sig.is_index else conn_unique
            sig.obj = make(sig.record, table[0], dialect)
        return sig.obj

    # Filters get a model object's own name (as Alembic passes it), not the final one.
    def added(sig: _Sig) -> None:
        if sig.is_index:
            if ac.run_object_filters(sig.obj, sig.obj.name, "index", False, None):
                create = ops.CreateIndexOp.from_index(sig.obj)
                if is_create:
                    mark_index_dropped_with_table(create, sig.obj, dialect.name)
                modify_ops.ops.append(create)
        elif not (is_create or is_drop) and ac.run_object_filters(
            sig.obj, _name_str(sig.obj.name), "unique_constraint", False, None
        ):
            modify_ops.ops.append(ops.AddConstraintOp.from_constraint(sig.obj))

    def removed(sig: _Sig) -> None:
        if sig.is_index:
            obj = conn_obj(sig)
            if ac.run_object_filters(obj, sig.name, "index", True, None):
                modify_ops.ops.append(ops.DropIndexOp.from_index(obj))
        elif not (is_create or is_drop):
            obj = conn_obj(sig)
            if ac.run_object_filters(obj, sig.name, "unique_constraint", True, None):
                modify_ops.ops.append(ops.DropConstraintOp.from_constraint(obj))

    def changed(old: _Sig, new: _Sig) -> None:
        old_obj = conn_obj(old)
        if old.is_index:
            if ac.run_object_filters(new.obj, new.obj.name, "index", False, old_obj):
                modify_ops.ops.append(ops.DropIndexOp.from_index(old_obj))
                modify_ops.ops.append(ops.CreateIndexOp.from_index(new.obj))
        elif ac.run_object_filters(
            new.obj, _name_str(new.obj.name), "unique_constraint", False, old_obj
        ):
            modify_ops.ops.append(ops.DropConstraintOp.from_constraint(old_obj))
            modify_ops.ops.append(ops.AddConstraintOp.from_constraint(new.obj))

    for name in sorted(set(conn_names).difference(metadata_names)):
        conn_sig = conn_names[name]
        if name in doubled:
            conn_uq, conn_ix = doubled[name]
            if conn_uq.unnamed in unnamed_meta_uqs:
                continue
            if (
                all(conn_ix.unnamed != m.unnamed for m in meta_ix_sigs)
                and conn_uq.unnamed not in meta_uqs_by_sig
            ):
                removed(conn_uq)
                removed(conn_ix)
        elif not conn_sig.is_index and conn_sig.unnamed in unnamed_meta_uqs:
            continue
        else:
            removed(conn_sig)

    for name in sorted(n for n in metadata_names if n in conn_names):
        meta_sig = metadata_names[name]
        if name in doubled:
            conn_sig = doubled[name][1] if meta_sig.is_index else doubled[name][0]
        else:
            conn_sig = conn_names[name]
        if conn_sig.is_index != meta_sig.is_index:
            removed(conn_sig)
            added(meta_sig)
        elif meta_sig.is_index:
            if _indexes_differ(meta_sig, conn_sig, dialect, tname):
                changed(conn_sig, meta_sig)
        elif _uniques_differ(meta_sig, conn_sig, dialect):
            changed(conn_sig, meta_sig)

    for new_name in sorted(
        (n for n in metadata_names if n not in conn_names), key=lambda n: (n is None, n or "")
    ):
        added(metadata_names[new_name])

    for unnamed, sig in unnamed_meta_uqs.items():
        if unnamed not in conn_uqs_by_sig:
            added(sig)

    return PriorityDispatchResult.CONTINUE


def _correct_uq_duplicates_uix(
    conn_uqs: list[Any],
    conn_ixs: list[Any],
    meta_uqs: Sequence[UniqueConstraint],
    meta_ixs: Sequence[Index],
    dialect: Dialect,
) -> tuple[list[Any], list[Any]]:
    """MySQL reports each unique constraint twice, as a constraint and as a unique index:
    keep whichever of the two the model declares."""
    meta_uq_names: set[str] = set()
    unnamed_meta: set[tuple[str, ...]] = set()
    for uq in meta_uqs:
        name = final_name(uq, dialect)
        if name is None:
            unnamed_meta.add(tuple(sorted(c.name for c in uq.columns)))
        else:
            meta_uq_names.add(name)
    meta_unique_ix_names = {final_name(ix, dialect) for ix in meta_ixs if ix.unique}
    drop_uqs: set[str] = set()
    drop_ixs: set[str] = set()
    for uq in conn_uqs:
        if not uq.get("duplicates_index"):
            continue
        name = uq["name"]
        if name not in meta_uq_names:
            if tuple(sorted(uq["column_names"])) not in unnamed_meta:
                drop_uqs.add(name)
        elif name not in meta_unique_ix_names:
            drop_ixs.add(name)
    return (
        [uq for uq in conn_uqs if not (uq.get("duplicates_index") and uq["name"] in drop_uqs)],
        [ix for ix in conn_ixs if not (ix["unique"] and ix["name"] in drop_ixs)],
    )


def _correct_mysql_fk_indexes(
    record: ReflectedTable, conn_ixs: list[Any], meta_ixs: list[Index]
) -> tuple[list[Any], list[Index]]:
    """MySQL creates an index for every foreign key, named after the constraint or its first
    column; it is neither reported as removed nor, when the model declares the same name,
    compared."""
    fk_names_by_col: dict[str, set[str]] = {}
    for fk in record.foreign_keys:
        fk_name = fk.get("name")
        if fk_name:
            for c in fk["constrained_columns"]:
                fk_names_by_col.setdefault(c, set()).add(fk_name)
    implicit: set[str] = set()
    for ix in conn_ixs:
        if ix["unique"]:
            continue
        name = ix["name"]
        for col in ix["column_names"]:
            if col is not None and (name == col or name in fk_names_by_col.get(col, ())):
                implicit.add(name)
                break
    if not implicit:
        return conn_ixs, meta_ixs
    return (
        [ix for ix in conn_ixs if ix["unique"] or ix["name"] not in implicit],
        [ix for ix in meta_ixs if ix.name not in implicit],
    )


# ------------------------------------------------------------------------ foreign keys


def _norm_action(action: str | None) -> str | None:
    if not action:
        return None
    action = action.lower()
    return None if action == "no action" else action


def _deferral(deferrable: Any, initially: Any) -> str:
    if initially and str(initially).lower() == "deferred":
        return "initially_deferrable"
    return "deferrable" if deferrable else "not deferrable"


class _FkSig:
    __slots__ = ("key", "name", "no_options", "obj", "ondelete", "onupdate", "options", "record")

    def __init__(
        self,
        name: str | None,
        no_options: tuple[Any, ...],
        onupdate: str | None,
        ondelete: str | None,
        deferral: str,
        obj: Any = None,
        record: Any = None,
    ) -> None:
        self.name = name
        self.no_options = no_options
        self.onupdate = onupdate
        self.ondelete = ondelete
        self.options = (_norm_action(onupdate), _norm_action(ondelete), deferral)
        self.obj = obj
        self.record = record

    @property
    def full(self) -> tuple[Any, ...]:
        return self.no_options + self.options


def _meta_fk_sig(
    fk: ForeignKeyConstraint, schema: str | None, tname: str, default_schema: str | None
) -> _FkSig:
    target_schema: str | None
    try:
        target = fk.elements[0].column.table
        target_schema, target_table = target.schema, target.name
        target_cols = tuple(e.column.name for e in fk.elements)
    except Exception:
        # the referred table is not in the model: take the names as written
        tokens = [e._column_tokens for e in fk.elements]
        target_schema, target_table = tokens[0][0], tokens[0][1]
        target_cols = tuple(str(t[2]) for t in tokens)
    if target_schema == default_schema:
        target_schema = None
    cols = (
        tuple(fk.columns[k].name for k in fk.column_keys) if fk.columns else tuple(fk.column_keys)
    )
    return _FkSig(
        _name_str(fk.name),
        (schema, tname, cols, target_schema, target_table, target_cols),
        fk.onupdate,
        fk.ondelete,
        _deferral(fk.deferrable, fk.initially),
        obj=fk,
    )


def _conn_fk_sig(fk: Any, schema: str | None, tname: str, default_schema: str | None) -> _FkSig:
    options = fk.get("options") or {}
    target_schema = fk.get("referred_schema")
    if target_schema == default_schema:
        target_schema = None
    return _FkSig(
        fk.get("name"),
        (
            schema,
            tname,
            tuple(fk["constrained_columns"]),
            target_schema,
            fk["referred_table"],
            tuple(fk["referred_columns"]),
        ),
        options.get("onupdate"),
        options.get("ondelete"),
        _deferral(options.get("deferrable"), options.get("initially")),
        record=fk,
    )


def _pairs(fk: Any) -> list[tuple[str, str]]:
    return list(zip(fk["constrained_columns"], fk["referred_columns"], strict=False))


def conn_foreign_key(sig: _FkSig, table: Table, ac: AutogenContext) -> ForeignKeyConstraint:
    """The reflected foreign key as a constraint on the reflected table; the referred table
    is built from its record when it was read, or as a placeholder with the needed columns."""
    fk = sig.record
    referred_schema = fk.get("referred_schema")
    referred = fk["referred_table"]
    metadata: MetaData = table.metadata
    key = f"{referred_schema}.{referred}" if referred_schema else referred
    if key not in metadata.tables:
        reflected = ac.reflected.tables if ac.reflected is not None else {}
        rec = reflected.get((referred_schema, referred))
        if rec is None and referred_schema == ac.dialect.default_schema_name:
            rec = reflected.get((None, referred))
        if rec is not None and rec.schema == referred_schema:
            build_table(rec, metadata)
        else:
            Table(
                referred,
                metadata,
                *[Column(remote, table.c[local].type) for local, remote in _pairs(fk)],
                schema=referred_schema,
                info={"schema_lsp_placeholder": True},
            )
    else:
        placeholder = metadata.tables[key]
        if placeholder.info.get("schema_lsp_placeholder"):
            for local, remote in _pairs(fk):
                if remote not in placeholder.c:
                    placeholder.append_column(Column(remote, table.c[local].type))
    options = fk.get("options") or {}
    const = ForeignKeyConstraint(
        [table.c[c] for c in fk["constrained_columns"]],
        [f"{key}.{c}" for c in fk["referred_columns"]],
        onupdate=sig.onupdate,
        ondelete=sig.ondelete,
        deferrable=options.get("deferrable"),
        initially=options.get("initially"),
        name=reflected_name(fk.get("name")),
    )
    table.append_constraint(const)
    return const


def _create_fk_op(fk: ForeignKeyConstraint, sig: _FkSig) -> ops.CreateForeignKeyOp:
    """``CreateForeignKeyOp.from_constraint``, also for a foreign key whose target table is
    not in the model (Alembic raises there): the target is taken as written."""
    try:
        return ops.CreateForeignKeyOp.from_constraint(fk)
    except exc.NoReferencedTableError:
        pass
    kw: dict[str, Any] = {}
    for attr in ("onupdate", "ondelete", "initially", "deferrable", "use_alter", "match"):
        value = getattr(fk, attr)
        if value:
            kw[attr] = value
    source_cols, target_table, target_cols = sig.no_options[2], sig.no_options[4], sig.no_options[5]
    table = fk.table
    kw["source_schema"] = table.schema
    kw["referent_schema"] = fk.elements[0]._column_tokens[0]
    kw.update(fk.dialect_kwargs)
    return ops.CreateForeignKeyOp(
        _name_str(fk.name), table.name, target_table, list(source_cols), list(target_cols), **kw
    )


@builtin_comparators.dispatch_for("table", subgroup="foreignkeys")
@builtin
def compare_foreign_keys(
    autogen_context: AutogenContext,
    modify_ops: ops.ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Any,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    ac = autogen_context
    record = conn_table_record(conn_table)
    if record is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE  # created/dropped with the table
    meta_fks = metadata_table.foreign_key_constraints
    conn_records = _name_filtered(ac, record.foreign_keys, "foreign_key_constraint", tname, schema)
    if not meta_fks and not conn_records:
        return PriorityDispatchResult.CONTINUE

    default_schema = ac.dialect.default_schema_name
    meta_sigs = [_meta_fk_sig(fk, schema, tname, default_schema) for fk in meta_fks]
    conn_sigs = [_conn_fk_sig(fk, schema, tname, default_schema) for fk in conn_records]

    if ac.dialect.name in _MYSQL:
        # MySQL doesn't report RESTRICT, its default: take an explicit RESTRICT in the model
        # as what the database has.
        meta_by_cols = {s.no_options: s for s in meta_sigs}
        for s in conn_sigs:
            m = meta_by_cols.get(s.no_options)
            if m is None:
                continue
            upd = s.onupdate
            dele = s.ondelete
            if upd is None and m.onupdate and m.onupdate.lower() == "restrict":
                upd = "RESTRICT"
            if dele is None and m.ondelete and m.ondelete.lower() == "restrict":
                dele = "RESTRICT"
            if (upd, dele) != (s.onupdate, s.ondelete):
                s.onupdate, s.ondelete = upd, dele
                s.options = (_norm_action(upd), _norm_action(dele), s.options[2])

    with_options = bool(conn_records) and "options" in conn_records[0]

    def key(s: _FkSig) -> tuple[Any, ...]:
        return s.full if with_options else s.no_options

    conn_by_sig = {key(s): s for s in conn_sigs}
    meta_by_sig = {key(s): s for s in meta_sigs}
    meta_by_name = {s.name: s for s in meta_sigs if s.name is not None}
    conn_by_name = {s.name: s for s in conn_sigs if s.name is not None}
    table: list[Table] = []

    def conn_obj(s: _FkSig) -> Any:
        if s.obj is None:
            if not table:
                assert isinstance(conn_table, Deferred)
                table.append(conn_table.value)
            s.obj = conn_foreign_key(s, table[0], ac)
        return s.obj

    def order(sigs: Iterable[tuple[Any, ...]], by_sig: dict[Any, _FkSig]) -> list[Any]:
        # Alembic walks a set here; we sort by name, then columns, to be deterministic.
        return sorted(sigs, key=lambda k: (by_sig[k].name is None, by_sig[k].name or "", repr(k)))

    drops: list[ops.MigrateOperation] = []
    for sig_key in order((k for k in conn_by_sig if k not in meta_by_sig), conn_by_sig):
        s = conn_by_sig[sig_key]
        compare_to = meta_by_name[s.name].obj if s.name in meta_by_name else None
        obj = conn_obj(s)
        if ac.run_object_filters(obj, s.name, "foreign_key_constraint", True, compare_to):
            drops.append(ops.DropConstraintOp.from_constraint(obj))
            if ac.dialect.name in _MYSQL:
                drops.extend(drop_implicit_index(obj, record, metadata_table))
    if ac.dialect.name in _MYSQL:
        insert_before_index_drops(modify_ops, drops)
    else:
        modify_ops.ops.extend(drops)

    for sig_key in order((k for k in meta_by_sig if k not in conn_by_sig), meta_by_sig):
        s = meta_by_sig[sig_key]
        compare_to = conn_obj(conn_by_name[s.name]) if s.name in conn_by_name else None
        if ac.run_object_filters(s.obj, s.name, "foreign_key_constraint", False, compare_to):
            create = _create_fk_op(s.obj, s)
            mark_implicit_index(create, s.obj, ac.dialect.name)
            modify_ops.ops.append(create)

    return PriorityDispatchResult.CONTINUE


# ------------------------------------------------------------------------ primary keys


@builtin_comparators.dispatch_for("table", subgroup="primarykey")
@builtin
def compare_primary_key(
    autogen_context: AutogenContext,
    modify_ops: ops.ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Any,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    """Alembic never reports a changed primary key; we report a drop of the old one and a
    create of the new one (columns compared in order, names ignored: MySQL calls every
    primary key PRIMARY and SQLite reports none)."""
    ac = autogen_context
    record = conn_table_record(conn_table)
    if record is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE
    conn_pk: Any = record.primary_key or {}
    conn_cols = tuple(conn_pk.get("constrained_columns") or ())
    meta_pk = metadata_table.primary_key
    meta_cols = tuple(c.name for c in meta_pk.columns)
    if conn_cols == meta_cols:
        return PriorityDispatchResult.CONTINUE
    if conn_cols:
        assert isinstance(conn_table, Deferred)
        table: Table = conn_table.value
        old: PrimaryKeyConstraint = table.primary_key  # built from the reflected record
        old.name = reflected_name(old.name)
        compare_to = meta_pk if meta_cols else None
        if ac.run_object_filters(old, old.name, "primary_key", True, compare_to):
            modify_ops.ops.append(ops.DropConstraintOp.from_constraint(old))
    if meta_cols and ac.run_object_filters(meta_pk, meta_pk.name, "primary_key", False, None):
        modify_ops.ops.append(ops.CreatePrimaryKeyOp.from_constraint(meta_pk))
    return PriorityDispatchResult.CONTINUE
