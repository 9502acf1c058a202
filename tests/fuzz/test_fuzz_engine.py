"""Random model/database pairs: the comparison never raises, a no-op pair is clean, and the
rendered upgrade, run by Alembic's runtime, converges to no drift.

Schemas are plain data (``TableSpec``) built into ``MetaData``: tables with columns of
varied types, nullability, server defaults, indexes, uniques and foreign keys to earlier
tables; a mutation produces the "models" side. Type changes stay within what the backend
can cast on an empty table (PostgreSQL refuses e.g. VARCHAR -> INTEGER without USING).
Reproducible in CI: ``derandomize=True``; bounded by ``max_examples``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext as AlembicMigrationContext
from alembic.operations import Operations
from databases import make_engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report import Report
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine

from schema_lsp.autogenerate import compare_metadata, produce_migrations, render_python_code
from schema_lsp.runtime.migration import MigrationContext

EXAMPLES = 20
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OPTS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}
CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
}

# type key -> (SQLAlchemy type, a server default for it or None)
TYPES: dict[str, tuple[Any, str | None]] = {
    "int": (sa.Integer(), "7"),
    "bigint": (sa.BigInteger(), "42"),
    "smallint": (sa.SmallInteger(), "0"),
    "str20": (sa.String(20), "'abc'"),
    "str80": (sa.String(80), "'x y'"),
    "text": (sa.Text(), None),
    "bool": (sa.Boolean(), None),
    "numeric": (sa.Numeric(10, 2), "1.50"),
    "date": (sa.Date(), None),
    "datetime": (sa.DateTime(), None),
    "float": (sa.Float(), None),
}
# Changes PostgreSQL can apply to an empty table without USING.
WIDENINGS: dict[str, tuple[str, ...]] = {
    "int": ("bigint", "smallint", "numeric"),
    "bigint": ("int",),
    "smallint": ("int",),
    "str20": ("str80", "text"),
    "str80": ("str20", "text"),
    "text": ("str80",),
    "numeric": ("int", "float"),
    "float": ("numeric",),
    "date": ("datetime",),
    "datetime": ("date",),
    "bool": (),
}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    nullable: bool = True
    default: bool = False
    index: bool = False
    unique: bool = False
    fk: str | None = None  # referenced table (its "id")


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[ColumnSpec, ...] = field(default_factory=tuple)


def build(tables: list[TableSpec]) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=CONVENTION)
    for table in tables:
        cols: list[Any] = [sa.Column("id", sa.Integer, primary_key=True)]
        for c in table.columns:
            type_, default = TYPES[c.type]
            args: list[Any] = [c.name, type_]
            if c.fk is not None:
                args = [c.name, sa.Integer(), sa.ForeignKey(f"{c.fk}.id")]
            kwargs: dict[str, Any] = {"nullable": c.nullable, "index": c.index or None}
            if c.unique:
                kwargs["unique"] = True
            if c.default and default is not None and c.fk is None:
                kwargs["server_default"] = sa.text(default)
            cols.append(sa.Column(*args, **kwargs))
        sa.Table(table.name, metadata, *cols)
    return metadata


names = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])


@st.composite
def column_specs(draw: st.DrawFn, earlier: list[str]) -> ColumnSpec:
    fk: str | None = None
    wants_fk: bool = draw(st.booleans())
    if earlier and wants_fk:
        fk = draw(st.sampled_from(earlier))
    type_key = "int" if fk else draw(st.sampled_from(sorted(TYPES)))
    indexable = type_key not in ("text",)
    index = indexable and draw(st.booleans())
    return ColumnSpec(
        name="",
        type=type_key,
        nullable=draw(st.booleans()),
        default=draw(st.booleans()),
        index=index,
        unique=indexable and not index and draw(st.integers(0, 3)) == 0,
        fk=fk,
    )


@st.composite
def schemas(draw: st.DrawFn) -> list[TableSpec]:
    tables: list[TableSpec] = []
    for t in range(draw(st.integers(1, 4))):
        earlier = [x.name for x in tables]
        column_names = draw(st.lists(names, min_size=0, max_size=5, unique=True))
        columns = tuple(
            replace(draw(column_specs(earlier)), name=name) for name in column_names
        )
        tables.append(TableSpec(f"t{t}", columns))
    return tables


@st.composite
def mutated(draw: st.DrawFn, tables: list[TableSpec]) -> list[TableSpec]:
    """A copy of ``tables`` with 1-4 random edits (models moved on from the database)."""
    out = list(tables)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ["add_table", "drop_table", "add_col", "drop_col", "type", "null", "default",
                 "index", "unique"]
            )
        )
        if kind == "add_table" or not out:
            earlier = [t.name for t in out]
            new_columns = tuple(
                replace(draw(column_specs(earlier)), name=n)
                for n in draw(st.lists(names, max_size=3, unique=True))
            )
            used = {t.name for t in out}
            name = next(f"t{i}" for i in itertools.count() if f"t{i}" not in used)
            out.append(TableSpec(name, new_columns))
            continue
        i = draw(st.integers(0, len(out) - 1))
        table = out[i]
        if kind == "drop_table":
            referenced = any(c.fk == table.name for t in out for c in t.columns)
            if not referenced:
                del out[i]
            continue
        if kind == "add_col" or not table.columns:
            taken = {c.name for c in table.columns}
            free = [n for n in "abcdefghij" if n not in taken]
            if free:
                earlier = [t.name for t in out[:i]]
                col = replace(draw(column_specs(earlier)), name=draw(st.sampled_from(free)))
                out[i] = replace(table, columns=(*table.columns, col))
            continue
        j = draw(st.integers(0, len(table.columns) - 1))
        col = table.columns[j]
        cols = list(table.columns)
        if kind == "drop_col":
            del cols[j]
        elif kind == "type" and col.fk is None and WIDENINGS[col.type]:
            new_type = draw(st.sampled_from(WIDENINGS[col.type]))
            cols[j] = replace(col, type=new_type, unique=col.unique and new_type != "text",
                              index=col.index and new_type != "text")
        elif kind == "null":
            cols[j] = replace(col, nullable=not col.nullable)
        elif kind == "default":
            cols[j] = replace(col, default=not col.default)
        elif kind == "index" and col.type != "text":
            cols[j] = replace(col, index=not col.index, unique=False)
        elif kind == "unique" and col.type != "text":
            cols[j] = replace(col, unique=not col.unique, index=False)
        out[i] = replace(table, columns=tuple(cols))
    return out


pairs = schemas().flatmap(lambda before: st.tuples(st.just(before), mutated(before)))


# -- databases ---------------------------------------------------------------------------------


class Databases:
    """A clean database per example: a new SQLite file, or a recreated PostgreSQL schema."""

    def __init__(self, backend: str, url: URL, tmp_path: Path) -> None:
        self.backend = backend
        self.url = url
        self.tmp_path = tmp_path
        self.counter = itertools.count()
        self.engine: Engine | None = None

    def fresh(self) -> Engine:
        if self.backend == "sqlite":
            if self.engine is not None:
                self.engine.dispose()
            path = self.tmp_path / f"fuzz{next(self.counter)}.db"
            self.engine = sa.create_engine(URL.create("sqlite", database=str(path)))
            return self.engine
        if self.engine is None:
            self.engine = make_engine(self.url)
        with self.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        return self.engine

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


@pytest.fixture
def databases(backend: str, db_url: URL, tmp_path: Path) -> Iterator[Databases]:
    dbs = Databases(backend, db_url, tmp_path)
    try:
        yield dbs
    finally:
        dbs.close()


def drift(engine: Engine, metadata: sa.MetaData) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=OPTS), metadata))


def execute(engine: Engine, code: str) -> None:
    body = "\n".join(line[4:] if line.startswith("    ") else line for line in code.splitlines())
    with engine.begin() as conn:
        op = Operations(AlembicMigrationContext.configure(conn))
        namespace = {"op": op, "sa": sa, "postgresql": postgresql, "sqlite": sqlite}
        exec(compile(body, "<rendered migration>", "exec"), namespace)


# -- properties --------------------------------------------------------------------------------


@pytest.mark.backends("sqlite", "postgresql")
def test_a_schema_compared_with_itself_reports_nothing(
    databases: Databases, backend: str, hardening: Report
) -> None:
    ran = 0

    @FUZZ
    @given(tables=schemas())
    def prop(tables: list[TableSpec]) -> None:
        nonlocal ran
        ran += 1
        engine = databases.fresh()
        metadata = build(tables)
        metadata.create_all(engine)
        assert drift(engine, metadata) == [], tables

    prop()
    hardening.count(f"fuzz: no-op pairs compared ({backend})", ran)
    assert ran >= EXAMPLES // 2


@pytest.mark.backends("sqlite", "postgresql")
def test_the_rendered_upgrade_converges(
    databases: Databases, backend: str, hardening: Report
) -> None:
    ran = drifted = 0

    @FUZZ
    @given(pair=pairs)
    def prop(pair: tuple[list[TableSpec], list[TableSpec]]) -> None:
        nonlocal ran, drifted
        ran += 1
        before, after = pair
        engine = databases.fresh()
        build(before).create_all(engine)
        models = build(after)
        batch = backend == "sqlite"
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts=OPTS)
            script = produce_migrations(context, models)
            assert script.upgrade_ops is not None
            upgrade = render_python_code(
                script.upgrade_ops, render_as_batch=batch, migration_context=context
            )
        if script.upgrade_ops.is_empty():
            return
        drifted += 1
        execute(engine, upgrade)
        assert drift(engine, models) == [], f"{pair}\n{upgrade}"

    prop()
    hardening.count(f"fuzz: model/database pairs migrated and re-compared ({backend})", ran)
    assert ran >= EXAMPLES // 2 and drifted > 0
