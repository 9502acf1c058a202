"""Turning reflected records into SQLAlchemy ``Column``/``Table`` objects, only on demand.

Alembic's public diff tuples and plugin signatures carry SQLAlchemy objects for the database
side (``('remove_column', schema, table, Column)``). Building them is the expensive part of
reflection, so the engine compares records and builds objects only for what it reports or
for plugins that ask.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    DefaultClause,
    ForeignKeyConstraint,
    Identity,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine.interfaces import ReflectedColumn

from .model import ReflectedTable


def server_default_of(col: ReflectedColumn) -> Any:
    """The ``server_default`` SQLAlchemy reflection would give this column."""
    computed = col.get("computed")
    if computed is not None:
        return Computed(computed["sqltext"], persisted=computed.get("persisted"))
    identity = col.get("identity")
    if identity is not None:
        return Identity(**identity)
    default = col.get("default")
    if default is not None:
        return DefaultClause(text(default), _reflected=True)
    return None


def is_serial_default(col: ReflectedColumn, table: str) -> bool:
    """PostgreSQL's ``SERIAL``: ``nextval('<table>_<column>_seq'::regclass)`` on an
    autoincrement column. The sequence belongs to the column and goes with the table, so a
    re-created table must say ``autoincrement`` (SERIAL again), not name the gone sequence.
    (Alembic asks the server who owns the sequence, one query per column; the name the
    server gives owned sequences tells the same without a query.)"""
    default = col.get("default")
    if not default or col.get("autoincrement") is not True:
        return False
    match = _NEXTVAL.fullmatch(default)
    return match is not None and match.group(1) == f"{table}_{col['name']}_seq"


_NEXTVAL = re.compile(r"""nextval\('(?:"?[^'".]+"?\.)?"?([^'"]+)"?'::regclass\)""")


def build_column(col: ReflectedColumn, table: str | None = None) -> Column[Any]:
    """A detached ``Column`` equal to what ``Table(..., autoload_with=...)`` would hold
    (``table``: the name of the table it belongs to, which tells SERIAL defaults)."""
    kw: dict[str, Any] = {
        "nullable": col["nullable"],
        "comment": col.get("comment"),
    }
    if "autoincrement" in col:
        kw["autoincrement"] = col["autoincrement"]
    default = None if table and is_serial_default(col, table) else server_default_of(col)
    args: list[Any] = []
    if default is not None:
        args.append(default)
    dialect_options = col.get("dialect_options") or {}
    kw.update(dialect_options)
    return Column(col["name"], col["type"], *args, **kw)


def build_table(reflected: ReflectedTable, metadata: MetaData | None = None) -> Table:
    """A ``Table`` with columns, keys, indexes and comment, as reflection would build it."""
    metadata = metadata if metadata is not None else MetaData()
    key = f"{reflected.schema}.{reflected.name}" if reflected.schema else reflected.name
    if key in metadata.tables:
        return metadata.tables[key]
    items: list[Any] = [build_column(c, reflected.name) for c in reflected.columns]
    pk = reflected.primary_key
    if pk and pk.get("constrained_columns"):
        items.append(PrimaryKeyConstraint(*pk["constrained_columns"], name=pk.get("name")))
    for fk in reflected.foreign_keys:
        referred = fk["referred_table"]
        if fk.get("referred_schema"):
            referred = f"{fk['referred_schema']}.{referred}"
        options = {k: v for k, v in (fk.get("options") or {}).items() if v is not None}
        items.append(
            ForeignKeyConstraint(
                fk["constrained_columns"],
                [f"{referred}.{c}" for c in fk["referred_columns"]],
                name=fk.get("name"),
                **options,
            )
        )
    for uq in reflected.unique_constraints:
        if uq.get("duplicates_index"):
            continue  # MySQL: the unique index stands for it, built below (as reflection does)
        items.append(UniqueConstraint(*uq["column_names"], name=uq.get("name")))
    for ck in reflected.check_constraints:
        items.append(CheckConstraint(text(ck["sqltext"]), name=ck.get("name")))
    table = Table(
        reflected.name,
        metadata,
        *items,
        schema=reflected.schema,
        comment=reflected.comment,
        **{k: v for k, v in reflected.options.items() if "_" in k},
    )
    for ix in reflected.indexes:
        if ix.get("duplicates_constraint"):
            continue
        exprs: list[Any] = []
        expressions = ix.get("expressions")
        for i, cname in enumerate(ix["column_names"]):
            if cname is None:
                exprs.append(text(expressions[i]) if expressions else None)
            else:
                exprs.append(table.c[cname])
        if any(e is None for e in exprs):
            continue
        Index(
            ix.get("name"),
            *exprs,
            unique=bool(ix.get("unique")),
            **(ix.get("dialect_options") or {}),
        )
    return table
