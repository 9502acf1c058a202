"""Reading the catalog with SQLAlchemy's batched ``Inspector.get_multi_*`` API.

Works on every dialect SQLAlchemy supports; one call per kind of object for all tables of a
schema, instead of Alembic's per-table ``Table`` reflection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.engine.reflection import Inspector

from .model import ReflectedSchema, ReflectedTable


def read_tables(
    connection: Connection,
    reflected: ReflectedSchema,
    schema: str | None,
    names: Iterable[str],
    *,
    all_tables: bool = False,
) -> None:
    """Fill ``reflected.tables`` for ``names`` of ``schema`` with batched inspector calls.

    ``all_tables`` says ``names`` are all the tables of the schema.
    """
    insp: Inspector = inspect(connection)
    names = list(names)
    if not names:
        return
    # A filter of a thousand names compiles into a thousand bound parameters per query;
    # when every table is wanted, ask for all of them instead.
    kw: dict[str, Any] = {"schema": schema}
    if not all_tables:
        kw["filter_names"] = names
    tables: dict[str, ReflectedTable] = {n: ReflectedTable(schema=schema, name=n) for n in names}

    def fill(attr: str, items: dict[tuple[str | None, str], object]) -> None:
        for (_, tname), value in items.items():
            t = tables.get(tname)
            if t is not None:
                setattr(t, attr, value)

    fill("columns", dict(insp.get_multi_columns(**kw)))
    fill("primary_key", dict(insp.get_multi_pk_constraint(**kw)))
    fill("foreign_keys", dict(insp.get_multi_foreign_keys(**kw)))
    fill("indexes", dict(insp.get_multi_indexes(**kw)))
    fill("unique_constraints", dict(insp.get_multi_unique_constraints(**kw)))
    with contextlib.suppress(NotImplementedError):
        fill("check_constraints", dict(insp.get_multi_check_constraints(**kw)))
    if connection.dialect.supports_comments:
        comments = insp.get_multi_table_comment(**kw)
        for (_, tname), c in comments.items():
            if tname in tables:
                tables[tname].comment = c.get("text")
    try:
        options = insp.get_multi_table_options(**kw)
    except NotImplementedError:
        options = {}
    fill("options", dict(options))
    for t in tables.values():
        reflected.tables[(schema, t.name)] = t
