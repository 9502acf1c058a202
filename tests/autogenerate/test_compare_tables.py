"""Tables added and removed, their order, table comments, schemas: against Alembic."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schema_lsp.autogenerate import compare_metadata
from schema_lsp.runtime.migration import MigrationContext
from tests.autogenerate.differential import assert_same, build_database, run_both


def _chain(md: sa.MetaData, names: list[str], schema: str | None = None) -> None:
    """Tables where each references the previous one."""
    prev: str | None = None
    for name in names:
        cols: list[Any] = [sa.Column("id", sa.Integer, primary_key=True)]
        if prev:
            target = f"{schema}.{prev}" if schema else prev
            cols.append(sa.Column(f"{prev}_id", sa.Integer, sa.ForeignKey(f"{target}.id")))
        sa.Table(name, md, *cols, schema=schema)
        prev = name


def test_noop_twin(engine: Engine) -> None:
    md = sa.MetaData()
    _chain(md, ["a", "b", "c"])
    build_database(engine, md)
    with engine.connect() as conn:
        result = run_both(conn, md)
    assert result.ours == [] and result.alembic == []


def test_added_tables_in_foreign_key_order(engine: Engine) -> None:
    before = sa.MetaData()
    sa.Table("existing", before, sa.Column("id", sa.Integer, primary_key=True))
    build_database(engine, before)
    after = sa.MetaData()
    sa.Table("existing", after, sa.Column("id", sa.Integer, primary_key=True))
    _chain(after, ["zeta", "alpha", "mid"])
    with engine.connect() as conn:
        result = run_both(conn, after)
    assert_same(result)
    added = [d[1].name for d in result.raw_ours if d[0] == "add_table"]
    assert added == [d[1].name for d in result.raw_alembic if d[0] == "add_table"]
    assert added.index("zeta") < added.index("alpha") < added.index("mid")


def test_removed_tables_in_reverse_dependency_order(engine: Engine) -> None:
    before = sa.MetaData()
    _chain(before, ["root", "child", "grandchild"])
    sa.Table("keep", before, sa.Column("id", sa.Integer, primary_key=True))
    build_database(engine, before)
    after = sa.MetaData()
    sa.Table("keep", after, sa.Column("id", sa.Integer, primary_key=True))
    with engine.connect() as conn:
        result = run_both(conn, after)
        again = compare_metadata(MigrationContext.configure(conn), after)
    assert sorted(map(repr, result.ours)) == sorted(map(repr, result.alembic))
    removed = [d[1].name for d in result.raw_ours if d[0] == "remove_table"]
    assert removed == ["grandchild", "child", "root"]
    assert [d[1].name for d in again if d[0] == "remove_table"] == removed
    # the removed table carries what the downgrade needs to recreate it
    child = next(d[1] for d in result.raw_ours if d[0] == "remove_table" and d[1].name == "child")
    assert {c.name for c in child.columns} == {"id", "root_id"}
    assert len(child.foreign_keys) == 1


def test_columns_added_and_removed(engine: Engine) -> None:
    before = sa.MetaData()
    sa.Table(
        "t",
        before,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("old", sa.String(20)),
        sa.Column("keep", sa.Integer),
    )
    build_database(engine, before)
    after = sa.MetaData()
    sa.Table(
        "t",
        after,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("keep", sa.Integer),
        sa.Column("new", sa.String(30), nullable=False),
    )
    with engine.connect() as conn:
        result = run_both(conn, after)
    assert_same(result)
    assert ("add_column", None, "t", "new") in result.ours
    assert ("remove_column", None, "t", "old") in result.ours


@pytest.mark.backends("postgresql", "mariadb")
def test_table_comments(engine: Engine) -> None:
    before = sa.MetaData()
    sa.Table("a", before, sa.Column("id", sa.Integer, primary_key=True), comment="old")
    sa.Table("b", before, sa.Column("id", sa.Integer, primary_key=True), comment="gone")
    sa.Table("c", before, sa.Column("id", sa.Integer, primary_key=True))
    build_database(engine, before)
    after = sa.MetaData()
    sa.Table("a", after, sa.Column("id", sa.Integer, primary_key=True), comment="new")
    sa.Table("b", after, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("c", after, sa.Column("id", sa.Integer, primary_key=True), comment="added")
    with engine.connect() as conn:
        result = run_both(conn, after)
        noop = run_both(conn, before)
    assert_same(result)
    assert ("add_table_comment", None, "a", "new") in result.ours
    assert ("remove_table_comment", None, "b", None) in result.ours
    assert ("add_table_comment", None, "c", "added") in result.ours
    assert noop.ours == [] and noop.alembic == []


def test_version_table_is_ignored(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('abc')")
    with engine.connect() as conn:
        result = run_both(conn, sa.MetaData())
        heads = MigrationContext.configure(conn).get_current_heads()
    assert result.ours == [] and result.alembic == []
    assert heads == ("abc",)


@pytest.mark.backends("postgresql", "mariadb")
def test_include_schemas(engine: Engine, schema_name: str) -> None:
    before = sa.MetaData()
    sa.Table("home", before, sa.Column("id", sa.Integer, primary_key=True))
    _chain(before, ["s_root", "s_gone"], schema=schema_name)
    build_database(engine, before)
    after = sa.MetaData()
    sa.Table("home", after, sa.Column("id", sa.Integer, primary_key=True))
    _chain(after, ["s_root", "s_new"], schema=schema_name)

    def include_name(name: str | None, type_: str, parent: dict[str, Any]) -> bool:
        return type_ != "schema" or name in (None, schema_name)

    opts = {"include_schemas": True, "include_name": include_name}
    with engine.connect() as conn:
        result = run_both(conn, after, opts)
        noop = run_both(conn, before, opts)
    assert_same(result)
    assert ("add_table", schema_name, "s_new") in result.ours
    assert ("remove_table", schema_name, "s_gone") in result.ours
    assert noop.ours == []


def test_deterministic_between_runs(engine: Engine) -> None:
    before = sa.MetaData()
    for i in range(12):
        sa.Table(
            f"t{i}",
            before,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("v", sa.String(10)),
        )
    build_database(engine, before)
    after = sa.MetaData()
    for i in range(0, 12, 2):
        sa.Table(
            f"t{i}",
            after,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("w", sa.String(10)),
        )
    with engine.connect() as conn:
        runs = [
            [
                repr(d[0] if isinstance(d, tuple) else d[0][0])
                + repr(getattr(d[1], "name", d[1:3]))
                for d in compare_metadata(MigrationContext.configure(conn), after)
            ]
            for _ in range(3)
        ]
    assert runs[0] == runs[1] == runs[2]


def test_remove_order_is_reverse_dependency_then_name(engine: Engine) -> None:
    """``remove-order``: tables nothing left references go first, ties by name, whatever
    the order the database lists them in (Alembic's is a set's)."""
    from tests.autogenerate.differential import DIVERGENCES

    before = sa.MetaData()
    _chain(before, ["alpha", "mid", "leaf"])  # leaf -> mid -> alpha
    for name in ("zeta", "beta", "keep"):
        sa.Table(name, before, sa.Column("id", sa.Integer, primary_key=True))
    build_database(engine, before)
    after = sa.MetaData()
    sa.Table("keep", after, sa.Column("id", sa.Integer, primary_key=True))
    with engine.connect() as conn:
        result = run_both(conn, after)
        runs = [compare_metadata(MigrationContext.configure(conn), after) for _ in range(3)]
    assert_same(result)
    expected = ["beta", "leaf", "zeta", "mid", "alpha"]
    for diffs in (result.raw_ours, *runs):
        assert [d[1].name for d in diffs if d[0] == "remove_table"] == expected
    assert "remove-order" in DIVERGENCES
